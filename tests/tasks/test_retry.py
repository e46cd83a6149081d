"""The Prefect retry condition: a task retries on a transient failure of any system, on nothing else.

The condition is called with real Prefect states, as Prefect's engine calls it; no server is needed.
"""

from __future__ import annotations

from typing import Any

import pytest
from prefect.states import Completed, Failed

from jtl_automator.clients.errors import AuthError, RateLimited, TransientError, ValidationFailed
from jtl_automator.notify.errors import EmailRejected, EmailUnavailable, WebhookRejected, WebhookUnavailable
from jtl_automator.sheets import (
    HeaderNotFound,
    SheetAuthError,
    SheetPermissionDenied,
    SheetRateLimited,
    SheetUnavailable,
    SpreadsheetNotFound,
    WorksheetNotFound,
)
from tasks.inbound_verification import sheet_read_inbound_control, sheet_write_statuses
from tasks.retry import retry_transient

SHEET_TASKS = [sheet_read_inbound_control, sheet_write_statuses]


def fires(task: Any, error: Exception) -> bool:
    """What Prefect asks after a failed run: may this task run again?"""
    assert task.retry_condition_fn is not None
    return bool(task.retry_condition_fn(task, None, Failed(data=error)))


@pytest.mark.parametrize("task", SHEET_TASKS, ids=lambda t: t.name)
@pytest.mark.parametrize(
    "error",
    [
        SheetUnavailable("read worksheet 'Inbound Control' -> 503", status=503),
        SheetUnavailable("read worksheet 'Inbound Control': ReadTimeout talking to the Sheets API"),
        SheetRateLimited("read worksheet 'Inbound Control' -> 429: Quota exceeded", status=429),
    ],
    ids=["503", "timeout", "429"],
)
def test_sheet_tasks_retry_a_transient_sheet_error(task: Any, error: Exception) -> None:
    assert task.retries == 2
    assert fires(task, error)


@pytest.mark.parametrize("task", SHEET_TASKS, ids=lambda t: t.name)
@pytest.mark.parametrize(
    "error",
    [
        WorksheetNotFound("Inbound", ["Inbound Control"]),
        HeaderNotFound(["SKU"], "Inbound Control"),
        SheetAuthError("service account 'x@y' could not get a token (RefreshError)"),
        SheetPermissionDenied("-> 403", status=403),
        SpreadsheetNotFound("-> 404", status=404),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.slow
def test_sheet_tasks_do_not_retry_what_a_retry_cannot_fix(task: Any, error: Exception) -> None:
    assert not fires(task, error)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RateLimited("GET /x -> 429"), True),
        (TransientError("GET /x -> 503"), True),
        (EmailUnavailable("SMTP h:25 -> 421", status=421), True),
        (WebhookUnavailable("POST https://h/x -> 503", status=503), True),
        (AuthError("GET /x -> 401"), False),
        (ValidationFailed("POST /x -> 400"), False),
        (EmailRejected("SMTP h:25 -> 550", status=550), False),
        (WebhookRejected("POST https://h/x -> 400", status=400), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_condition_covers_every_systems_transient_errors(error: Exception, expected: bool) -> None:
    assert retry_transient(None, None, Failed(data=error)) is expected


def test_a_completed_state_is_not_retried() -> None:
    assert retry_transient(None, None, Completed(data=1)) is False
