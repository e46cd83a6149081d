"""A run that cannot finish in its time budget hands over cleanly; order processing under latency.

Real clients over HTTP against the sandbox, a real SQLite ledger. The budget cut is made deterministic
either by a budget spent before the import starts, or by a clock the fulfilment reads that jumps past
the deadline after a given number of orders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.sandbox import latency
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.latency_model import ApiLatency, LatencyProfile, safe_client_rate
from jtl_automator.services import order_processing as svc
from jtl_automator.services.ffn_once import outbound_key
from jtl_automator.services.order_processing import fulfilment
from jtl_automator.store import ClaimState
from tests.services.test_order_processing_service import PARAMS, SINCE, World, _world

HANDED_OVER = PARAMS.model_copy(update={"time_budget_seconds": 1e-6})


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


@pytest.mark.slow
def test_a_budget_spent_before_the_line_items_hands_every_order_over(world: World) -> None:
    wawi_orders_before = json.dumps(world.state.data.wawi.sales_orders, sort_keys=True, default=str)
    outbounds_before = world.outbounds_per_number()
    result = world.run(params=HANDED_OVER)
    counts = result["counts"]
    assert counts["deferred"] > 0 and counts["created"] == counts["held"] == counts["failed"] == 0
    assert result["handed_over"]["orders"] == counts["deferred"]
    assert "next run takes them up" in result["handed_over"]["note"]
    assert "Handed over to the next run" in svc.summary_markdown(result)
    assert set(result["stage_seconds"]) >= {"import", "lookups", "plan", "fulfil", "shipping", "watermarks"}
    # nothing half-done: no outbound, no Wawi write, the orders open in the ledger, the watermark kept
    assert world.outbounds_per_number() == outbounds_before
    # no Wawi write (the listing's reads may take a few pages where a strict Wawi caps their size)
    assert json.dumps(world.state.data.wawi.sales_orders, sort_keys=True, default=str) == wawi_orders_before
    assert world.store.get_watermark(svc.WAWI_WATERMARK) is None
    assert world.store.get_watermark(svc.FFN_WATERMARK) is not None  # the feed was read to its end
    open_numbers = {r.order_number for r in world.store.orders_in_status(("imported",))}
    deferred = {o["order_number"] for o in result.get("held", [])}  # held/failed rows only: none here
    assert not deferred and len(open_numbers) >= counts["deferred"] - 1  # one generated order has no number

    finished = world.run()  # the next run takes them up
    assert finished["counts"]["deferred"] == 0 and "handed_over" not in finished
    assert finished["counts"]["created"] == 15 and finished["counts"]["adopted"] == 7
    assert set(world.outbounds_per_number().values()) == {1}
    assert world.store.get_watermark(svc.WAWI_WATERMARK) is not None


class JumpingClock:
    """``time.monotonic`` for the fulfilment: real until ``after`` orders started, then past any deadline."""

    def __init__(self, after: int) -> None:
        self.calls = 0
        self.after = after

    def monotonic(self) -> float:
        self.calls += 1
        return 0.0 if self.calls <= self.after else 1e12


@pytest.mark.slow
def test_a_budget_running_out_mid_chunk_starts_no_further_order_and_releases_its_claims(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = PARAMS.model_copy(update={"workers": 1, "chunk_size": 100, "time_budget_seconds": 3600.0})
    stages = svc.LocalStages(world.wawi, world.ffn, world.store, params, since=SINCE)
    batch = stages.import_orders()
    data = stages.load_lookups(batch)
    plan = stages.plan(batch, data)
    ctx = stages.context(data.hold_reasons)
    ctx.deadline = 1.0
    before = world.outbounds_per_number()
    monkeypatch.setattr(fulfilment, "time", JumpingClock(after=5))
    outcomes = svc.apply_actions(ctx, plan.actions)
    started, deferred = outcomes[:5], [o for o in outcomes if o.outcome == "deferred"]
    assert len(deferred) == len(plan.actions) - 5 and all(o.outcome != "deferred" for o in started)
    assert all(o.reason == fulfilment.NOT_STARTED for o in deferred)
    # the deferred orders: no outbound, no ledger change, no claim left behind
    numbers = [str(a.order_number) for a in plan.actions[5:] if a.order_number]
    after = world.outbounds_per_number()
    assert all(after[n] == before[n] for n in numbers)
    assert sum(after.values()) > sum(before.values())  # the five started ones include creates
    ledger = world.store.orders(numbers)
    assert all(r.status == "imported" for r in ledger.values())
    for number in numbers:
        assert world.store.claim(outbound_key(number), "probe", "probe").state is ClaimState.NEW


def test_finish_keeps_the_wawi_watermark_of_a_run_that_handed_over(world: World) -> None:
    batch = svc.import_orders(world.wawi, world.store, PARAMS, since=SINCE, dry_run=True)
    batch.complete = False
    marks = svc.finish(world.store, batch, "2026-11-25T08:00:00+00:00", dry_run=False)
    assert marks == {svc.FFN_WATERMARK: "2026-11-25T08:00:00+00:00"}
    assert world.store.get_watermark(svc.WAWI_WATERMARK) is None
    batch.complete = True
    assert svc.WAWI_WATERMARK in svc.finish(world.store, batch, None, dry_run=False)


def test_the_default_budget_ends_a_run_before_the_next_schedule() -> None:
    """prefect.yaml runs order processing every 10 minutes; the budget leaves time for the tail."""
    import yaml

    from tests.support.imports import ROOT

    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    orders = next(d for d in deployments if d["name"] == "order-processing")
    assert orders["schedules"][0]["cron"] == "*/10 * * * *"
    assert orders["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    budget = svc.OrderProcessingParams().time_budget_seconds
    assert budget is not None and budget <= 600 - 60  # at least a minute for in-flight orders and shipping


# --- under latency --------------------------------------------------------------------------------

#: A small on-premise Wawi (2 workers, refusing more) and FFN with a fixed window, 25x faster than real.
PROFILE = LatencyProfile(
    name="test-orders",
    wawi=ApiLatency(median_ms=150, sigma=0.8),
    ffn=ApiLatency(median_ms=80, sigma=0.5),
    wawi_onprem_concurrency=2,
    ffn_rate_limit=120,
    ffn_rate_interval_seconds=60,
)
SCALE = 25


@pytest.fixture
def slow_world(tmp_path: Path) -> Iterator[World]:
    """Strict: the Wawi refuses a third request at once (503); FFN answers 429 past 120 per window."""
    config = SandboxConfig.strictest().with_latency(PROFILE, time_scale=SCALE)
    window = config.scaled(PROFILE.ffn_rate_interval_seconds)
    yield from _world(
        tmp_path,
        config,
        ffn_rate_per_second=safe_client_rate(120, window, jitter_seconds=0.3),
        wawi_rate_per_second=500,
        wawi_max_in_flight=2,
    )


@pytest.mark.slow
def test_under_latency_the_run_overlaps_requests_within_every_limit_exactly_once(slow_world: World) -> None:
    result = slow_world.run(params=PARAMS.model_copy(update={"workers": 6}))
    counts = result["counts"]
    assert (counts["created"], counts["adopted"], counts["held"], counts["failed"]) == (15, 7, 2, 0)
    assert set(slow_world.outbounds_per_number().values()) == {1}
    stats = latency.stats(slow_world.state)
    assert stats["wawi"]["refused"] == 0  # never more on the wire than the server's two workers
    assert stats["wawi_workers"]["peak_busy"] == 2  # ... and both kept busy
    assert slow_world.state.runtime["requests"]["by_status"].get("429", 0) == 0
    assert slow_world.ffn.stats.rate_limited == slow_world.wawi.stats.rate_limited == 0
    assert slow_world.wawi.core.in_flight is not None and slow_world.wawi.core.in_flight.peak == 2


@pytest.mark.slow
def test_a_handed_over_order_wawi_then_delivered_by_hand_is_closed_not_left_open(world: World) -> None:
    """Handed over before its lines were read, then shipped by hand in Wawi: the next run closes it.

    Left ``imported`` it would be evaluated by no one and pull every later listing back to its date.
    """
    world.run(params=HANDED_OVER)
    opened = {r.order_number for r in world.store.orders_in_status(("imported",))}
    order = next(o for o in world.orders.values() if o["Number"] in opened)
    for line in world.state.data.wawi.line_items[order["Id"]]:
        line["QuantityDelivered"] = line["Quantity"]  # a person shipped it from the shop floor

    finished = world.run()
    assert finished["counts"]["skipped_delivered"] >= 1
    assert world.store.orders_in_status(("imported",)) == []
    (record,) = world.store.orders_in_status((svc.DELIVERED_ELSEWHERE,))
    assert record.order_number == order["Number"]
    assert world.outbounds_per_number()[order["Number"]] == 0  # never shipped twice
    world.run()  # closed: skipped at the door from now on, and it stays closed
    assert world.store.orders_in_status(("imported",)) == []
    assert [r.order_number for r in world.store.orders_in_status((svc.DELIVERED_ELSEWHERE,))] == [
        order["Number"]
    ]


def test_every_status_order_processing_closes_with_is_closed_for_retention_and_reports() -> None:
    """An order the service will never touch again must not count as open (reports) nor keep its events
    for ever (retention): the store's closed statuses are the service's final ones."""
    from jtl_automator.services.order_processing.params import DELIVERED_ELSEWHERE, SKIP_STATUSES
    from jtl_automator.store.models import CLOSED_ORDER_STATUSES

    assert DELIVERED_ELSEWHERE in CLOSED_ORDER_STATUSES
    assert set(CLOSED_ORDER_STATUSES) == set(SKIP_STATUSES) - {"outbound_created"}
