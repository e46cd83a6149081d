"""Stock sync without Prefect: the real clients over HTTP against the sandbox, a real SQLite ledger."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.sandbox.wawi import PREFIX as WAWI_PREFIX
from jtl_automator.services import stock_sync as svc
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore


@dataclass
class World:
    state: Any
    store: StateStore
    ffn: FfnClient
    wawi: WawiClient

    @property
    def data(self) -> Any:
        return self.state.data

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return svc.run_stock_sync(self.wawi, self.ffn, self.store, kwargs.pop("params", None), **kwargs)

    def mapping(self) -> dict[str, int]:
        return {w["Code"]: w["Id"] for w in self.data.wawi.warehouses.values() if w.get("Code")}

    def wawi_level(self, sku: str, ffn_warehouse: str) -> float:
        item = next(i for i in self.data.wawi.items.values() if i["SKU"] == sku)
        wid = self.mapping()[ffn_warehouse]
        return sum(
            r["QuantityTotal"]
            for r in self.data.wawi.stocks
            if r["ItemId"] == item["Id"] and r["WarehouseId"] == wid
        )

    def ffn_levels(self) -> dict[tuple[str, str], float]:
        return {
            (row["warehouseId"], stock["merchantSku"]): row["stockLevel"]
            for stock in self.data.ffn.stocks.values()
            for row in stock["warehouses"]
        }

    def in_sync(self) -> bool:
        return all(self.wawi_level(sku, wh) == level for (wh, sku), level in self.ffn_levels().items())

    def ffn_adjust(self, sku: str, warehouse: str, quantity: float) -> None:
        """The fulfiller finds or loses units (the sandbox's test hook), which FFN's feed then shows."""
        jfsku = next(s["jfsku"] for s in self.data.ffn.stocks.values() if s["merchantSku"] == sku)
        response = httpx.post(
            self.base + "/_sandbox/ffn/stocks/adjustments",
            json={"jfsku": jfsku, "warehouseId": warehouse, "quantity": quantity},
        )
        assert response.status_code == 201, response.text

    base: str = ""


def _world(tmp: Path, config: Any) -> Iterator[World]:
    app = create_app(generate(seed=5, skus=60, orders=10, customers=10), config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp / 'state.db'}")
        world = World(
            app.state.sandbox, store, FfnClient.from_settings(conf, store), WawiClient.from_settings(conf)
        )
        world.base = server.base_url
        yield world
        store.dispose()


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


def _first_warehouse(world: World) -> str:
    return sorted(world.data.ffn.warehouses)[0]


def _stocked_sku(world: World, warehouse: str, minimum: float = 5) -> str:
    return sorted(
        sku for (wh, sku), level in world.ffn_levels().items() if wh == warehouse and level >= minimum
    )[0]


# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sandbox_wawi_post_stocks_changes_what_get_stocks_returns(world: World) -> None:
    warehouse = _first_warehouse(world)
    sku = _stocked_sku(world, warehouse)
    item = next(i for i in world.data.wawi.items.values() if i["SKU"] == sku)
    wid = world.mapping()[warehouse]
    before = svc.wawi_level(world.wawi, item["Id"], wid)
    world.wawi.stocks.adjust({"warehouse_id": wid, "item_id": item["Id"], "quantity": 3})
    assert svc.wawi_level(world.wawi, item["Id"], wid) == before + 3


@pytest.mark.slow
def test_full_sync_brings_wawi_to_ffn_levels_and_a_rerun_does_nothing(world: World) -> None:
    assert not world.in_sync()  # the generator drifts about every 25th row
    local = [r for r in world.data.wawi.stocks if r["WarehouseId"] == 1]
    local_before = copy.deepcopy(local)
    result = world.run(full=True)
    assert result["mode"] == "full" and result["outcomes"].get("applied", 0) > 0
    assert set(result["outcomes"]) == {"applied"}
    assert world.in_sync()
    assert local == local_before  # the merchant's own warehouse is not an FFN warehouse: untouched
    again = world.run(full=True)
    assert again["outcomes"] == {} and set(again["decisions"]) <= {"in_sync"}
    assert world.store.get_watermark(svc.WATERMARK) is not None


@pytest.mark.slow
def test_dry_run_reports_the_table_and_changes_nothing(world: World) -> None:
    stocks = copy.deepcopy(world.data.wawi.stocks)
    result = world.run(full=True, dry_run=True)
    assert result["adjustments"] and result["outcomes"] == {}
    deltas = [abs(r["delta"]) for r in result["largest_deltas"]]
    assert deltas == sorted(deltas, reverse=True)
    assert world.data.wawi.stocks == stocks
    assert world.store.get_watermark(svc.WATERMARK) is None
    assert world.store.pending_side_effects(svc.KIND) == []


@pytest.mark.slow
def test_bad_input_is_reported_per_line_and_the_batch_goes_on(world: World) -> None:
    warehouse = _first_warehouse(world)
    stocks = list(world.data.ffn.stocks.values())
    negative, absurd, malformed = stocks[0], stocks[1], stocks[2]
    negative["warehouses"][0]["stockLevel"] = -4
    absurd["warehouses"][0]["stockLevel"] = 5e9
    malformed["warehouses"][0]["stockLevel"] = "viele"
    ghost = copy.deepcopy(stocks[3])
    ghost.update(jfsku="GHOST0001", merchantSku="NOT-IN-WAWI")
    for row in ghost["warehouses"]:
        row.update(jfsku="GHOST0001", merchantSku="NOT-IN-WAWI")
    world.data.ffn.stocks["GHOST0001"] = ghost
    unmanaged = next(i for i in world.data.wawi.items.values() if i["SKU"] == stocks[4]["merchantSku"])
    unmanaged["StorageOptions"]["InventoryManagementActive"] = False
    unmanaged_before = [copy.deepcopy(r) for r in world.data.wawi.stocks if r["ItemId"] == unmanaged["Id"]]
    from jtl_automator.sandbox.ffn.common import mark_changed

    mark_changed(world.state)
    result = world.run(full=True)
    reasons = {(r["merchant_sku"], r["status"]): r["reason"] for r in result["not_touched"]}
    assert "stockLevel is negative" in reasons[(negative["merchantSku"], "invalid_input")]
    assert "above the bound" in reasons[(absurd["merchantSku"], "invalid_input")]
    assert "not a number: 'viele'" in reasons[(malformed["merchantSku"], "invalid_input")]
    assert result["unknown_skus"] == ["NOT-IN-WAWI"]
    assert (stocks[4]["merchantSku"], "no_inventory_management") in reasons
    assert [r for r in world.data.wawi.stocks if r["ItemId"] == unmanaged["Id"]] == unmanaged_before
    assert result["outcomes"].get("applied", 0) > 0 and warehouse


@pytest.mark.slow
def test_lost_answers_are_resolved_by_reading_wawi_again_never_doubled(world: World) -> None:
    """Wawi books every POST /stocks, but the answer is lost (every one of them)."""
    rule = FaultRule(fault="drop", route=f"^{WAWI_PREFIX}/v1/stocks$", methods=("POST",), after_response=True)
    set_profile(world.state, FaultProfile(name="lost-answers", rules=(rule,)))
    result = world.run(full=True)
    assert world.state.runtime["faults"]["drop"] == result["outcomes"]["applied"] > 0
    assert world.in_sync()  # each delta booked exactly once


@pytest.mark.slow
def test_requests_lost_before_wawi_saw_them_are_sent_again(world: World) -> None:
    rule = FaultRule(fault="drop", route=f"^{WAWI_PREFIX}/v1/stocks$", methods=("POST",), every=2)
    set_profile(world.state, FaultProfile(name="lost-requests", rules=(rule,)))
    result = world.run(full=True)
    assert world.state.runtime["faults"]["drop"] > 0 and set(result["outcomes"]) == {"applied"}
    assert world.in_sync()


@pytest.mark.slow
def test_crash_between_the_call_and_the_record_does_not_double(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_complete = world.store.complete

    def crash(key: str, result: Any = None) -> None:
        raise SystemExit("killed after the call, before the record")

    monkeypatch.setattr(world.store, "complete", crash)
    with pytest.raises(SystemExit):
        world.run(full=True)
    monkeypatch.setattr(world.store, "complete", real_complete)
    pending = world.store.pending_side_effects(svc.KIND)
    # The adjustments in flight when it died were booked in Wawi, their records are missing; nothing
    # queued behind them was sent.
    assert 1 <= len(pending) <= svc.StockSyncParams().workers
    world.store.break_lease(svc.LEASE_NAME)  # the crashed run's lease (it would expire by itself)
    result = world.run(full=True)
    assert result["settled_from_earlier_runs"] == {"already_applied": len(pending)}
    assert world.in_sync()
    assert world.store.pending_side_effects(svc.KIND) == []


@pytest.mark.slow
def test_incremental_follows_the_feed_and_moves_the_watermark_after_recording(world: World) -> None:
    world.run(full=True)
    mark = world.store.get_watermark(svc.WATERMARK)
    warehouse = _first_warehouse(world)
    sku = _stocked_sku(world, warehouse)
    level = world.ffn_levels()[(warehouse, sku)]
    world.ffn_adjust(sku, warehouse, -2)
    world.ffn_adjust(sku, warehouse, 5)
    later = datetime.now(UTC) + timedelta(minutes=1)  # a window end the watermark visibly moves to
    result = world.run(now=later)
    assert result["mode"] == "incremental"
    assert result["outcomes"] == {"applied": 1} and result["adjustments"][0]["delta"] == 3
    assert world.wawi_level(sku, warehouse) == level + 3
    assert (world.store.get_watermark(svc.WATERMARK) or "") > (mark or "")
    again = world.run(now=datetime.now(UTC))  # the overlap reads the same changes: nothing more to do
    assert again["outcomes"] == {} and world.wawi_level(sku, warehouse) == level + 3


@pytest.mark.slow
def test_incremental_crash_keeps_the_watermark_and_the_rerun_does_not_double(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.run(full=True)
    mark = world.store.get_watermark(svc.WATERMARK)
    warehouse = _first_warehouse(world)
    sku = _stocked_sku(world, warehouse)
    level = world.ffn_levels()[(warehouse, sku)]
    world.ffn_adjust(sku, warehouse, 4)
    real_complete = world.store.complete
    monkeypatch.setattr(world.store, "complete", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(RuntimeError):
        world.run(now=datetime.now(UTC) + timedelta(minutes=1))
    monkeypatch.setattr(world.store, "complete", real_complete)
    assert world.store.get_watermark(svc.WATERMARK) == mark  # nothing recorded: the mark stays
    assert world.wawi_level(sku, warehouse) == level + 4  # ... although Wawi booked the delta
    world.store.break_lease(svc.LEASE_NAME)
    world.run(now=datetime.now(UTC) + timedelta(minutes=1))
    assert world.wawi_level(sku, warehouse) == level + 4
    assert (world.store.get_watermark(svc.WATERMARK) or "") > (mark or "")


@pytest.mark.slow
def test_a_second_run_while_the_lease_is_held_does_nothing(world: World) -> None:
    assert world.store.acquire_lease(svc.LEASE_NAME, "other-run", timedelta(minutes=5))
    stocks = copy.deepcopy(world.data.wawi.stocks)
    result = world.run(full=True)
    assert "skipped" in result and world.data.wawi.stocks == stocks


def _changed(world: World, count: int) -> list[tuple[str, str, float]]:
    """``count`` SKUs of the first warehouse changed at the fulfiller: (warehouse, SKU, level after)."""
    warehouse = _first_warehouse(world)
    skus = sorted(s for (w, s), level in world.ffn_levels().items() if w == warehouse and level >= 5)
    changed = []
    for n, sku in enumerate(skus[:count], start=1):
        world.ffn_adjust(sku, warehouse, n if n % 2 else -n)
        changed.append((warehouse, sku, world.ffn_levels()[(warehouse, sku)]))
    return changed


@pytest.mark.slow
def test_incremental_adjusts_a_sku_while_another_one_is_still_being_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One slow per-item read (Wawi's long tail) does not hold back the adjustments of the others."""
    world.run(full=True)
    changed = _changed(world, 5)
    slow_sku = changed[0][1]
    slow_item = next(i["Id"] for i in world.data.wawi.items.values() if i["SKU"] == slow_sku)
    read, adjust = world.wawi.stocks.iter_pages, world.wawi.stocks.adjust
    slow_read_ended: list[float] = []
    adjusted: list[tuple[float, int]] = []

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        rows = list(read(*args, **kwargs))
        if kwargs.get("item_id") == slow_item and "warehouse_id" not in kwargs:
            time.sleep(1.5)
            slow_read_ended.append(time.perf_counter())
        return iter(rows)

    def timed_adjust(body: dict[str, Any], **kwargs: Any) -> Any:
        adjusted.append((time.perf_counter(), body["item_id"]))
        return adjust(body, **kwargs)

    monkeypatch.setattr(world.wawi.stocks, "iter_pages", slow_read)
    monkeypatch.setattr(world.wawi.stocks, "adjust", timed_adjust)
    mark = world.store.get_watermark(svc.WATERMARK)
    result = world.run(now=datetime.now(UTC) + timedelta(minutes=1))
    assert result["mode"] == "incremental" and result["outcomes"] == {"applied": len(changed)}
    assert len(slow_read_ended) == 1
    others = [at for at, item in adjusted if item != slow_item]
    assert len(others) == len(changed) - 1 and max(others) < slow_read_ended[0]
    assert next(at for at, item in adjusted if item == slow_item) > slow_read_ended[0]
    assert all(world.wawi_level(sku, wh) == level for wh, sku, level in changed)
    deltas = [abs(r["delta"]) for r in result["adjustments"]]
    assert deltas == sorted(deltas, reverse=True) and len(deltas) == len(changed)
    assert (world.store.get_watermark(svc.WATERMARK) or "") > (mark or "")


@pytest.mark.slow
def test_incremental_holds_answers_for_a_slow_plan_at_most_half_a_second(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loaded machine a plan takes longer, and the hold after it (PLAN_SHARE) grows with it: capped,
    so the answers that came back during a 1.5 s read are adjusted before that read ends."""
    import jtl_automator.services.stock_sync.items as items_module

    world.run(full=True)
    changed = _changed(world, 5)
    slow_item = next(i["Id"] for i in world.data.wawi.items.values() if i["SKU"] == changed[0][1])
    lag = {
        next(i["Id"] for i in world.data.wawi.items.values() if i["SKU"] == sku): 0.1 * n
        for n, (_, sku, _) in enumerate(changed[1:])
    }
    read, adjust, plan = (
        world.wawi.stocks.iter_pages,
        world.wawi.stocks.adjust,
        items_module.plan_stock_adjustments,
    )
    slow_read_ended: list[float] = []
    adjusted: dict[int, float] = {}

    def staggered_read(*args: Any, **kwargs: Any) -> Any:
        rows = list(read(*args, **kwargs))
        if "warehouse_id" not in kwargs:
            if kwargs.get("item_id") == slow_item:
                time.sleep(1.5)
                slow_read_ended.append(time.perf_counter())
            else:
                time.sleep(lag.get(kwargs.get("item_id"), 0.0))  # one answer first, the others after it
        return iter(rows)

    def slow_plan(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.1)  # a loaded machine: without the cap, the next answers would wait 1.9 s
        return plan(*args, **kwargs)

    def timed_adjust(body: dict[str, Any], **kwargs: Any) -> Any:
        adjusted[body["item_id"]] = time.perf_counter()
        return adjust(body, **kwargs)

    monkeypatch.setattr(world.wawi.stocks, "iter_pages", staggered_read)
    monkeypatch.setattr(world.wawi.stocks, "adjust", timed_adjust)
    monkeypatch.setattr(items_module, "plan_stock_adjustments", slow_plan)
    result = world.run(now=datetime.now(UTC) + timedelta(minutes=1))
    assert result["mode"] == "incremental" and result["outcomes"] == {"applied": len(changed)}
    assert all(adjusted[item] < slow_read_ended[0] for item in lag)
    assert all(world.wawi_level(sku, wh) == level for wh, sku, level in changed)


@pytest.mark.slow
def test_incremental_asks_again_for_a_read_that_stalls_among_the_last(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stock read whose first ask stalls (one of Wawi's 10 s answers) is asked for a second time once a
    reader idles; the second answer is used and the SKU adjusted long before the stall ends."""
    world.run(full=True)
    changed = _changed(world, 5)
    slow_item = next(i["Id"] for i in world.data.wawi.items.values() if i["SKU"] == changed[0][1])
    read, adjust = world.wawi.stocks.iter_pages, world.wawi.stocks.adjust
    asks: list[float] = []
    adjusted: dict[int, float] = {}

    def stalling_read(*args: Any, **kwargs: Any) -> Any:
        rows = list(read(*args, **kwargs))
        if kwargs.get("item_id") == slow_item and "warehouse_id" not in kwargs:
            asks.append(time.perf_counter())
            if len(asks) == 1:
                time.sleep(3.0)  # the first ask stalls; a second one is answered at once
        return iter(rows)

    def timed_adjust(body: dict[str, Any], **kwargs: Any) -> Any:
        adjusted[body["item_id"]] = time.perf_counter()
        return adjust(body, **kwargs)

    monkeypatch.setattr(world.wawi.stocks, "iter_pages", stalling_read)
    monkeypatch.setattr(world.wawi.stocks, "adjust", timed_adjust)
    result = world.run(now=datetime.now(UTC) + timedelta(minutes=1))
    assert result["mode"] == "incremental" and result["outcomes"] == {"applied": len(changed)}
    assert len(asks) == 2 and adjusted[slow_item] - asks[0] < 1.5
    assert all(world.wawi_level(sku, wh) == level for wh, sku, level in changed)


@pytest.mark.slow
def test_incremental_plans_what_came_back_in_batches_not_per_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan of one SKU costs about what one of many does: while reads are on the wire the answers wait
    a little and are planned together (at most PLAN_SHARE of the time); the last ones are planned at once,
    and every changed SKU is adjusted."""
    import jtl_automator.services.stock_sync.items as items_module

    world.run(full=True)
    changed = _changed(world, 12)
    order = {
        next(i["Id"] for i in world.data.wawi.items.values() if i["SKU"] == sku): n
        for n, (_, sku, _) in enumerate(changed)
    }
    read, plan = world.wawi.stocks.iter_pages, items_module.plan_stock_adjustments
    planned: list[int] = []

    def spread_read(*args: Any, **kwargs: Any) -> Any:
        rows = list(read(*args, **kwargs))
        if "warehouse_id" not in kwargs:
            time.sleep(0.04 * order.get(kwargs.get("item_id"), 0))  # answers 40 ms apart
        return iter(rows)

    def costly_plan(ffn: Any, wawi: Any, params: Any) -> Any:
        time.sleep(0.02)  # a plan's fixed cost
        planned.append(len(ffn))
        return plan(ffn, wawi, params)

    monkeypatch.setattr(world.wawi.stocks, "iter_pages", spread_read)
    monkeypatch.setattr(items_module, "plan_stock_adjustments", costly_plan)
    result = world.run(now=datetime.now(UTC) + timedelta(minutes=1))
    assert result["mode"] == "incremental" and result["outcomes"] == {"applied": len(changed)}
    assert all(world.wawi_level(sku, wh) == level for wh, sku, level in changed)
    assert 2 <= len(planned) <= 4 < len(changed)  # the first answer, then batches, the last ones at once


@pytest.mark.slow
def test_incremental_dry_run_plans_every_changed_sku_and_writes_nothing(world: World) -> None:
    world.run(full=True)
    changed = _changed(world, 4)
    mark = world.store.get_watermark(svc.WATERMARK)
    stocks = copy.deepcopy(world.data.wawi.stocks)
    result = world.run(now=datetime.now(UTC) + timedelta(minutes=1), dry_run=True)
    assert result["mode"] == "incremental" and result["outcomes"] == {}
    assert {r["merchant_sku"] for r in result["adjustments"]} == {sku for _, sku, _ in changed}
    assert {(r["merchant_sku"], r["target"]) for r in result["adjustments"]} == {
        (sku, level) for _, sku, level in changed
    }
    assert world.data.wawi.stocks == stocks
    assert world.store.get_watermark(svc.WATERMARK) == mark
    assert world.store.pending_side_effects(svc.KIND) == []


@pytest.mark.slow
def test_incremental_read_per_item_or_listed_in_bulk_decides_the_same(world: World) -> None:
    """The pipelined per-item path and the bulk listing (plan once, then apply) plan the same rows."""
    world.run(full=True)
    _changed(world, 6)
    later = datetime.now(UTC) + timedelta(minutes=1)
    per_item = world.run(now=later, dry_run=True)
    bulk = world.run(now=later, dry_run=True, params=svc.StockSyncParams(per_item_reads_max=0))
    for key in ("decisions", "adjustments", "largest_deltas", "not_touched", "unknown_skus", "units_added"):
        assert per_item[key] == bulk[key], key
