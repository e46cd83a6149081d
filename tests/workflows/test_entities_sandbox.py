"""Entity reads against the sandbox over real HTTP: bulk listings, the fields each type names, faults.

A recording middleware counts the requests the sandbox served, so "in bulk" is checked as: listings
only (``/items``, ``/stocks``, ``/categories``, ``/manufacturers``), no per-item read unless the
trigger filters by a property or a custom field, and then one per item (or order), cached.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.sandbox import faults
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.fault_engine import FaultProfile, FaultRule
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from jtl_automator.workflows.definition import ENTITY_FIELDS, TagRef
from jtl_automator.workflows.entities import WawiEntitySource

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
PAGE = 25


@dataclass
class World:
    state: Any
    store: StateStore
    wawi: WawiClient
    seen: list[str] = field(default_factory=list)

    def source(self) -> WawiEntitySource:
        return WawiEntitySource(self.wawi, self.store, now=NOW)

    def gets(self, suffix: str) -> list[str]:
        return [r for r in self.seen if r.startswith("GET ") and r.split("?")[0].endswith(suffix)]

    def per_item(self) -> list[str]:
        return [r for r in self.seen if "/v1/items/" in r]


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    config = sandbox_config()
    app = create_app(generate(seed=5, skus=60, orders=5, customers=5), config)
    seen: list[str] = []

    @app.middleware("http")
    async def record(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        # what was served: not the injected faults (5xx, 429) a retry repeats; a 404 is an answer (the
        # strict sandbox's "No fields could be found" for an object without custom field values)
        if response.status_code < 400 or response.status_code == 404:
            query = request.url.query
            seen.append(f"{request.method} {request.url.path}" + (f"?{query}" if query else ""))
        return response

    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, wawi_rate_per_second=500, wawi_page_size=PAGE)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05, wawi_timeout_seconds=2)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        with WawiClient.from_settings(conf) as wawi:
            yield World(app.state.sandbox, store, wawi, seen)
        store.dispose()


def _expected_stock(world: World) -> dict[int, float]:
    out: dict[int, float] = {}
    for row in world.state.data.wawi.stocks:
        held = sum(
            float(row.get(k) or 0)
            for k in ("QuantityLockedForShipment", "QuantityLockedForAvailability", "QuantityInPickingLists")
        )
        out[row["ItemId"]] = out.get(row["ItemId"], 0.0) + max(0.0, float(row["QuantityTotal"]) - held)
    return out


def test_items_are_read_in_bulk_with_exactly_the_fields_the_trigger_offers(world: World) -> None:
    items = world.state.data.wawi.items
    parents = [i for i in items.values() if i.get("SKU") and i.get("ParentItemId") is None]
    found = world.source().entities("item")
    assert sorted(e.key for e in found) == sorted(i["SKU"] for i in parents)
    assert all(set(e.fields) == set(ENTITY_FIELDS["item"]) for e in found)
    stock = _expected_stock(world)
    by_sku = {i["SKU"]: i for i in parents}
    for record in found:
        raw = by_sku[record.key]
        assert record.fields["stock"] == pytest.approx(stock.get(raw["Id"], 0.0))
        assert record.fields["price"] == raw["ItemPriceData"]["SalesPriceNet"]
        assert record.fields["manufacturer"] is not None
        names = {c["Name"] for c in raw["Categories"]}
        assert names <= {t[1].rsplit(" > ", 1)[-1] for t in record.tags if t[0] == "category"}
    # listings at the paging lower bound, no per-item read
    assert len(world.gets("/v1/items")) <= math.ceil(len(items) / PAGE) + 1
    assert world.per_item() == []


def test_property_tags_cost_one_read_per_item_once(world: World) -> None:
    wawi = world.state.data.wawi
    item = next(
        i
        for i in sorted(wawi.items.values(), key=lambda i: i["Id"])
        if i.get("SKU") and not i.get("ParentItemId")
    )
    wawi.properties[901] = {"Id": 901, "Name": "Farbe"}
    wawi.property_values[901] = [{"Id": 9011, "Name": "rot"}, {"Id": 9012, "Name": "grau"}]
    wawi.item_properties[item["Id"]] = [{"PropertyId": 901, "PropertyValueId": 9011}]
    source = world.source()
    found = source.entities("item", tag_kinds={"category", "property"})
    reads = [r for r in world.per_item() if r.endswith("/properties")]
    assert len(reads) == len(found)
    tagged = {e.key for e in found if ("property", "Farbe", "rot") in e.tags}
    assert tagged == {item["SKU"]}
    source.entities("child_item", tag_kinds={"category", "property"})
    source.entities("item", tag_kinds={"category", "property"})
    assert len([r for r in world.per_item() if r.endswith("/properties")]) == len(reads) + len(
        source.entities("child_item")
    )


def test_inventory_items_per_warehouse_and_manufacturers(world: World) -> None:
    source = world.source()
    inventory = source.entities("inventory_item")
    assert inventory and all("@" in e.key for e in inventory)
    assert all(set(e.fields) == set(ENTITY_FIELDS["inventory_item"]) for e in inventory)
    assert all(e.fields["reserved"] >= 0 and e.fields["stock"] <= e.fields["stock_total"] for e in inventory)
    makers = source.entities("manufacturer")
    assert sum(m.fields["item_count"] for m in makers) == sum(
        1 for i in world.state.data.wawi.items.values() if i.get("ManufacturerId")
    )
    assert len(world.gets("/v1/stocks")) <= math.ceil(len(world.state.data.wawi.stocks) / PAGE) + 1
    # an FFN warehouse is named by its FFN id (the Wawi Code), as plans and the order ledger name it
    wawi = world.state.data.wawi
    names = {
        str(w["Id"]): w["Code"] if "Fulfillment" in w["Type"]["Scope"] else str(w["Id"])
        for w in wawi.warehouses.values()
    }
    assert any(name != wid for wid, name in names.items()), "the generated world has an FFN warehouse"
    assert {e.fields["warehouse"] for e in inventory} <= set(names.values())
    assert {e.fields["warehouse"] for e in inventory} & {n for w, n in names.items() if n != w}


def test_custom_field_tags_match_by_value_at_one_read_per_entity_once(world: World) -> None:
    wawi = world.state.data.wawi
    parents = sorted(
        (i for i in wawi.items.values() if i.get("SKU") and not i.get("ParentItemId")), key=lambda i: i["Id"]
    )
    names = {d["CustomFieldId"]: d["Name"] for d in wawi.item_custom_fields.values()}
    seasonal = {
        i["SKU"]
        for i in parents
        for row in wawi.item_custom_field_values.get(i["Id"], [])
        if names[row["CustomFieldId"]] == "Saisonartikel" and row["Value"] is True
    }
    with_status = {
        i["SKU"]
        for i in parents
        for row in wawi.item_custom_field_values.get(i["Id"], [])
        if names[row["CustomFieldId"]] == "Lieferantenstatus"
    }
    assert seasonal and with_status and len(seasonal) < len(parents)
    wanted = TagRef.model_validate({"custom_field": {"name": "Saisonartikel", "value": True}})
    any_status = TagRef.model_validate({"custom_field": {"name": "Lieferantenstatus"}})
    # a row Wawi sends malformed is skipped with its reason, the item's other values still count
    odd = next(i for i in parents if i["SKU"] in seasonal)
    wawi.item_custom_field_values[odd["Id"]] = [*wawi.item_custom_field_values[odd["Id"]], {"Value": "x"}]

    source = world.source()
    source.entities("item")  # categories only: no custom field read
    assert [r for r in world.per_item() if "customfields" in r] == []
    found = source.entities("item", tag_kinds={"category", "custom_field"})
    assert {e.key for e in found if wanted.matches(e.tags)} == seasonal
    assert {e.key for e in found if any_status.matches(e.tags)} == with_status
    assert not TagRef.model_validate({"custom_field": {"name": "Saisonartikel", "value": "nein"}}).matches(
        [t for e in found for t in e.tags]
    )
    reads = [r for r in world.per_item() if r.endswith("/customfields")]
    assert len(reads) == len(found) + 1  # one per item, plus the definitions once
    assert [str(s) for s in source.skipped] == [
        f"GET /items/{odd['Id']}/customfields, row {len(wawi.item_custom_field_values[odd['Id']])}: "
        "CustomFieldId: Field required"
    ]
    # the same evaluation asks again (another workflow, inventory items): nothing read twice
    source.entities("item", tag_kinds={"custom_field"})
    source.entities("inventory_item", tag_kinds={"custom_field"})
    stocked = {e.key.split("@")[0] for e in source.entities("inventory_item")}
    new_ids = {i["Id"] for i in wawi.items.values() if i.get("SKU") in stocked} - {i["Id"] for i in parents}
    assert len([r for r in world.per_item() if r.endswith("/customfields")]) == len(reads) + len(new_ids)


def test_sales_orders_carry_their_custom_field_tags_when_asked(world: World) -> None:
    wawi = world.state.data.wawi
    orders = sorted(wawi.sales_orders.values(), key=lambda o: o["Id"])[:3]
    world.store.record_orders(
        [{"order_number": o["Number"], "wawi_order_id": o["Id"], "status": "imported"} for o in orders],
        event="imported",
    )
    gift = TagRef.model_validate({"custom_field": {"name": "Geschenkverpackung", "value": True}})
    source = world.source()
    plain = source.entities("sales_order")
    assert all(e.tags == () for e in plain)
    assert [r for r in world.seen if r.endswith("/customfields")] == []
    found = source.entities("sales_order", tag_kinds={"custom_field"})
    expected = {
        o["Number"]
        for o in orders
        if {"CustomFieldId": 11, "Value": True} in wawi.sales_order_custom_field_values.get(o["Id"], [])
    }
    assert expected and {e.key for e in found if gift.matches(e.tags)} == expected
    source.entities("sales_order", tag_kinds={"custom_field"})
    per_order = [
        r for r in world.seen if r.endswith("/customfields") and "/salesOrders/customfields" not in r
    ]
    assert len(per_order) == 3  # one per order, once
    assert len(world.gets("/v1/salesOrders/customfields")) == 1


@pytest.mark.parametrize(
    "rules",
    [
        (FaultRule(fault="rate_limit", route="/wawi", limit=3, window_seconds=0.2),),
        (FaultRule(fault="error", route="/wawi", every=2, statuses=(502, 503)),),
        (FaultRule(fault="drop", route="/wawi", every=3),),
        (FaultRule(fault="latency", route="/wawi", every=4, latency_ms=2500),),  # beyond the 2 s timeout
    ],
    ids=["429", "5xx", "dropped", "timeout"],
)
def test_faults_are_retried_and_the_records_are_the_same(world: World, rules: tuple[FaultRule, ...]) -> None:
    clean = {e.key: dict(e.fields) for e in world.source().entities("item")}
    faults.set_profile(world.state, FaultProfile(name="t", rules=rules))
    faulty = {e.key: dict(e.fields) for e in world.source().entities("item")}
    assert faulty == clean
    assert sum(world.state.runtime.fault_counters.values()) > 0


def test_sales_orders_from_the_ledger_with_wawi_fields_and_their_events(world: World) -> None:
    orders = sorted(world.state.data.wawi.sales_orders.values(), key=lambda o: o["Id"])[:2]
    first, second = orders
    world.store.record_orders(
        [{"order_number": o["Number"], "wawi_order_id": o["Id"], "status": "imported"} for o in orders],
        event="imported",
    )
    world.store.record_orders(
        [
            {
                "order_number": first["Number"],
                "status": "held",
                "hold_reason": "address",
                "detail": {"codes": ["ADDRESS_INCOMPLETE"]},
            }
        ],
        event="held",
    )
    source = world.source()
    found = {e.key: e for e in source.entities("sales_order")}
    assert set(found) == {first["Number"], second["Number"]}
    held = found[first["Number"]].fields
    assert set(held) == set(ENTITY_FIELDS["sales_order"])
    assert held["status"] == "held" and held["hold_codes"] == ["ADDRESS_INCOMPLETE"]
    assert held["total_gross"] == first["SalesOrderPaymentDetails"]["TotalGrossAmount"]
    assert held["country"] == first["Shipmentaddress"]["CountryIso"]
    # one GET per order, cached for the source's lifetime
    source.entities("sales_order", keys={first["Number"]})
    assert len([r for r in world.seen if "/salesOrders/" in r]) == 2

    events = source.order_events_after(0)
    assert [(e.order_number, e.event) for e in events] == [
        (first["Number"], "imported"),
        (second["Number"], "imported"),
        (first["Number"], "held"),
    ]
    assert [e.event for e in source.order_events_after(events[1].id, {"held"})] == ["held"]


def test_items_changed_since_lists_only_the_changed_items(world: World) -> None:
    from jtl_automator.clients.wawi.models import ItemUpdate

    before = datetime.now(UTC).replace(microsecond=0)
    items = sorted(world.state.data.wawi.items.values(), key=lambda i: i["Id"])
    target = next(i for i in items if i.get("SKU") and not i.get("ParentItemId"))
    world.wawi.items.update(target["Id"], ItemUpdate(name="Renamed for the trigger"))
    changed = world.source().items_changed_since(before - timedelta(seconds=1))
    skus = [sku for sku, _ in changed]
    assert target["SKU"] in skus and len(skus) < len(items)
    assert all(at.tzinfo is not None for _, at in changed)
