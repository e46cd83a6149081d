"""Failure alerts name what failed, never the data an exception may quote (SQL parameters, addresses)."""

from __future__ import annotations

from prefect.states import Failed

from jtl_automator.clients.errors import AuthError
from tasks.order_processing import failure_summary


def test_a_database_error_is_named_without_its_parameters() -> None:
    error = ValueError(
        "(psycopg2.errors.StringDataRightTruncation) value too long\n[SQL: INSERT INTO order_ledger ...]\n"
        "[parameters: {'order_number': 'AU-1', 'email': 'erika@example.org', 'street': 'Hauptstr. 1'}]"
    )
    summary = failure_summary(Failed(data=error))
    assert summary.startswith("ValueError;") and "erika" not in summary and "INSERT" not in summary


def test_an_api_error_keeps_method_path_and_status() -> None:
    error = AuthError(
        "GET /v1/salesOrders -> 401: key revoked", method="GET", path="/v1/salesOrders", status=401
    )
    assert failure_summary(Failed(data=error)) == (
        "AuthError (GET /v1/salesOrders -> 401); the full error is in the flow run's logs"
    )


def test_a_state_without_an_error_still_gives_a_line() -> None:
    assert "logs" in failure_summary(Failed(message="crashed"))
