"""Where the replenishment's demand comes from: the order ledger from its first covered day, FFN before it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import pytest

from jtl_automator.clients.ffn.client import Outbounds
from jtl_automator.services import replenishment as svc
from jtl_automator.services.replenishment.reads import DemandSources
from jtl_automator.store import ORDER_LINES_MARK, OrderLine, StateStore, iso
from jtl_automator.transforms.replenishment import DemandParams
from tests.services.test_replenishment_service import NOW, World
from tests.services.test_replenishment_service import world as replenishment_world

world = replenishment_world
WINDOW = DemandParams(start=date(2026, 8, 1), end=date(2026, 10, 29))


def _rows(frame: pd.DataFrame) -> list[tuple[str, str, date, float]]:
    return sorted(
        zip(
            frame["merchant_sku"].astype(str),
            frame["warehouse_id"].astype(str),
            frame["day"].dt.date,
            frame["quantity"],
            strict=True,
        )
    )


def _covered_from(store: StateStore, day: date) -> None:
    """The ledger has every order's lines from ``day`` on (recording began the day before)."""
    store.reset_watermark(ORDER_LINES_MARK, iso(datetime.combine(day - timedelta(days=1), time(9), UTC)))


def _record(store: StateStore, number: str, status: str, *lines: tuple[str, str, date, float]) -> None:
    store.record_orders(
        [
            {
                "order_number": number,
                "status": status,
                "lines": [
                    OrderLine(n, sku, wh, q, day) for n, (sku, wh, day, q) in enumerate(lines, start=1)
                ],
            }
        ],
        event=status,
    )


@pytest.mark.parametrize(
    ("sources", "text"),
    [
        (
            DemandSources(None, 0, 45678),
            "demand: FFN outbounds (45,678 lines); the order ledger has no lines yet",
        ),
        (
            DemandSources(date(2026, 10, 2), 12345, 45678),
            "demand: order ledger from 2026-10-02 (12,345 lines), FFN outbounds before (45,678 lines)",
        ),
        (
            DemandSources(date(2026, 7, 1), 12345, 0, outbounds_read=False),
            "demand: order ledger (12,345 lines), which covers the whole window",
        ),
        (
            DemandSources(date(2026, 10, 30), 0, 45678),
            "demand: FFN outbounds (45,678 lines); the order ledger covers the days from 2026-10-30",
        ),
    ],
)
def test_the_summary_says_where_the_demand_came_from(sources: DemandSources, text: str) -> None:
    assert sources.describe(WINDOW) == text


@pytest.mark.slow
def test_ledger_lines_from_the_cut_off_and_ffn_outbounds_before_it_count_each_order_once(
    world: World,
) -> None:
    params = svc.ReplenishmentRunParams()
    ffn_only = svc.load_inputs(world.ffn, world.wawi, params, now=NOW, store=world.store)
    assert ffn_only.demand == DemandSources(None, 0, len(ffn_only.order_lines))  # an empty ledger: as before
    history = _rows(ffn_only.order_lines)
    days = sorted({day for _, _, day, _ in history})
    cut_off = days[len(days) // 2]
    after = [row for row in history if row[2] >= cut_off]
    assert after and len(after) < len(history)

    # the ledger holds the orders behind the outbounds from the cut-off on (each outbound is one order)
    for n, row in enumerate(after):
        _record(world.store, f"AU-{n}", "shipped", row)
    sku, warehouse = history[0][0], history[0][1]
    _record(world.store, "AU-LEDGER-ONLY", "outbound_created", (sku, warehouse, cut_off, 7.0))
    _record(world.store, "AU-CANCELLED", "cancelled", (sku, warehouse, cut_off, 100.0))
    _record(world.store, "AU-BEFORE", "shipped", (sku, warehouse, cut_off - timedelta(days=1), 100.0))
    _covered_from(world.store, cut_off)

    both = svc.load_inputs(world.ffn, world.wawi, params, now=NOW, store=world.store)
    assert _rows(both.order_lines) == sorted([*history, (sku, warehouse, cut_off, 7.0)])
    assert both.demand == DemandSources(
        cut_off, len(after) + 1, len(history) - len(after), outbounds_read=True
    )
    assert (
        both.counts["outbounds"] == ffn_only.counts["outbounds"]
        and both.counts["ledger_lines"] == len(after) + 1
    )

    result = world.run()
    assert result["demand"] == both.demand.describe(both.window)
    assert result["demand"].startswith(
        f"demand: order ledger from {cut_off.isoformat()} ({len(after) + 1} lines)"
    )
    assert result["demand"] in svc.summary_markdown(result)


@pytest.mark.slow
def test_a_ledger_that_covers_the_whole_window_is_the_only_source(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = svc.ReplenishmentRunParams()
    window = svc.history_window(svc.local_today(NOW), params.history_days)
    sku = next(iter(world.state.data.ffn.stocks.values()))["merchantSku"]
    warehouse = sorted(world.state.data.ffn.warehouses)[0]
    _record(
        world.store, "AU-1", "shipped", (sku, warehouse, window.start, 3.0), (sku, warehouse, window.end, 2.0)
    )
    _record(world.store, "AU-2", "shipped", (sku, warehouse, window.start - timedelta(days=1), 50.0))
    _covered_from(world.store, window.start - timedelta(days=10))

    def not_read(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise AssertionError("the outbound feed is not read when the ledger covers the window")

    monkeypatch.setattr(Outbounds, "updates", not_read)
    inputs = svc.load_inputs(world.ffn, world.wawi, params, now=NOW, store=world.store)
    assert _rows(inputs.order_lines) == [
        (sku, warehouse, window.start, 3.0),
        (sku, warehouse, window.end, 2.0),
    ]
    assert inputs.demand == DemandSources(window.start - timedelta(days=10), 2, 0, outbounds_read=False)
    assert inputs.counts["outbounds"] == 0
