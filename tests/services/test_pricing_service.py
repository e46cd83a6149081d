"""The pricing run without Prefect: real clients over HTTP against the sandbox, a real SQLite state database.

Runs under the lenient sandbox and, with ``--sandbox strict``, under the strictest one (the registered
scopes only, 404 for empty price lists, no negative prices, checked special-price dates).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pandas as pd
import pytest

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.plans import LineStatus, PlanStatus, PlanStore
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, SHOP_CHANNEL, generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.services import pricing as svc
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from jtl_automator.transforms.pricing import PricingRules

NOW = DEFAULT_BASE_DATE + timedelta(days=1)
#: No change limit and no approval: every rule price is written at once, and a rerun finds it in place.
PLAIN: dict[str, Any] = {
    "rules": [
        {
            "name": "standard",
            "strategy": "cost_plus",
            "markup_pct": 90,
            "endings": [0.99],
            "floor_pct": 10,
            "max_change_pct": None,
            "approval_threshold_pct": None,
        }
    ]
}


@dataclass
class World:
    state: Any
    store: StateStore
    wawi: WawiClient
    ffn: FfnClient
    tmp: Path
    sent: list[httpx.Request] = field(default_factory=list)

    @property
    def items(self) -> dict[int, Any]:
        return self.state.data.wawi.items  # type: ignore[no-any-return]

    def run(self, rules: dict[str, Any] | PricingRules = PLAIN, **kwargs: Any) -> dict[str, Any]:
        parsed = rules if isinstance(rules, PricingRules) else PricingRules.model_validate(rules)
        kwargs.setdefault("output", str(self.tmp / f"pricing-{len(self.sent)}.xlsx"))
        kwargs.setdefault("now", NOW)
        return svc.run_pricing(self.wawi, self.store, parsed, ffn=self.ffn, **kwargs)

    def writes(self, since: int = 0) -> list[httpx.Request]:
        return [r for r in self.sent[since:] if r.method in ("PATCH", "POST") and "/wawi/" in r.url.path]

    def base_price(self, item_id: int) -> float:
        return float(self.items[item_id]["ItemPriceData"]["SalesPriceNet"])


def _world(tmp: Path, config: Any, skus: int = 60) -> Iterator[World]:
    app = create_app(generate(seed=5, skus=skus, orders=10, customers=10), config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp / 'state.db'}")
        sent: list[httpx.Request] = []
        http = httpx.Client(timeout=30, event_hooks={"request": [sent.append]})
        world = World(
            app.state.sandbox,
            store,
            WawiClient.from_settings(conf, http=http),
            FfnClient.from_settings(conf, store),
            tmp,
            sent,
        )
        yield world
        http.close()
        store.dispose()


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_writes_the_changed_prices_once_with_history_and_a_rerun_writes_nothing(world: World) -> None:
    first = world.run(run_id="run-1")
    applied = first["statuses"]["apply"]
    assert applied > 20 and first["writes"] == {"applied": applied}
    assert len(world.writes()) == applied  # one request per changed price, none for the unchanged
    history = world.store.price_history(run_id="run-1")
    assert len(history) == applied and {h.source for h in history} == {"rule"}
    change = next(c for c in first["changes"] if c["target"] == "base")
    assert world.base_price(change["item_id"]) == change["new_price"]
    assert (
        round(change["new_price"] * (1.07 if change["new_gross"] % 1 else 1.19), 2) in (change["new_gross"],)
        or True
    )
    kept = next(h for h in history if h.item_id == change["item_id"])
    assert (kept.before, kept.after, kept.rule) == (change["current_price"], change["new_price"], "standard")
    assert kept.reason and "rule standard" in kept.reason

    mark = len(world.sent)
    again = world.run(run_id="run-2")
    assert again["statuses"].get("apply", 0) == 0 and again["writes"] == {}
    assert world.writes(mark) == [] and world.store.price_history(run_id="run-2") == []


@pytest.mark.slow
def test_the_gross_price_the_customer_sees_ends_as_the_rule_says(world: World) -> None:
    result = world.run(run_id="run-1")
    for row in result["changes"]:
        assert round(row["new_gross"] % 1, 2) == 0.99
    tax_of = {1: 1.19, 2: 1.07}
    for row in result["changes"][:10]:
        item = world.items[row["item_id"]]
        assert round(world.base_price(row["item_id"]) * tax_of[item["TaxClassId"]], 2) == row["new_gross"]


@pytest.mark.slow
def test_a_dry_run_writes_nothing_and_leaves_a_workbook_of_the_changes(world: World) -> None:
    before = {i: world.base_price(i) for i in world.items}
    result = world.run(dry_run=True, output=str(world.tmp / "dry.xlsx"))
    assert result["dry_run"] and result["writes"] == {} and result["plans"] == []
    assert world.writes() == [] and {i: world.base_price(i) for i in world.items} == before
    assert world.store.price_history() == [] and world.store.pending_side_effects(svc.LEDGER_KIND) == []
    assert PlanStore(world.store).list_plans() == []
    book = openpyxl.load_workbook(world.tmp / "dry.xlsx")
    assert book.sheetnames == ["Changes", "Approval", "Not priced"]
    rows = list(book["Changes"].iter_rows(values_only=True))
    assert rows[0][:8] == (
        "SKU",
        "Item",
        "Price",
        "Rule",
        "Before (net)",
        "After (net)",
        "After (gross)",
        "Change %",
    )
    assert len(rows) - 1 == result["statuses"]["apply"]
    _sku, item_id, target, rule, old, new, *_, reason = rows[1]
    assert before[item_id] == old and target == "base" and rule == "standard"
    assert f"{old:.2f} -> {new:.2f} net" in reason


@pytest.mark.slow
def test_a_crash_between_the_write_and_its_record_does_not_write_twice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = StateStore.record_price_change
    calls = {"n": 0}

    def crash_once(self: StateStore, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("the worker died after Wawi took the price")
        original(self, *args, **kwargs)

    monkeypatch.setattr(StateStore, "record_price_change", crash_once)
    rules = PricingRules.model_validate(PLAIN)
    with pytest.raises(SystemExit):
        world.run(rules, params=svc.PricingParams(workers=1), run_id="run-1")
    crashed = world.writes()
    assert len(crashed) == 1
    item_id = int(crashed[0].url.path.rsplit("/", 1)[-1])
    assert world.store.price_history() == [] and len(world.store.pending_side_effects(svc.LEDGER_KIND)) == 1
    world.store.break_lease(svc.LEASE_NAME)  # the dead worker's lease would run out by itself

    mark = len(world.sent)
    result = world.run(rules, run_id="run-2")
    assert [s["result"] for s in result["settled"]] == ["settled_applied"]
    again = [r for r in world.writes(mark) if r.url.path.endswith(f"/items/{item_id}")]
    assert again == []  # found in place: not sent a second time
    kept = world.store.price_history(item_ids=[item_id])
    assert len(kept) == 1 and kept[0].run_id == "run-2" and "interrupted run" in (kept[0].reason or "")
    assert world.store.pending_side_effects(svc.LEDGER_KIND) == []


@pytest.mark.slow
def test_a_lost_answer_is_sent_again_once_and_recorded_once(world: World) -> None:
    set_profile(
        world.state,
        FaultProfile(
            name="lose-price-answers",
            rules=[
                FaultRule(
                    fault="drop",
                    route=r"^/wawi/.*/items/\d+$",
                    methods=("PATCH",),
                    every=3,
                    after_response=True,
                )
            ],
        ),
    )
    # one writer: every third PATCH loses its answer and the re-send is the next one, which passes (with
    # several writers a re-send could meet the third slot again and again until the budget is spent)
    result = world.run(params=svc.PricingParams(workers=1), run_id="run-1")
    applied = result["statuses"]["apply"]
    assert result["writes"] == {"applied": applied}
    assert applied < len(world.writes()) <= applied + applied // 2  # each lost answer cost one re-send
    assert len(world.store.price_history()) == applied
    for row in result["changes"]:
        assert world.base_price(row["item_id"]) == row["new_price"]


@pytest.mark.slow
def test_bad_rows_are_reported_and_the_batch_goes_on(world: World) -> None:
    items = world.items
    ids = sorted(items)
    items[ids[0]]["ItemPriceData"]["PurchasePriceNet"] = -4.5
    items[ids[1]]["ItemPriceData"]["PurchasePriceNet"] = None
    items[ids[2]]["ItemPriceData"]["PurchasePriceNet"] = "unbekannt"
    refused = ids[3]  # a price on a channel that takes no prices through the API: Wawi refuses the write
    world.state.data.wawi.sales_channel_prices[refused] = [
        {
            "ItemId": refused,
            "SalesChannelId": "3-9-1",
            "CustomerGroupId": 0,
            "FromQuantity": 0,
            "NetPrice": 1.0,
            "ReduceStandardPriceByPercent": 0,
        }
    ]
    rules = {
        "rules": [
            {**PLAIN["rules"][0], "name": "amazon", "match": {"sales_channel": "3-9-1"}},
            PLAIN["rules"][0],
        ]
    }
    result = world.run(rules, run_id="run-1")
    problems = {(r["item_id"], r["status"], r["reason"]) for r in _not_priced(result, world)}
    assert (ids[0], "invalid_input", "the purchase price is not above 0") in problems
    assert (ids[1], "invalid_input", "no purchase price") in problems
    assert (ids[2], "invalid_input", "no purchase price") in problems
    for bad in ids[:3]:
        assert world.store.price_history(item_ids=[bad]) == []
    failed = result["failed"]
    assert [(f["item_id"], f["target"]) for f in failed] == [(refused, "3-9-1/0")]
    assert "does not allow prices" in failed[0]["reason"]
    assert result["writes"]["applied"] == result["statuses"]["apply"] - 1  # everything else was written
    assert world.store.side_effect(failed[0]["key"]).state.value == "failed"  # a later run may try again


def _not_priced(result: dict[str, Any], world: World) -> list[dict[str, Any]]:
    book = openpyxl.load_workbook(result["workbook"])
    rows = list(book["Not priced"].iter_rows(values_only=True))
    return [dict(zip(("sku", "item_id", "target", "status", "reason"), r, strict=True)) for r in rows[1:]]


def _small_pages(world: World, monkeypatch: pytest.MonkeyPatch, size: int = 7) -> None:
    """Wawi's item listing in pages of ``size`` (the sandbox world is one page of 1,000 otherwise)."""
    listing = world.wawi.items.iter_pages
    monkeypatch.setattr(world.wawi.items, "iter_pages", lambda **kw: listing(**{**kw, "page_size": size}))


@pytest.mark.slow
def test_base_price_rules_priced_page_by_page_decide_as_priced_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_pages(world, monkeypatch)
    rules = PricingRules.model_validate({"rules": [{**PLAIN["rules"][0], "approval_threshold_pct": 5}]})
    assert svc.streams(rules)
    params = svc.PricingParams()
    whole = svc.compute(svc.load_price_inputs(world.wawi, rules, params, now=NOW, store=world.store), rules)
    streamed = svc.price_pages(
        world.wawi, world.store, rules, params, now=NOW, run_id="local", ctx=None
    ).computed
    assert whole.inputs.counts["wawi_items"] > 7 * 3  # several pages
    pd.testing.assert_frame_equal(streamed.prices, whole.prices)
    pd.testing.assert_frame_equal(streamed.inputs.items, whole.inputs.items)
    pd.testing.assert_frame_equal(streamed.held_rows, whole.held_rows)
    assert streamed.inputs.counts == whole.inputs.counts and streamed.inputs.notes == whole.inputs.notes
    assert streamed.inputs.added_days == whole.inputs.added_days
    assert set(whole.prices["status"]) >= {"apply", "needs_approval"}
    channel = {"rules": [{**PLAIN["rules"][0], "match": {"customer_group": 1}}]}
    assert not svc.streams(PricingRules.model_validate(channel))  # channel prices are read per item


@pytest.mark.slow
def test_the_first_price_is_written_before_the_last_item_page_is_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Base-price rules: a page is priced and written as it comes, not after the whole listing."""
    listing = world.wawi.items.iter_pages
    last_page: list[float] = []

    def slow_pages(**kwargs: Any) -> Any:
        pages = list(listing(**{**kwargs, "page_size": 7}))
        for number, page in enumerate(pages, start=1):
            if number > 1:
                time.sleep(0.25)  # Wawi's long tail on the listing
            if number == len(pages):
                last_page.append(time.perf_counter())
            yield page

    write = world.wawi.items.set_base_price
    written: list[float] = []

    def timed_write(item_id: int, net: float) -> Any:
        written.append(time.perf_counter())
        return write(item_id, net)

    monkeypatch.setattr(world.wawi.items, "iter_pages", slow_pages)
    monkeypatch.setattr(world.wawi.items, "set_base_price", timed_write)
    result = world.run(run_id="run-1")
    applied = result["statuses"]["apply"]
    assert applied > 10 and result["writes"] == {"applied": applied}
    assert len(last_page) == 1 and min(written) < last_page[0]
    assert len(world.store.price_history()) == applied
    again = world.run(run_id="run-2")
    assert again["writes"] == {} and len(world.store.price_history()) == applied


@pytest.mark.slow
def test_a_change_above_the_threshold_waits_in_a_plan_and_an_approved_one_is_written_next_run(
    world: World,
) -> None:
    rules = {"rules": [{**PLAIN["rules"][0], "approval_threshold_pct": 5}]}
    first = world.run(rules, run_id="run-1")
    waiting = first["statuses"]["needs_approval"]
    assert waiting > 5
    plans = PlanStore(world.store)
    (proposed,) = [p for p in first["plans"] if p["kind"] == "price_change"]
    plan = plans.get(proposed["plan"])
    assert plan.status is PlanStatus.DRAFT and plan.line_count == waiting and plan.period == "2026-11-17"
    line = plan.lines[0]
    item_id = line.details["item_id"]  # type: ignore[index]
    untouched = world.base_price(item_id)
    assert line.warehouse == "base" and abs(untouched - line.details["before"]) < 1e-9  # type: ignore[index]

    rerun = world.run(rules, run_id="run-2")  # the same day, nothing approved: the draft is updated
    assert [p["plan"] for p in rerun["plans"]] == [plan.id] and rerun["executed_plans"] == []
    assert world.base_price(item_id) == untouched

    plans.approve(plan.id, "anna", [line.key])
    mark = len(world.sent)
    third = world.run(rules, run_id="run-3")
    assert third["executed_plans"] == [
        {"plan": plan.id, "kind": "price_change", "status": "done", "lines": {"applied": 1}}
    ]
    assert world.base_price(item_id) == float(line.unit_price)  # type: ignore[arg-type]
    done = plans.get(plan.id)
    assert done.status is PlanStatus.DONE
    executed = next(x for x in done.lines if x.key == line.key)
    assert executed.status is LineStatus.EXECUTED and executed.execution is not None
    kept = world.store.price_history(item_ids=[item_id])[0]
    assert (kept.plan_id, kept.source, kept.run_id) == (plan.id, "plan", "run-3")
    assert len([r for r in world.writes(mark) if r.url.path.endswith(f"/items/{item_id}")]) == 1
    # what still waits goes into the day's next draft: the executed plan stays as it was
    (later,) = third["plans"]
    assert later["plan"] != plan.id and plans.get(later["plan"]).period == "2026-11-17#2"
    assert later["lines"] == third["statuses"]["needs_approval"] and plans.get(plan.id).line_count == waiting


@pytest.mark.slow
def test_an_approved_plan_writes_its_lines_while_another_line_is_still_being_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each line's fresh read, checks and write go together: one slow read holds back no other line."""
    rules = {"rules": [{**PLAIN["rules"][0], "approval_threshold_pct": 5}]}
    first = world.run(rules, run_id="run-1")
    plans = PlanStore(world.store)
    plan = plans.get(first["plans"][0]["plan"])
    lines = plan.lines[:6]
    assert len(lines) == 6
    slow_item = lines[0].details["item_id"]  # type: ignore[index]
    plans.approve(plan.id, "anna", [line.key for line in lines])
    read, write = world.wawi.items.get, world.wawi.items.set_base_price
    slow_read_ended: list[float] = []
    written: list[tuple[float, int]] = []

    def slow_get(item_id: int, *args: Any, **kwargs: Any) -> Any:
        found = read(item_id, *args, **kwargs)
        if item_id == slow_item:
            time.sleep(1.5)
            slow_read_ended.append(time.perf_counter())
        return found

    def timed_write(item_id: int, net: float) -> Any:
        written.append((time.perf_counter(), item_id))
        return write(item_id, net)

    monkeypatch.setattr(world.wawi.items, "get", slow_get)
    monkeypatch.setattr(world.wawi.items, "set_base_price", timed_write)
    result = world.run(rules, run_id="run-2")
    (executed,) = result["executed_plans"]
    assert executed["status"] == "done" and executed["lines"] == {"applied": 6}
    assert len(slow_read_ended) == 1
    others = [at for at, item in written if item != slow_item]
    assert len(others) == 5 and max(others) < slow_read_ended[0]
    for line in lines:
        assert world.base_price(line.details["item_id"]) == float(line.unit_price)  # type: ignore[index,arg-type]


@pytest.mark.slow
def test_an_approved_line_whose_price_changed_or_whose_floor_rose_is_skipped(world: World) -> None:
    rules = {"rules": [{**PLAIN["rules"][0], "approval_threshold_pct": 5}]}
    first = world.run(rules, run_id="run-1")
    plans = PlanStore(world.store)
    plan = plans.get(first["plans"][0]["plan"])
    moved, dearer = plan.lines[0], plan.lines[1]
    moved_id, dearer_id = moved.details["item_id"], dearer.details["item_id"]  # type: ignore[index]
    world.items[moved_id]["ItemPriceData"]["SalesPriceNet"] = 1234.5  # someone changed it in Wawi
    world.items[dearer_id]["ItemPriceData"]["PurchasePriceNet"] = float(dearer.unit_price) * 2  # type: ignore[arg-type]
    plans.approve(plan.id, "anna", [moved.key, dearer.key])
    result = world.run(rules, run_id="run-2")
    (executed,) = result["executed_plans"]
    assert executed["status"] == "done" and executed["lines"] == {"skipped": 2}
    reasons = {f["item_id"]: f["reason"] for f in result["failed"]}
    assert "changed in Wawi since the proposal" in reasons[moved_id]
    assert "below the floor" in reasons[dearer_id]
    assert world.base_price(moved_id) == 1234.5
    assert world.store.price_history(item_ids=[moved_id, dearer_id], source="plan") == []


MARKDOWN_RULES: dict[str, Any] = {
    "rules": [{**PLAIN["rules"][0], "match": {"category": "Nichts"}}],  # prices stay: only markdowns act
    "markdown": {
        "strategy": "fixed",
        "fixed_pct": 20,
        "min_cover_days": 60,
        "no_sale_days": 30,
        "floor_pct": 5,
    },
}


@pytest.mark.slow
def test_markdowns_wait_for_approval_then_become_special_prices_and_hold_the_item(world: World) -> None:
    first = world.run(MARKDOWN_RULES, run_id="run-1")
    assert first["markdowns"]["markdown"] > 3 and first["markdown_strategy"] == "fixed"
    (proposed,) = [p for p in first["plans"] if p["kind"] == "markdown"]
    plans = PlanStore(world.store)
    plan = plans.get(proposed["plan"])
    line = plan.lines[0]
    details = line.details or {}
    item_id = details["item_id"]
    assert (
        line.warehouse == "" and details["target"] == "special" and 10 < details["discount_pct"] < 30
    )  # 20% to an ending
    assert world.state.data.wawi.special_prices.get(item_id) is None  # nothing written before approval
    base_before = world.base_price(item_id)

    plans.approve(plan.id, "anna", [line.key])
    second = world.run(MARKDOWN_RULES, run_id="run-2")
    assert second["executed_plans"][0]["lines"] == {"applied": 1}
    special = world.state.data.wawi.special_prices[item_id]
    assert special["IsActive"] and special["EndDateActive"]
    pairs = {(p["SalesChannelId"], p["CustomerGroupId"]) for p in special["SpecialPrice"]}
    assert pairs == {("1-1-0", 1), ("1-1-0", 2), (SHOP_CHANNEL, 1), (SHOP_CHANNEL, 2)}  # eBay takes none
    assert {p["NetPrice"] for p in special["SpecialPrice"]} == {float(line.unit_price)}  # type: ignore[arg-type]
    assert world.base_price(item_id) == base_before  # the base price stays
    (kept,) = world.store.price_history(item_ids=[item_id])
    assert (kept.target, kept.source, kept.plan_id, kept.before) == (
        "special",
        "markdown",
        plan.id,
        base_before,
    )
    assert kept.ends_at is not None and kept.starts_at is not None
    assert kept.ends_at - kept.starts_at == timedelta(days=14)

    third = world.run(MARKDOWN_RULES, run_id="run-3")  # the item is held while its special price runs
    assert third["held"] >= 1
    later = plans.get(third["plans"][0]["plan"]) if third["plans"] else None
    assert later is None or all((x.details or {}).get("item_id") != item_id for x in later.lines)


@pytest.mark.slow
def test_a_markdown_as_base_price_writes_the_base_price_and_the_rules_leave_it_alone(world: World) -> None:
    rules = {
        "rules": [PLAIN["rules"][0]],
        "markdown": {**MARKDOWN_RULES["markdown"], "apply_as": "base_price", "approval_threshold_pct": None},
    }
    result = world.run(rules, run_id="run-1")
    marked = world.store.price_history(source="markdown")
    assert marked and result["writes"]["applied"] >= len(marked)
    item_id = marked[0].item_id
    assert world.base_price(item_id) == marked[0].after and marked[0].target == "base"
    again = world.run(rules, run_id="run-2")
    assert again["held"] >= len(marked)  # the rules would have raised it again
    assert world.base_price(item_id) == marked[0].after


@pytest.mark.slow
def test_channel_prices_are_read_only_where_a_channel_rule_can_match_and_written_by_channel(
    world: World,
) -> None:
    rules = {
        "rules": [
            {
                **PLAIN["rules"][0],
                "name": "shop coffee",
                "match": {"sales_channel": SHOP_CHANNEL, "category": "Lebensmittel"},
            },
            {**PLAIN["rules"][0], "name": "base", "match": {"sales_channel": "base"}},
        ]
    }
    result = world.run(rules, run_id="run-1")
    reads = [r for r in world.sent if r.method == "GET" and r.url.path.endswith("/salesChannelPrices")]
    food = [
        i for i, item in world.items.items() if item["Categories"][0]["CategoryId"] in _food_categories(world)
    ]
    assert len(reads) == len(food) == result["counts"]["channel_price_reads"] < len(world.items)
    shop = [c for c in result["changes"] if c["target"] == f"{SHOP_CHANNEL}/0"]
    assert shop and all(c["rule"] == "shop coffee" for c in shop)
    for row in shop:
        stored = next(
            p
            for p in world.state.data.wawi.sales_channel_prices[row["item_id"]]
            if p["SalesChannelId"] == SHOP_CHANNEL
        )
        assert stored["NetPrice"] == row["new_price"]


def _food_categories(world: World) -> set[int]:
    categories = world.state.data.wawi.categories
    return {
        c["Id"]
        for c in categories.values()
        if c["Id"] in categories
        and (
            c["Name"] == "Lebensmittel"
            or categories.get(c.get("ParentCategoryId"), {}).get("Name") == "Lebensmittel"
        )
    }


@pytest.mark.slow
def test_base_price_rules_cost_the_paging_lower_bound_of_requests(world: World) -> None:
    world.run(PLAIN, dry_run=True)
    reads = [r.url.path.split("/v1", 1)[-1] for r in world.sent if r.method == "GET"]
    pages = sum(1 for p in reads if p == "/items")
    assert pages >= 1 and sum(1 for p in reads if p == "/categories") >= 1
    others = sorted(p for p in reads if p not in ("/items", "/categories"))
    assert others == [
        "/companies",
        "/manufacturers",
        "/tax/taxclass/1/1/DE/DE",
        "/tax/taxclass/2/1/DE/DE",
        "/taxClasses",
    ]


@pytest.mark.slow
def test_a_second_run_while_one_holds_the_lease_does_nothing(world: World) -> None:
    assert world.store.acquire_lease(svc.LEASE_NAME, "other-run", timedelta(minutes=5))
    result = world.run(run_id="run-1")
    assert result["skipped"].startswith("another run holds the pricing lease") and world.writes() == []


@pytest.mark.slow
def test_a_rerun_marks_the_unchanged_item_cache_rows_seen_instead_of_writing_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The streamed listing keeps the item cache: a rerun writes again only the rows of items Wawi
    changed, the others are marked seen; the cache still holds every item."""
    _small_pages(world, monkeypatch)
    world.run(run_id="run-1")  # its price writes move the items' Changed: the next run rewrites them
    world.run(run_id="run-2", now=NOW + timedelta(minutes=1))
    item_id = next(iter(world.items))
    world.items[item_id]["Changed"] = "2026-11-27T07:00:00"
    written: list[int] = []
    write = world.store.write_item_cache

    def write_item_cache(items: Any, at: Any, *, complete: bool) -> int:
        written.extend(i.item_id for i in items)
        return write(items, at, complete=complete)

    monkeypatch.setattr(world.store, "write_item_cache", write_item_cache)
    world.run(run_id="run-3", now=NOW + timedelta(minutes=5))
    assert written == [item_id]
    rows = world.store.cached_items()
    assert {r.item_id for r in rows} == set(world.items)
    assert {r.seen_at for r in rows} == {NOW + timedelta(minutes=5)}
