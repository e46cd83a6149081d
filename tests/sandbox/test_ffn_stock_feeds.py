"""Stock change log: ``/stocks/updates``, ``/stocks/changes``, ``date`` on the stock reads, and
``referencedWarehouse`` on ``/products`` (issue 8).

Every change the sandbox makes to a stock level (announcement, receipt, reservation, its cancellation,
delivery, adjustment) is logged as a StockChange; the feeds serve that log and ``date`` rolls the current
levels back through it. The scenario runs on a fixed clock so windows and dates can be named exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox import ffn
from jtl_automator.sandbox.app import SandboxState
from tests.support import openapi

API = "/api/v1/merchant"
START = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)


def at(minute: float) -> str:
    """The scenario's clock ``minute`` minutes after 12:00 UTC, as a query value."""
    return (START + timedelta(minutes=minute)).isoformat()


def assert_valid(name: str, instance: Any) -> None:
    found = openapi.problems(openapi.validator("ffn", name, read=True), instance)
    assert not found, f"{name}: " + "; ".join(found)


class Scenario:
    """The app, its state and the ids the stock moves created (see :func:`scenario`)."""

    def __init__(self, client: TestClient, state: SandboxState, auth: dict[str, str]) -> None:
        self.client = client
        self.state = state
        self.auth = auth
        self.ids: dict[str, str] = {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{API}/{path}", params=params, headers=self.auth)


@pytest.fixture
def scenario(ffn_kit: Any) -> Iterator[Scenario]:
    """Minute 0: inbound (announces 10 × product 4, 5 × product 5); 1: 3 × product 4 received;
    2: outbound reserves 1 × product 1 and 2 × product 2; 3: it ships; 4: a second outbound reserves
    1 × product 1; 5: that one is cancelled; 6: the fulfiller finds 2 × product 7 (adjustment)."""
    state = ffn_kit.make_state(ffn_updates_page_size=3)
    clock = [START]
    ffn.runtime(state).clock = lambda: clock[0]
    with TestClient(ffn_kit.make_app(state), base_url="http://sandbox.test") as client:
        run = Scenario(client, state, ffn_kit.bearer(state))

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post(f"{API}/{path}", json=body, headers=run.auth)
            assert response.status_code == 201, response.text
            created: dict[str, Any] = response.json()
            return created

        run.ids["inbound"] = post("inbounds", ffn_kit.inbound_body())["inboundId"]
        clock[0] = START + timedelta(minutes=1)
        ffn.receive_inbound(state, run.ids["inbound"], {ffn_kit.jfsku(4): 3})
        clock[0] = START + timedelta(minutes=2)
        run.ids["shipped"] = post("outbounds", ffn_kit.outbound_body())["outboundId"]
        clock[0] = START + timedelta(minutes=3)
        run.ids["notification"] = ffn.ship_outbound(state, run.ids["shipped"], "0034")[
            "outboundShippingNotificationId"
        ]
        clock[0] = START + timedelta(minutes=4)
        body = ffn_kit.outbound_body("SO-2", items=[{"jfsku": ffn_kit.jfsku(1), "quantity": 1}])
        run.ids["canceled"] = post("outbounds", body)["outboundId"]
        clock[0] = START + timedelta(minutes=5)
        ffn.set_outbound_status(state, run.ids["canceled"], "Canceled")
        clock[0] = START + timedelta(minutes=6)
        ffn.adjust_stock(state, ffn_kit.jfsku(7), ffn_kit.warehouse_a, 2, note="found on shelf")
        clock[0] = START + timedelta(minutes=30)
        yield run


EXPECTED = [  # (changeType, jfsku index, quantity, quantityReserved, quantityAnnounced)
    ("Announcement", 4, 0, 0, 10),
    ("Announcement", 5, 0, 0, 5),
    ("Inbound", 4, 3, 0, -3),
    ("Reservation", 1, 0, 1, 0),
    ("Reservation", 2, 0, 2, 0),
    ("Delivery", 1, -1, -1, 0),
    ("Delivery", 2, -2, -2, 0),
    ("Reservation", 1, 0, 1, 0),
    ("ReservationCanceled", 1, 0, -1, 0),
    ("Adjustment", 7, 2, 0, 0),
]


def summary(changes: list[dict[str, Any]]) -> list[tuple[str, int, Any, Any, Any]]:
    return [
        (
            c["changeType"],
            int(c["stockChangeId"]["jfsku"][4:]),
            c["quantity"],
            c["quantityReserved"],
            c["quantityAnnounced"],
        )
        for c in changes
    ]


# ----------------------------------------------------------------------------------- /stocks/updates
def test_stock_updates_serve_the_change_log_instead_of_product_not_found(scenario: Scenario) -> None:
    first = scenario.get("stocks/updates", fromDate=at(0), toDate=at(60))
    assert first.status_code == 200, first.text
    chunks = [first.json()]
    while chunks[-1]["moreDataAvailable"]:
        chunks.append(scenario.client.get(chunks[-1]["nextChunkUrl"], headers=scenario.auth).json())
    assert [len(c["data"]) for c in chunks] == [3, 3, 3, 1]
    for chunk in chunks:
        assert_valid("RecentStockChangeList", chunk)
    changes = [c for chunk in chunks for c in chunk["data"]]
    assert summary(changes) == EXPECTED
    versions = [c["stockChangeId"]["stockVersion"] for c in changes]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_stock_changes_carry_levels_after_the_change_references_and_current(
    scenario: Scenario, ffn_kit: Any
) -> None:
    changes = scenario.get("stocks/changes", **{"$top": 100}).json()["items"]
    receipt = next(c for c in changes if c["changeType"] == "Inbound")
    row = next(
        r
        for r in scenario.state.data.ffn.stocks[ffn_kit.jfsku(4)]["warehouses"]
        if r["warehouseId"] == ffn_kit.warehouse_a
    )
    assert receipt["stockLevel"] == row["stockLevel"] and receipt["stockLevelAnnounced"] == 7
    assert receipt["inboundItem"] == {"inboundId": scenario.ids["inbound"], "inboundItemId": "1"}
    assert receipt["fulfillerTimestamp"] == receipt["modificationInfo"]["createdAt"]
    delivery = next(c for c in changes if c["changeType"] == "Delivery")
    assert delivery["outboundItem"] == {"outboundId": scenario.ids["shipped"], "outboundItemId": "1"}
    assert (
        delivery["outboundShippingNotificationItem"]["outboundShippingNotificationId"]
        == (scenario.ids["notification"])
    )
    reservation = next(c for c in changes if c["changeType"] == "Reservation")
    assert reservation["fulfillerTimestamp"] is None  # the merchant's own act, not the fulfiller's
    adjustment = changes[-1]
    assert adjustment["note"] == "found on shelf"
    # only the newest change of each product/warehouse is "current"
    announcement_4 = changes[0]
    assert announcement_4["current"] is False and receipt["current"] is True


def test_stock_changes_list_filters_pages_and_conforms(scenario: Scenario, ffn_kit: Any) -> None:
    everything = scenario.get("stocks/changes", **{"$top": 4})
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["count"] == len(EXPECTED) and len(body["items"]) == 4 and body["nextPageLink"]
    assert_valid("PagedStockChangeWithProductResponse", body)
    for change in body["items"]:
        assert_valid("StockChangeWithProduct", change)
    deliveries = scenario.get("stocks/changes", **{"$filter": "changeType eq 'Delivery'"}).json()
    assert [c["changeType"] for c in deliveries["items"]] == ["Delivery", "Delivery"]
    by_outbound = scenario.get(
        "stocks/changes", **{"$filter": f"outboundItem/outboundId eq '{scenario.ids['canceled']}'"}
    ).json()
    assert [c["changeType"] for c in by_outbound["items"]] == ["Reservation", "ReservationCanceled"]
    in_a = scenario.get(f"stocks/changes/{ffn_kit.warehouse_a}").json()
    assert in_a["count"] == len(EXPECTED)
    assert_valid("PagedStockChangeResponse", in_a)
    assert scenario.get(f"stocks/changes/{ffn_kit.warehouse_b}").json()["count"] == 0
    unknown = scenario.get("stocks/changes/FULF04XX-99999-0001")
    assert (
        unknown.status_code == 404 and unknown.json()["errorCode"]["code"] == "Warehouses_WarehouseNotFound"
    )
    # date: the changes recorded up to that moment
    early = scenario.get("stocks/changes", date=at(2.5)).json()
    assert summary(early["items"]) == EXPECTED[:5]


def test_the_feed_window_is_half_open_and_a_bad_date_is_ffns_400(scenario: Scenario) -> None:
    window = scenario.get("stocks/updates", fromDate=at(1), toDate=at(3)).json()
    assert summary(window["data"]) == EXPECTED[2:5]
    bad = scenario.get("stocks/updates", fromDate="yesterday")
    assert bad.status_code == 400 and bad.json()["errorCode"]["code"] == "Shared_ModelValidation"
    assert_valid("ErrorResponse", bad.json())


# ------------------------------------------------------------------------------------------- date
def test_date_on_stocks_rolls_levels_back_through_the_log(scenario: Scenario, ffn_kit: Any) -> None:
    jfsku4 = ffn_kit.jfsku(4)
    now = scenario.get(f"stocks/{jfsku4}").json()
    assert now["stockLevelAnnounced"] == 7
    before_receipt = scenario.get(f"stocks/{jfsku4}", date=at(0.5))
    assert before_receipt.status_code == 200, before_receipt.text
    then = before_receipt.json()
    assert then["stockLevel"] == now["stockLevel"] - 3 and then["stockLevelAnnounced"] == 10
    assert [d["quantityAnnounced"] for d in then["stockAnnouncedDetails"]] == [10]
    assert_valid("Stock", then)
    before_all = scenario.get(f"stocks/{jfsku4}", date=at(-60)).json()
    assert before_all["stockLevelAnnounced"] == 0 and before_all["stockAnnouncedDetails"] == []
    assert scenario.get(f"stocks/{jfsku4}", date=at(60)).json() == now

    jfsku1 = ffn_kit.jfsku(1)
    listed = scenario.get("stocks", date=at(2.5), **{"$top": 100}).json()
    assert_valid("PagedStockResponse", listed)
    stock1 = next(s for s in listed["items"] if s["jfsku"] == jfsku1)
    current1 = scenario.get(f"stocks/{jfsku1}").json()
    assert stock1["stockLevel"] == current1["stockLevel"] + 1 and stock1["stockLevelReserved"] == 1
    assert stock1["warehouses"][0]["stockLevelReserved"] == 1
    assert scenario.state.data.ffn.stocks[jfsku1]["stockLevelReserved"] == 0  # the store is untouched

    rows = scenario.get(f"stocks/warehouse/{ffn_kit.warehouse_a}", date=at(2.5), **{"$top": 100}).json()
    assert_valid("PagedStockInWarehouseResponse", rows)
    assert next(r for r in rows["items"] if r["jfsku"] == jfsku1)["stockLevelReserved"] == 1


@pytest.mark.parametrize("path", ["stocks", "stocks/MERC0000001", "stocks/warehouse/FULF04XX-12345-0001"])
@pytest.mark.slow
def test_a_malformed_date_is_ffns_400(scenario: Scenario, path: str) -> None:
    response = scenario.get(path, date="last tuesday")
    assert response.status_code == 400
    assert response.json()["errorCode"]["code"] == "Shared_ModelValidation"
    assert response.json()["errorMetadata"] == {"date": "last tuesday"}
    assert_valid("ErrorResponse", response.json())


# ------------------------------------------------------------------------------- referencedWarehouse
def test_referenced_warehouse_keeps_the_products_with_stock_rows_there(
    client: TestClient, auth: dict[str, str], ffn_kit: Any
) -> None:
    response = client.get(
        f"{API}/products", params={"referencedWarehouse": ffn_kit.warehouse_b, "$top": 100}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 15
    assert {int(p["jfsku"][4:]) % 2 for p in body["items"]} == {0}  # the conftest world: even ones in B
    assert_valid("PagedProductResponse", body)
    everything = client.get(f"{API}/products", params={"$top": 100}, headers=auth).json()
    assert everything["count"] == 30
    filtered = client.get(
        f"{API}/products",
        params={"referencedWarehouse": ffn_kit.warehouse_b, "$filter": "manufacturer eq 'ACME'"},
        headers=auth,
    ).json()
    assert filtered["count"] == 15  # the even ones are ACME's
    nowhere = client.get(
        f"{API}/products", params={"referencedWarehouse": "FULF04XX-99999-0001"}, headers=auth
    ).json()
    assert nowhere["count"] == 0 and nowhere["items"] == []


def test_referenced_warehouse_follows_new_stock_rows(
    client: TestClient, auth: dict[str, str], ffn_kit: Any
) -> None:
    """An inbound into B gives product 3 (odd, so not in B before) a row there."""
    params = {"referencedWarehouse": ffn_kit.warehouse_b, "$top": 100}
    assert client.get(f"{API}/products", params=params, headers=auth).json()["count"] == 15
    body = ffn_kit.inbound_body(
        "PO-B", warehouseId=ffn_kit.warehouse_b, items=[{"jfsku": ffn_kit.jfsku(3), "quantity": 1}]
    )
    assert client.post(f"{API}/inbounds", json=body, headers=auth).status_code == 201
    assert client.get(f"{API}/products", params=params, headers=auth).json()["count"] == 16


@pytest.mark.parametrize("value", ["B", " ", "x" * 256])
@pytest.mark.slow
def test_a_malformed_referenced_warehouse_is_ffns_400(
    client: TestClient, auth: dict[str, str], value: str
) -> None:
    response = client.get(f"{API}/products", params={"referencedWarehouse": value}, headers=auth)
    assert response.status_code == 400
    assert response.json()["errorCode"]["code"] == "Shared_ModelValidation"
    assert_valid("ErrorResponse", response.json())
