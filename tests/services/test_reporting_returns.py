"""The weekly report's return rate from the sandbox's generated world: Wawi over HTTP (ASGI), SQLite.

The ledger is seeded as order processing would have recorded the generated world's fulfilled orders
(their Wawi ids, lines and the moment they shipped), except one order whose return must then be left
out. The figures are recomputed here from the generated objects with plain loops. ``--sandbox strict``
runs the same tests against the strictest sandbox (returns newest first, unlisted filters refused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.reports import parse_period
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import asgi_transport
from jtl_automator.services.reporting import Sources, run_report
from jtl_automator.store import OrderLine, StateStore
from jtl_automator.store.models import OrderEvent
from tests.support.clock import FakeClock, policy_on

NOW = datetime(2026, 11, 16, 6, 30, tzinfo=UTC)  # the generated world's base date: W46 just ended


@dataclass
class World:
    data: SandboxData
    state: Any
    store: StateStore
    wawi: WawiClient
    left_out: int  # the Wawi order the ledger does not know


def _seed(store: StateStore, data: SandboxData, left_out: int) -> None:
    wawi = data.wawi
    updates, shipped = [], []
    for order_id, order in sorted(wawi.sales_orders.items()):
        shipping = order["SalesOrderShippingDetail"]
        if shipping["DeliveryCompleteStatus"] != 2 or order_id == left_out:
            continue
        ordered = datetime.fromisoformat(order["SalesOrderDate"])
        lines = [
            OrderLine(
                n, ln["SKU"], "W1", ln["Quantity"], ordered.date(), ln["SalesPriceNet"] * ln["Quantity"]
            )
            for n, ln in enumerate(wawi.line_items[order_id], start=1)
        ]
        updates.append(
            {
                "order_number": order["Number"],
                "wawi_order_id": order_id,
                "status": "shipped",
                "order_date": ordered,
                "warehouse_id": "W1",
                "lines": lines,
            }
        )
        shipped.append((order["Number"], datetime.fromisoformat(shipping["ShippingDate"])))
    store.record_orders(updates, event="outbound_created")
    with store.session() as s:
        s.add_all(OrderEvent(order_number=number, event="shipped", at=at) for number, at in shipped)


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Callable[..., Any]) -> Iterator[World]:
    data = generate(seed=42, skus=60, orders=400, customers=30)
    app = create_app(data, sandbox_config())
    state = app.state.sandbox
    left_out = min(r["SalesOrderId"] for r in data.wawi.returns.values())
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    _seed(store, data, left_out)
    asgi = asgi_transport(app)
    with httpx.Client(transport=asgi, timeout=30) as http:
        key = SecretStr(state.config.wawi_api_key)
        policy = policy_on(FakeClock())
        wawi = WawiClient(http, "http://sandbox/wawi/api/eazybusiness", key, retry=policy, page_size=10)
        yield World(data, state, store, wawi, left_out)
    asgi.close()  # type: ignore[attr-defined]
    store.dispose()


def expected(world: World, period: str) -> tuple[float, float, float]:
    """(returned units, shipped units, units of returns of the left-out order) in the period, by loops."""
    start, end = parse_period(period).utc_bounds()
    wawi = world.data.wawi
    shipped = 0.0
    for order_id, order in wawi.sales_orders.items():
        when = order["SalesOrderShippingDetail"].get("ShippingDate")
        if when and order_id != world.left_out and start <= datetime.fromisoformat(when) < end:
            shipped += sum(ln["Quantity"] for ln in wawi.line_items[order_id])
    returned = outside = 0.0
    for return_id, header in wawi.returns.items():
        if start <= datetime.fromisoformat(header["ReturnDate"]) < end:
            units = sum(ln["Quantity"] for ln in wawi.return_line_items[return_id])
            if header["SalesOrderId"] == world.left_out:
                outside += units
            else:
                returned += units
    return returned, shipped, outside


def _kpi(summary: dict[str, Any], key: str) -> dict[str, Any]:
    return next(k for k in summary["kpis"] if k["key"] == key)


@pytest.mark.slow
def test_the_generated_world_s_returns_give_the_weekly_return_rate(world: World, tmp_path: Path) -> None:
    returned, shipped, _outside = expected(world, "2026-W46")
    assert returned > 0 and shipped > 0
    sources = Sources(world.store, wawi=world.wawi)
    dry = run_report("weekly", sources, output_dir=tmp_path, dry_run=True, now=NOW)
    assert dry.summary["period"] == "2026-W46" and world.store.kpi_history("weekly") == []
    rate = _kpi(dry.summary, "return_rate")
    assert rate["missing"] is None and rate["value"] == pytest.approx(returned / shipped)
    assert 0.01 < rate["value"] < 0.2  # a plausible share
    reasons = dry.report.table("returns_by_reason").frame
    assert reasons["units"].sum() == pytest.approx(returned)
    assert set(reasons["reason"]) <= {r["Translations"][0]["Name"] for r in world.data.wawi.return_reasons}
    assert dry.report.table("returns_by_sku").frame["returned"].sum() <= returned
    assert tuple(dry.report.table("returns_by_sku").frame.columns) == (
        "sku",
        "name",
        "returned",
        "shipped",
        "rate",
    )

    kept = run_report("weekly", sources, output_dir=tmp_path, now=NOW)
    stored = {(r.kpi, r.dimension): r for r in world.store.kpi_history("weekly")}
    assert stored[("return_rate", "")].value == pytest.approx(returned / shipped)
    assert kept.summary["history_rows"] == len(stored)


@pytest.mark.slow
def test_a_backfill_of_an_earlier_week_reads_its_returns_and_states_the_orders_left_out(
    world: World, tmp_path: Path
) -> None:
    sources = Sources(world.store, wawi=world.wawi)
    found = {}
    for period in ("2026-W45", "2026-W46"):
        returned, shipped, outside = expected(world, period)
        outcome = run_report("weekly", sources, period=period, output_dir=tmp_path, now=NOW)
        rate = _kpi(outcome.summary, "return_rate")
        if shipped:
            assert rate["value"] == pytest.approx(returned / shipped)
        else:
            assert rate["value"] is None and rate["missing"].startswith("no order was shipped")
        noted = [n for n in outcome.report.notes if "does not know as shipped" in n]
        assert bool(noted) == bool(outside)
        found[period] = (returned, shipped, outside)
    assert sum(v[2] for v in found.values()) > 0  # the left-out order's return lies in one of them


@pytest.mark.slow
def test_a_malformed_return_is_left_out_with_a_note_and_wawi_down_leaves_the_rate_missing(
    world: World, tmp_path: Path
) -> None:
    sources = Sources(world.store, wawi=world.wawi)
    returned, shipped, _outside = expected(world, "2026-W46")
    start, end = parse_period("2026-W46").utc_bounds()
    wawi = world.data.wawi
    broken_id = next(
        i
        for i, r in sorted(wawi.returns.items())
        if start <= datetime.fromisoformat(r["ReturnDate"]) < end and r["SalesOrderId"] != world.left_out
    )
    broken = wawi.return_line_items[broken_id][0]
    lost = broken["Quantity"]
    broken["Quantity"] = "zwei"  # a value Wawi would never send: the row is left out, the run goes on
    outcome = run_report("weekly", sources, output_dir=tmp_path, dry_run=True, now=NOW)
    rate = _kpi(outcome.summary, "return_rate")
    assert rate["value"] == pytest.approx((returned - lost) / shipped)
    note = next(n for n in outcome.report.notes if n.startswith("1 rows Wawi sent for returns"))
    assert f"GET /returns/{broken_id}/lineitems, row 1 (Id {broken['Id']}): Quantity: Input should be" in note

    down = FaultProfile(name="down", rules=(FaultRule(fault="error", route="/wawi", statuses=(503,)),))
    set_profile(world.state, down)
    outcome = run_report("weekly", sources, output_dir=tmp_path, dry_run=True, now=NOW)
    rate = _kpi(outcome.summary, "return_rate")
    assert rate["value"] is None and rate["missing"] == "Wawi unreachable (TransientError 503)"
    assert _kpi(outcome.summary, "revenue_net")["value"] is not None  # the rest of the report stands
