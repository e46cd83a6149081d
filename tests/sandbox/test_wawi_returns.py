"""The Wawi emulator's returns (``/returns``, their line items, reasons and states) against the 1.0 spec.

Both flavours; the paging envelope of the other v1 lists; the spec's filters only; the strict knobs
where the spec is silent (no order, no unlisted filter such as a date, a 404 for a return without lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from tests.sandbox.test_wawi_api import V1
from tests.sandbox.test_wawi_prices import CLOUD, client_for, conforms


def world(config: SandboxConfig | None = None) -> SandboxState:
    return SandboxState(
        data=generate(seed=42, skus=60, orders=200, customers=20), config=config or SandboxConfig()
    )


@pytest.fixture(scope="module")
def lenient() -> SandboxState:
    return world()


@pytest.fixture(params=["onprem", "cloud"])
def api(request: pytest.FixtureRequest, lenient: SandboxState) -> Iterator[tuple[TestClient, str]]:
    with client_for(lenient, request.param) as client:
        yield client, V1 if request.param == "onprem" else CLOUD


def pages(client: TestClient, root: str, size: int, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    number = 1
    while True:
        response = client.get(f"{root}/returns", params={**params, "pageNumber": number, "pageSize": size})
        assert response.status_code == 200, response.text
        body = response.json()
        conforms("PagedListOfReturn", body)
        rows += body["Items"]
        if not body["HasNextPage"]:
            assert body["NextPageNumber"] == body["TotalPages"] and body["TotalItems"] == len(rows)
            return rows
        number = body["NextPageNumber"]


@pytest.mark.slow
def test_returns_page_like_the_other_lists_and_conform(
    api: tuple[TestClient, str], lenient: SandboxState
) -> None:
    client, root = api
    stored = lenient.data.wawi.returns
    assert len(stored) > 3
    rows = pages(client, root, 3)
    assert [r["Id"] for r in rows] == sorted(stored)  # lenient: Id order
    for row in rows:
        conforms("Return", row)
        lines = client.get(f"{root}/returns/{row['Id']}/lineitems").json()
        assert lines == lenient.data.wawi.return_line_items[row["Id"]]
        for line in lines:
            conforms("ReturnLineItem", line)
    assert client.get(f"{root}/returns/{rows[0]['Id']}").json() == rows[0]
    for reason in client.get(f"{root}/returnReasons").json():
        conforms("ReturnReason", reason)
    for state in client.get(f"{root}/returnStates").json():
        conforms("ReturnState", state)


@pytest.mark.slow
def test_the_spec_filters_select_and_an_unknown_return_is_404(
    api: tuple[TestClient, str], lenient: SandboxState
) -> None:
    client, root = api
    first = lenient.data.wawi.returns[1]
    by_order = pages(client, root, 100, salesOrderId=first["SalesOrderId"])
    assert [r["Id"] for r in by_order] == [1]
    assert [r["Id"] for r in pages(client, root, 100, returnNumber=first["Number"])] == [1]
    assert pages(client, root, 100, returnStateId=99) == []
    # lenient: a parameter the spec does not list is ignored (no date filter exists)
    assert len(pages(client, root, 100, returnDateFrom="2030-01-01")) == len(lenient.data.wawi.returns)
    missing = client.get(f"{root}/returns/9999/lineitems")
    assert missing.status_code == 404 and missing.json()["ErrorCode"] == "NotFound"
    assert client.get(f"{root}/returns/9999").status_code == 404
    assert client.get(f"{root}/returns", params={"pageSize": 0}).status_code == 400


@pytest.mark.slow
def test_strict_lists_newest_first_refuses_unlisted_filters_and_404s_a_return_without_lines() -> None:
    state = world(SandboxConfig.strictest())
    with client_for(state) as client:
        ids = [r["Id"] for r in pages(client, V1, 2)]
        assert ids == sorted(state.data.wawi.returns, reverse=True)
        refused = client.get(f"{V1}/returns", params={"returnDateFrom": "2026-11-01", "pageSize": 10})
        assert refused.status_code == 400
        assert set(refused.json()["ValidationErrors"]) == {"returndatefrom"}
        assert client.get(f"{V1}/returns", params={"pageSize": 101}).status_code == 400
        state.data.wawi.return_line_items[ids[0]] = []
        empty = client.get(f"{V1}/returns/{ids[0]}/lineitems")
        assert empty.status_code == 404 and empty.json()["ErrorMessage"] == "No fields could be found."
    lenient = world()
    lenient.data.wawi.return_line_items[1] = []
    with client_for(lenient) as client:
        assert client.get(f"{V1}/returns/1/lineitems").json() == []
