"""SalesOrders.find_by_external_numbers: one listing at the paging bound, or one request per number."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import RetryableError
from jtl_automator.clients.wawi import WawiClient
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import Recorder, json_response

BASE = "http://127.0.0.1:5883/api/eazybusiness"
SINCE = datetime(2026, 12, 1, tzinfo=UTC)


def _orders(n: int) -> list[dict[str, Any]]:
    orders = [{"Id": i, "Number": f"AU{i}", "ExternalNumber": f"B-{i}"} for i in range(1, n + 1)]
    orders.append({"Id": n + 1, "Number": f"AU{n + 1}", "ExternalNumber": "B-2"})  # imported twice
    orders.append({"Id": n + 2, "Number": f"AU{n + 2}", "ExternalNumber": None})  # entered by hand
    return orders


def _server(orders: list[dict[str, Any]]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        rows = orders
        if "externalOrderNumber" in params:
            rows = [o for o in rows if o["ExternalNumber"] == params["externalOrderNumber"]]
        number, size = int(params["pageNumber"]), int(params["pageSize"])
        pages = max(1, math.ceil(len(rows) / size))
        return httpx.Response(
            200,
            json={
                "TotalItems": len(rows),
                "PageNumber": number,
                "PageSize": size,
                "TotalPages": pages,
                "HasNextPage": number < pages,
                "NextPageNumber": min(number + 1, pages),
                "Items": rows[(number - 1) * size : number * size],
            },
        )

    return handler


def _wawi(rec: Recorder, policy: RetryPolicy, page_size: int = 3) -> WawiClient:
    return WawiClient(rec.client(), BASE, SecretStr("k"), retry=policy, page_size=page_size)


def test_a_listing_since_costs_the_paging_bound_whatever_the_count_of_numbers(policy: RetryPolicy) -> None:
    rec = Recorder(_server(_orders(10)))
    found = _wawi(rec, policy).sales_orders.find_by_external_numbers(
        ["B-1", "B-2", "B-9", "NOPE"], created_since=SINCE
    )
    assert len(rec.requests) == math.ceil(12 / 3)
    assert rec.requests[0].url.params["createdSince"] == SINCE.isoformat()
    assert [o["Id"] for o in found["B-2"]] == [2, 11]
    assert [o["Id"] for o in found["B-9"]] == [9] and found["NOPE"] == []


def test_without_since_one_filtered_request_per_number(policy: RetryPolicy) -> None:
    rec = Recorder(_server(_orders(10)))
    found = _wawi(rec, policy).sales_orders.find_by_external_numbers(["B-3", "B-2", "", "NOPE"])
    assert len(rec.requests) == 3  # the empty number is not asked
    assert [r.url.params["externalOrderNumber"] for r in rec.requests] == ["B-2", "B-3", "NOPE"]
    assert [o["Id"] for o in found["B-2"]] == [2, 11] and found["NOPE"] == []


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(json_response(429, headers={"Retry-After": "1"}), id="429"),
        pytest.param(json_response(503), id="5xx"),
        pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
    ],
)
def test_transient_faults_are_retried_by_the_one_policy(policy: RetryPolicy, fault: Any) -> None:
    rec = Recorder(fault, _server(_orders(2)))
    found = _wawi(rec, policy).sales_orders.find_by_external_numbers(["B-1"], created_since=SINCE)
    assert [o["Id"] for o in found["B-1"]] == [1] and len(rec.requests) == 1 + math.ceil(4 / 3)


def test_an_outage_longer_than_the_budget_is_a_retryable_error(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(503))
    with pytest.raises(RetryableError):
        _wawi(rec, policy).sales_orders.find_by_external_numbers(["B-1"], created_since=SINCE)
