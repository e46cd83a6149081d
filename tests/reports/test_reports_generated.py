"""The reports on generated data against a second, independent computation in plain Python.

The generator writes four months of orders (every status, lines with and without amounts and costs,
journal entries at random moments, Berlin day boundaries included) into a state database; the reports
read it through their SQL and pandas path, and every figure is recomputed here from the generated
records with loops, ``zoneinfo`` and a hand-written percentile, sharing no code with the reports.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from jtl_automator.reports import parse_period, report_definition
from jtl_automator.reports.data import ReportParams
from jtl_automator.services.reporting import Sources, read_data
from jtl_automator.store import OrderLine, StateStore
from jtl_automator.store.models import OrderEvent
from tests.reports import frames as f

BERLIN = ZoneInfo("Europe/Berlin")
FIRST, LAST = datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 11, 23, 5, tzinfo=UTC)
WAREHOUSES = ("W1", "W2")
STATUSES = ("shipped",) * 10 + ("outbound_created",) * 4 + ("held",) * 2 + ("failed", "cancelled", "imported")
REASONS = ("ADDRESS_INVALID: street", "PAYMENT_MISSING: prepayment", "STOCK: not enough")


@dataclass
class Order:
    number: str
    ordered: datetime
    status: str
    warehouse: str | None
    reason: str | None
    lines: list[OrderLine] = field(default_factory=list)
    created: datetime | None = None
    shipped: datetime | None = None
    troubled: bool = False


@dataclass
class World:
    orders: list[Order]
    skus: list[str]
    items: dict[str, tuple[str, str | None, float]]  # sku -> (name, category, purchase price or NaN)
    stock: list[tuple[str, str, float, float, float]]


def generate(seed: int) -> World:
    rng = random.Random(seed)
    skus = [f"SKU-{i:03d}" for i in range(80)]
    items = {
        sku: (
            f"Artikel {sku}",
            rng.choice(("Kaffee", "Tee", "Deko", None)),
            rng.choice((math.nan, 1.5, 4.0, 9.99)),
        )
        for sku in skus[:70]
    }
    orders = []
    span = (LAST - FIRST).total_seconds()
    for i in range(1600):
        ordered = FIRST + timedelta(seconds=rng.uniform(0, span))
        if i % 50 == 0:  # right on a Berlin midnight, and just before one
            ordered = datetime.combine(ordered.date(), datetime.min.time(), BERLIN).astimezone(UTC)
            ordered -= timedelta(seconds=i % 100)
        status = rng.choice(STATUSES)
        order = Order(f"N{i:05d}", ordered, status, rng.choice(WAREHOUSES), None)
        if status in ("held", "failed"):
            order.reason, order.warehouse = rng.choice(REASONS), None
        if status in ("shipped", "outbound_created", "cancelled") and rng.random() > 0.03:
            day = ordered.astimezone(UTC).date()
            for position in range(1, rng.randint(1, 4) + 1):
                quantity = float(rng.randint(1, 5))
                net = round(quantity * rng.uniform(2, 60), 4) if rng.random() > 0.04 else None
                gross = round(net * 1.19, 4) if net is not None else None
                cost = (
                    round(quantity * rng.uniform(1, 20), 4)
                    if net is not None and rng.random() > 0.1
                    else None
                )
                sku = rng.choice(skus[:40]) if rng.random() < 0.8 else rng.choice(skus)
                assert order.warehouse is not None
                order.lines.append(OrderLine(position, sku, order.warehouse, quantity, day, net, gross, cost))
        if status in ("shipped", "outbound_created") or (status == "cancelled" and order.lines):
            order.created = ordered + timedelta(hours=rng.uniform(0.05, 40))
            order.troubled = rng.random() < 0.1
        if status == "shipped":
            assert order.created is not None
            order.shipped = order.created + timedelta(hours=rng.uniform(1, 80))
        if status in ("held", "failed"):
            order.troubled = True
        orders.append(order)
    stock = [
        (
            sku,
            wh,
            float(rng.choice((0, 0, 1, 5, 20, 100))),
            float(rng.choice((0, 0, 1))),
            float(rng.choice((0, 1))),
        )
        for sku in skus
        for wh in WAREHOUSES
        if rng.random() < 0.8
    ]
    return World(orders, skus, items, stock)


def seed(store: StateStore, world: World) -> None:
    updates = [
        {
            "order_number": o.number,
            "status": o.status,
            "order_date": o.ordered,
            "warehouse_id": o.warehouse,
            "hold_reason": o.reason,
            **({"lines": o.lines} if o.lines else {}),
        }
        for o in world.orders
    ]
    store.record_orders(updates, event="seeded")
    with store.session() as s:
        for o in world.orders:
            if o.created is not None:
                s.add(OrderEvent(order_number=o.number, event="outbound_created", at=o.created))
            if o.shipped is not None:
                s.add(OrderEvent(order_number=o.number, event="shipped", at=o.shipped))
            if o.troubled:
                s.add(OrderEvent(order_number=o.number, event="held", at=o.ordered + timedelta(minutes=5)))


@pytest.fixture(scope="module", params=[7, 2026])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, StateStore]]:
    generated = generate(request.param)
    store = StateStore(f"sqlite:///{tmp_path_factory.mktemp('generated') / 'state.db'}")
    seed(store, generated)
    yield generated, store
    store.dispose()


# --- the independent computation -------------------------------------------------------------------


def berlin(moment: datetime) -> date:
    return moment.astimezone(BERLIN).date()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * share
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def in_period(moment: datetime | None, first: date, last: date) -> bool:
    return moment is not None and first <= berlin(moment) <= last


def sold(world: World, first: date, last: date) -> list[Order]:
    return [
        o for o in world.orders if in_period(o.ordered, first, last) and o.lines and o.status != "cancelled"
    ]


def items_frame(world: World) -> pd.DataFrame:
    return f.items([(sku, name, category, price) for sku, (name, category, price) in world.items.items()])


def stock_frame(world: World) -> pd.DataFrame:
    return f.stock(world.stock)


# --- the comparisons -------------------------------------------------------------------------------

PARAMS = ReportParams(top_n=20)


@pytest.mark.slow
def test_weekly_figures_agree_with_an_independent_computation(world: tuple[World, StateStore]) -> None:
    generated, store = world
    period = parse_period("2026-W46")
    definition = report_definition("weekly")
    data = read_data(definition, period, PARAMS, Sources(store), as_of=datetime(2026, 11, 23, 6, tzinfo=UTC))
    data.frames.update(stock=stock_frame(generated), items=items_frame(generated))
    data.missing.clear()
    report = definition.build(data, PARAMS)
    first, last = period.start, period.end

    orders = sold(generated, first, last)
    lines = [ln for o in orders for ln in o.lines]
    net = sum(ln.net_amount for ln in lines if ln.net_amount is not None)
    gross = sum(ln.gross_amount for ln in lines if ln.gross_amount is not None)
    value = {k.key: k.value for k in report.kpis}
    assert value["orders"] == len(orders) and value["units"] == sum(ln.quantity for ln in lines)
    assert value["revenue_net"] == pytest.approx(net) and value["revenue_gross"] == pytest.approx(gross)
    assert value["aov_net"] == pytest.approx(net / len(orders))

    by_day: dict[date, float] = defaultdict(float)
    for o in orders:
        by_day[berlin(o.ordered)] += sum(ln.net_amount for ln in o.lines if ln.net_amount is not None)
    days = report.table("sales_by_day").frame
    assert days["net"].tolist() == pytest.approx([by_day[d] for d in period.days])

    per_sku: dict[str, list[float]] = defaultdict(
        lambda: [0.0, 0.0, 0.0, 0.0]
    )  # net, units, costed net, cost
    for ln in lines:
        row = per_sku[ln.sku]
        row[0] += ln.net_amount or 0.0
        row[1] += ln.quantity
        if ln.cost_amount is not None:
            row[2] += ln.net_amount or 0.0
            row[3] += ln.cost_amount
    ranking = sorted(per_sku, key=lambda s: (-per_sku[s][0], s))[:20]
    top = report.table("top_revenue").frame
    assert top["sku"].tolist() == ranking
    assert top["net"].tolist() == pytest.approx([per_sku[s][0] for s in ranking])
    costed = [ln for ln in lines if ln.cost_amount is not None]
    margin = sum((ln.net_amount or 0.0) - ln.cost_amount for ln in costed)  # type: ignore[operator]
    assert value["margin"] == pytest.approx(margin)
    assert value["margin_pct"] == pytest.approx(margin / sum(ln.net_amount or 0.0 for ln in costed))

    by_category: dict[str, float] = defaultdict(float)
    for sku, row in per_sku.items():
        category = generated.items.get(sku, ("", None, math.nan))[1] or "(none)"
        by_category[category] += row[0]
    mix = report.table("category_mix").frame.set_index("category")["net"].to_dict()
    assert mix == pytest.approx(dict(by_category))

    value_by_wh: dict[str, float] = defaultdict(float)
    for sku, wh, level, _reserved, _blocked in generated.stock:
        price = generated.items.get(sku, ("", None, math.nan))[2]
        if level > 0 and not math.isnan(price):
            value_by_wh[wh] += level * price
    stock_rows = report.table("stock_value").frame.set_index("warehouse_id")["value"].to_dict()
    assert stock_rows == pytest.approx({wh: value_by_wh.get(wh, 0.0) for wh in stock_rows})

    # days of cover: 28 days of UTC order days up to the period's end; cancelled orders left out
    window = {last - timedelta(days=n) for n in range(28)}
    demand: dict[tuple[str, str], float] = defaultdict(float)
    for o in generated.orders:
        if o.status == "cancelled":
            continue
        for ln in o.lines:
            if ln.order_day in window:
                demand[(ln.sku, ln.warehouse_id)] += ln.quantity
    buckets: dict[str, int] = defaultdict(int)
    for sku, wh, level, reserved, blocked in generated.stock:
        sellable, per_day = level - reserved - blocked, demand.get((sku, wh), 0.0) / 28
        if sellable <= 0:
            buckets["stock-out"] += 1
        elif per_day <= 0:
            buckets["no demand"] += 1
        else:
            cover = sellable / per_day
            label = next(
                name
                for name, hi in (
                    ("< 7 days", 7),
                    ("7-14 days", 14),
                    ("14-30 days", 30),
                    ("30-60 days", 60),
                    ("60-90 days", 90),
                    (">= 90 days", math.inf),
                )
                if cover < hi
            )
            buckets[label] += 1
    dist = report.table("cover").frame.set_index("bucket")["rows"].to_dict()
    assert {b: n for b, n in dist.items() if n} == dict(buckets)

    # dead stock: stock and no line (not cancelled) in the 90 UTC days up to the period's end
    recent = {last - timedelta(days=n) for n in range(90)}
    sold_recently = {
        (ln.sku, ln.warehouse_id)
        for o in generated.orders
        if o.status != "cancelled"
        for ln in o.lines
        if ln.order_day in recent
    }
    dead = {
        (sku, wh)
        for sku, wh, level, _r, _b in generated.stock
        if level > 0 and (sku, wh) not in sold_recently
    }
    table = report.table("dead_stock").frame
    assert set(zip(table["sku"], table["warehouse_id"], strict=True)) == dead

    # fulfilment: outbounds created and orders shipped in the week, per warehouse, median and p95
    start, end = period.utc_bounds()
    times = report.table("fulfilment_times").frame.set_index("warehouse_id")
    for wh in [*WAREHOUSES, "all"]:
        mine = [o for o in generated.orders if o.created is not None and (wh == "all" or o.warehouse == wh)]
        created = [(o.created - o.ordered).total_seconds() / 3600 for o in mine if start <= o.created < end]  # type: ignore[operator]
        shipped = [
            (o.shipped - o.created).total_seconds() / 3600  # type: ignore[operator]
            for o in mine
            if o.shipped is not None and start <= o.shipped < end
        ]
        assert times.loc[wh, "order_to_outbound_orders"] == len(created)
        assert times.loc[wh, "order_to_outbound_median"] == pytest.approx(percentile(created, 0.5))
        assert times.loc[wh, "order_to_outbound_p95"] == pytest.approx(percentile(created, 0.95))
        assert times.loc[wh, "outbound_to_shipped_p95"] == pytest.approx(percentile(shipped, 0.95))

    placed = [o for o in generated.orders if in_period(o.ordered, first, last)]
    outbound = [o for o in placed if o.status in ("shipped", "outbound_created")]
    decided = len(outbound) + len([o for o in placed if o.status in ("held", "failed")])
    clean = len([o for o in outbound if not o.troubled])
    assert value["first_time_right"] == pytest.approx(clean / decided)


@pytest.mark.slow
def test_daily_figures_agree_with_an_independent_computation(world: tuple[World, StateStore]) -> None:
    generated, store = world
    as_of = datetime(2026, 11, 23, 5, tzinfo=UTC)  # 06:00 in Berlin on the 23rd: the report of the 22nd
    definition = report_definition("daily")
    data = read_data(definition, parse_period("2026-11-22"), PARAMS, Sources(store), as_of=as_of)
    report = definition.build(data, PARAMS)
    value = {k.key: k.value for k in report.kpis}
    day = date(2026, 11, 22)
    assert value["orders_in"] == len([o for o in generated.orders if berlin(o.ordered) == day])
    assert value["outbounds_created"] == len([o for o in generated.orders if in_period(o.created, day, day)])
    assert value["shipped"] == len([o for o in generated.orders if in_period(o.shipped, day, day)])

    held: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in generated.orders:
        if o.status != "held":
            continue
        age = (as_of - o.ordered).total_seconds() / 86400
        bucket = "< 1 day" if age < 1 else "1-3 days" if age < 3 else "3-7 days" if age < 7 else "> 7 days"
        held[(o.reason or "").split(":")[0]][bucket] += 1
    holds = report.table("holds").frame.set_index("reason")
    assert {
        r: {b: n for b, n in row.items() if n and b != "total"} for r, row in holds.to_dict("index").items()
    } == {r: dict(b) for r, b in held.items()}
    cutoff = as_of - timedelta(hours=24)
    late = [o for o in generated.orders if o.status not in ("shipped", "cancelled") and o.ordered < cutoff]
    assert value["backlog_orders"] == len(late)
    assert value["held_orders"] == sum(sum(b.values()) for b in held.values())


def test_the_percentile_of_the_check_is_the_usual_linear_one() -> None:
    assert percentile([1, 2, 3, 10], 0.95) == pytest.approx(8.95)
    assert percentile([5], 0.95) == 5
