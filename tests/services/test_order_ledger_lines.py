"""Order processing records each outbound's order lines in the ledger: ordered units, once per order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jtl_automator.clients.ffn.client import Outbounds
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE
from jtl_automator.services import order_processing as svc
from jtl_automator.services.order_processing.fulfilment import ledger_lines
from jtl_automator.services.order_processing.planning import ItemLine, ordered_items
from jtl_automator.store import ORDER_LINES_MARK, OrderLine, StateStore
from jtl_automator.store.models import OrderLineRow
from jtl_automator.transforms.orders import ITEM_LINE_TYPES, line_items_frame
from tests.services.test_order_processing_service import PARAMS, SINCE, World, _world


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


def _line(position: int, sku: Any, quantity: Any, line_type: int = 1) -> dict[str, Any]:
    return {"Id": 100 + position, "SKU": sku, "Quantity": quantity, "Type": line_type}


def test_the_item_lines_a_ledger_records_are_the_ordered_ones_with_a_sku() -> None:
    lines = line_items_frame(
        {
            1: [
                _line(1, "B", 2.0),
                _line(2, "SHIP", 1.0, line_type=2),
                _line(3, "A", 1.0),
                _line(4, None, 3.0),
            ],
            2: [
                _line(1, "C", 0.0),
                _line(2, "D", -1.0),
                _line(3, "E", None),
                _line(4, " F ", 4.0, line_type=11),
            ],
            3: [_line(1, "G", 1.0)],
        },
        [1, 2],
    )
    assert ordered_items(lines) == {
        1: (ItemLine(1, "B", 2.0), ItemLine(3, "A", 1.0)),
        2: (ItemLine(4, "F", 4.0),),
    }
    assert ordered_items(lines.iloc[0:0]) == {}


def test_ledger_lines_carry_the_outbounds_warehouse_and_the_utc_day_of_the_order() -> None:
    items = (ItemLine(1, "A", 2.0), ItemLine(3, "B", 1.0))
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # already the 21st in Berlin
    action = svc.Action("create", "AU-1", 1, late, items=items, warehouse_id="W1")
    assert ledger_lines(action, "W2") == [
        OrderLine(1, "A", "W2", 2.0, date(2026, 11, 20)),
        OrderLine(3, "B", "W2", 1.0, date(2026, 11, 20)),
    ]
    assert ledger_lines(action, None) is None  # nothing to record, nothing replaced
    undated = svc.Action("adopt", "AU-2", 2, None, items=items)
    before = datetime.now(UTC).date()
    day = ledger_lines(undated, "W1")[0].order_day  # type: ignore[index]
    assert day in {before, datetime.now(UTC).date()}  # the day its outbound is made


# ---------------------------------------------------------------------------- whole runs (sandbox)


def _counts(store: StateStore) -> Counter[str]:
    with store.engine.connect() as conn:
        return Counter(conn.execute(sa.select(OrderLineRow.order_number)).scalars())


def _expected(world: World, number: str, warehouse: str) -> list[OrderLine]:
    """The order's Wawi item lines as ordered (position in the line list, SKU, Quantity), on its UTC day.

    With the line totals after the discount: net, gross, and cost at the line's purchase price.
    """
    order_id, order = next((i, o) for i, o in world.orders.items() if o["Number"] == number)
    day = datetime.fromisoformat(order["SalesOrderDate"]).astimezone(UTC).date()

    def total(line: dict[str, Any], price: str, discounted: bool = True) -> float | None:
        if line.get(price) is None:
            return None
        factor = 1 - (line.get("Discount") or 0) / 100 if discounted else 1
        return round(float(line["Quantity"]) * line[price] * factor, 4)

    return [
        OrderLine(
            n,
            line["SKU"].strip(),
            warehouse,
            float(line["Quantity"]),
            day,
            total(line, "SalesPriceNet"),
            total(line, "SalesPriceGross"),
            total(line, "PurchasePriceNet", discounted=False),
        )
        for n, line in enumerate(world.state.data.wawi.line_items[order_id], start=1)
        if line.get("Type") in (None, *ITEM_LINE_TYPES)
        and (line.get("SKU") or "").strip()
        and line["Quantity"] > 0
    ]


def _assert_lines_of_every_outbound(world: World) -> dict[str, Any]:
    numbers = [o["merchantOutboundNumber"] for o in world.outbounds]
    ledger = world.store.orders(numbers)
    made = {n: r for n, r in ledger.items() if r.status == "outbound_created"}
    for number, record in made.items():
        assert record.warehouse_id is not None
        assert world.store.order_lines_of(number) == _expected(world, number, record.warehouse_id), number
    counts = _counts(world.store)
    assert set(counts) == set(made) and all(counts[n] == len(_expected(world, n, "")) for n in made)
    return made


@pytest.mark.slow
def test_created_and_adopted_orders_have_their_lines_once_also_after_a_rerun(world: World) -> None:
    assert world.store.order_lines_cover_from() is None
    result = world.run()
    assert result["counts"]["created"] == 15 and result["counts"]["adopted"] == 7
    made = _assert_lines_of_every_outbound(world)
    assert len(made) == 22 and world.store.get_watermark(ORDER_LINES_MARK) is not None
    assert _counts(world.store)["AU100008"] == 0  # held: no outbound, no demand yet
    before = _counts(world.store)

    world.run()  # a rerun skips the finished orders: nothing recorded again
    assert _counts(world.store) == before

    # orders whose ledger row lost its status are carried out again (their claims are done): recorded
    # a second time, their lines replaced, not added
    adopted = next(
        n for n, _ in made.items() if ("outbound_created", {"adopted": True}) in _adopted(world, n)
    )
    created = "AU100040"
    world.store.record_orders(
        [{"order_number": n, "status": "imported"} for n in (adopted, created)], event="imported"
    )
    again = world.run()
    assert again["counts"]["created"] == 0 and again["counts"]["adopted"] == 2
    assert _counts(world.store) == before
    _assert_lines_of_every_outbound(world)


def _adopted(world: World, number: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (event, {"adopted": (detail or {}).get("adopted")})
        for event, detail in world.store.order_events(number)
        if event == "outbound_created"
    ]


@pytest.mark.slow
def test_an_order_adopted_after_a_crash_between_post_and_ledger_has_its_lines_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Outbounds.create
    posted: list[str] = []

    def create_then_crash(self: Outbounds, outbound: Any, **kwargs: Any) -> Any:
        created = original(self, outbound, **kwargs)
        posted.append(created.outbound_id)
        raise KeyboardInterrupt("process killed right after the POST")

    monkeypatch.setattr(Outbounds, "create", create_then_crash)
    with pytest.raises(KeyboardInterrupt):
        world.run(params=PARAMS.model_copy(update={"workers": 1, "chunk_size": 100}))
    number = world.state.data.ffn.outbounds[posted[0]]["merchantOutboundNumber"]
    assert _counts(world.store)[number] == 0
    monkeypatch.setattr(Outbounds, "create", original)

    world.run()
    assert ("outbound_created", {"adopted": True}) in _adopted(world, number)
    assert _counts(world.store)[number] == len(_expected(world, number, "")) > 0
    _assert_lines_of_every_outbound(world)


@pytest.mark.slow
def test_a_partly_delivered_order_records_the_ordered_units_and_a_dry_run_records_nothing(
    world: World,
) -> None:
    (sku_a, _), (sku_b, _) = world.skus_in_stock(5)[:2]
    world.add_order(
        "PART-1",
        [
            {"SKU": sku_a, "Quantity": 5.0, "QuantityDelivered": 2.0},
            {"SKU": sku_b, "Quantity": 1.0, "QuantityDelivered": 1.0},
        ],
    )
    world.run(dry_run=True)
    assert _counts(world.store) == Counter() and world.store.order_lines_cover_from() is None

    world.run()
    (outbound,) = [o for o in world.outbounds if o["merchantOutboundNumber"] == "PART-1"]
    assert [(i["merchantSku"], i["quantity"]) for i in outbound["items"]] == [(sku_a, 3)]  # the open rest
    recorded = world.store.order_lines_of("PART-1")
    assert [(line.sku, line.quantity) for line in recorded] == [(sku_a, 5.0), (sku_b, 1.0)]  # as ordered
    assert recorded == _expected(world, "PART-1", outbound["warehouseId"])
    assert recorded[0].order_day == (DEFAULT_BASE_DATE - timedelta(hours=1)).date()
    world.run(since=SINCE)
    assert _counts(world.store)["PART-1"] == 2
