"""Trigger evaluation: schedule ticks, changes since a watermark, once per entity per change, filters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.workflows.entities import FakeEntitySource, OrderEventChange
from jtl_automator.workflows.loader import LoadedWorkflow, parse_workflow
from jtl_automator.workflows.runner import Runner, evaluate_active, fire
from jtl_automator.workflows.store import RunStatus, WorkflowStore
from jtl_automator.workflows.triggers import due_tick, evaluate, mark, read_snapshot
from tests.workflows.runner_support import Effects

pytestmark = pytest.mark.slow  # a state database per test

MONDAY = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # 06:00 in Berlin

DOC = """\
name: {name}
status: active
trigger:
  entity: {entity}
  {tags}
  conditions: {conditions}
  {when}
nodes:
  - id: tell
    action: effect
    with: {{label: "{{{{ trigger.key }}}}"}}
"""


def _doc(
    name: str = "w",
    entity: str = "item",
    when: str = 'schedule: {cron: "0 6 * * 1"}',
    conditions: str = "[{field: stock, op: lt, value: 10}]",
    tags: str = "tags: {include_any: [{category: Saison}]}",
) -> str:
    return DOC.format(name=name, entity=entity, when=when, conditions=conditions, tags=tags)


def _load(workflows: WorkflowStore, text: str) -> None:
    workflows.sync([LoadedWorkflow(Path("/cfg/w.yaml"), parse_workflow(text, source="w.yaml"))])


def _items() -> FakeEntitySource:
    source = FakeEntitySource()
    source.add(
        "item", "A", {"sku": "A", "stock": 3}, [("category", "Kleidung > Saison"), ("category", "Saison")]
    )
    source.add("item", "B", {"sku": "B", "stock": 50}, [("category", "Saison")])  # stock too high
    source.add("item", "C", {"sku": "C", "stock": 1}, [("category", "Basics")])  # not tagged
    source.add("item", "D", {"sku": "D", "stock": 2}, [("category", "Saison"), ("property", "Farbe", "rot")])
    return source


def test_a_schedule_fires_once_per_tick_for_the_entities_that_pass_tags_and_conditions(
    workflows: WorkflowStore,
) -> None:
    _load(workflows, _doc())
    source = _items()
    first = fire(workflows, "w", source=source, now=MONDAY - timedelta(days=1))
    assert first.created == () and "first evaluation" in first.note
    before_tick = fire(workflows, "w", source=source, now=MONDAY - timedelta(minutes=1))
    assert before_tick.created == ()
    tick = fire(workflows, "w", source=source, now=MONDAY + timedelta(minutes=1))
    runs = [workflows.get_run(r) for r in tick.created]
    assert sorted(r.trigger_key for r in runs) == [
        "v1:schedule:2026-11-30T05:00:00Z:A",
        "v1:schedule:2026-11-30T05:00:00Z:D",
    ]
    trigger = next(r.trigger for r in runs if r.trigger and r.trigger["key"] == "A")
    assert trigger == {
        **dict.fromkeys(("name", "active", "manufacturer", "price", "purchase_price")),
        **dict.fromkeys(("margin_pct", "daily_demand", "cover_days", "changed", "added")),
        "sku": "A",
        "stock": 3,
        "entity": "item",
        "key": "A",
        "source": "schedule",
        "fired_at": "2026-11-30T05:01:00Z",
        "tags": ["category:Kleidung > Saison", "category:Saison"],
    }
    # the same tick again (a retried tick flow) and a later minute: nothing new
    assert fire(workflows, "w", source=source, now=MONDAY + timedelta(minutes=2)).created == ()
    # a crash after the runs were made but before the watermark moved makes no second run either
    workflows.store.reset_watermark(mark("w", "schedule"), (MONDAY - timedelta(days=1)).isoformat())
    again = fire(workflows, "w", source=source, now=MONDAY + timedelta(minutes=3))
    assert again.created == () and len(again.existing) == 2


def test_missed_ticks_collapse_into_the_latest(workflows: WorkflowStore) -> None:
    _load(workflows, _doc())
    _, workflow = workflows.definition("w")
    two_weeks_on = MONDAY + timedelta(days=14, hours=1)
    last = (MONDAY - timedelta(days=8)).isoformat()
    assert due_tick(workflow, last, two_weeks_on) == MONDAY + timedelta(days=14)
    assert due_tick(workflow, MONDAY.isoformat(), MONDAY + timedelta(days=6)) is None


def test_manual_run_of_a_schedule_fires_now(workflows: WorkflowStore) -> None:
    _load(workflows, _doc())
    started = fire(workflows, "w", source=_items(), now=MONDAY + timedelta(hours=3, seconds=5), manual=True)
    keys = sorted(workflows.get_run(r).trigger_key for r in started.created)
    assert keys == ["v1:manual:2026-11-30T08:00:00Z:A", "v1:manual:2026-11-30T08:00:00Z:D"]


def test_exclude_and_property_tags_filter(workflows: WorkflowStore) -> None:
    tags = "tags: {include_all: [{category: Saison}], exclude: [{property: {name: Farbe, value: rot}}]}"
    _load(workflows, _doc(tags=tags))
    started = fire(workflows, "w", source=_items(), now=MONDAY, manual=True)
    assert [workflows.get_run(r).trigger_key.rsplit(":", 1)[1] for r in started.created] == ["A"]


def test_order_events_fire_once_per_event_and_the_watermark_moves_after(workflows: WorkflowStore) -> None:
    when = "on_change: {source: order_event, events: [held]}"
    _load(
        workflows,
        _doc(entity="sales_order", when=when, conditions="[{field: country, op: eq, value: DE}]", tags=""),
    )
    source = FakeEntitySource()
    source.add("sales_order", "O-1", {"order_number": "O-1", "status": "held", "country": "DE"})
    source.add("sales_order", "O-2", {"order_number": "O-2", "status": "held", "country": "AT"})
    at = MONDAY
    source.events = [
        OrderEventChange(1, "O-1", "imported", None, at),
        OrderEventChange(2, "O-1", "held", {"codes": ["ADDRESS_INCOMPLETE"]}, at),
        OrderEventChange(3, "O-2", "held", None, at),
        OrderEventChange(4, "O-1", "held", {"codes": ["PAYMENT"]}, at),
    ]
    started = fire(workflows, "w", source=source, now=at)
    runs = [workflows.get_run(r) for r in started.created]
    assert [r.trigger_key for r in runs] == ["v1:order_event:2:O-1", "v1:order_event:4:O-1"]
    assert runs[0].trigger is not None and runs[0].trigger["event"] == "held"
    assert runs[0].trigger["payload"] == {"codes": ["ADDRESS_INCOMPLETE"]}
    assert workflows.store.get_watermark(mark("w", "order_event")) == f"{4:020d}"
    assert fire(workflows, "w", source=source, now=at).created == ()
    source.events.append(OrderEventChange(10, "O-1", "held", None, at))
    assert len(fire(workflows, "w", source=source, now=at).created) == 1


def test_wawi_item_changes_fire_per_change(workflows: WorkflowStore) -> None:
    _load(workflows, _doc(when="on_change: {source: wawi_items_changed}"))
    source = _items()
    assert fire(workflows, "w", source=source, now=MONDAY).created == ()  # the first look sets the mark
    source.changed = [("A", MONDAY + timedelta(minutes=5)), ("C", MONDAY + timedelta(minutes=6))]
    started = fire(workflows, "w", source=source, now=MONDAY + timedelta(minutes=10))
    assert [workflows.get_run(r).trigger_key for r in started.created] == [
        "v1:wawi_items_changed:2026-11-30T05:05:00Z:A"
    ]  # C changed too, but is not tagged Saison
    # the overlap reads A's change again: the same key, no second run
    assert fire(workflows, "w", source=source, now=MONDAY + timedelta(minutes=11)).created == ()
    source.changed.append(("A", MONDAY + timedelta(minutes=12)))
    assert len(fire(workflows, "w", source=source, now=MONDAY + timedelta(minutes=13)).created) == 1


def test_stock_changes_fire_against_the_last_snapshot(workflows: WorkflowStore) -> None:
    _load(workflows, _doc(entity="inventory_item", when="on_change: {source: stock_changed}", tags=""))
    source = FakeEntitySource()

    def stock(key: str, units: float) -> None:
        source.add("inventory_item", key, {"sku": key.split("@")[0], "warehouse": "W1", "stock": units})

    stock("A@W1", 20)
    stock("B@W1", 5)
    first = fire(workflows, "w", source=source, now=MONDAY)
    assert first.created == () and "snapshot" in first.note
    assert len(read_snapshot(workflows.store, "w")) == 2
    stock("A@W1", 8)  # below 10: fires
    stock("B@W1", 5)  # unchanged
    started = fire(workflows, "w", source=source, now=MONDAY)
    run = workflows.get_run(started.created[0])
    assert len(started.created) == 1 and run.trigger_key == "v1:stock_changed:2:A@W1"
    assert run.trigger is not None and run.trigger["previous_stock"] == 20.0
    assert fire(workflows, "w", source=source, now=MONDAY).created == ()  # no change, no run
    stock("A@W1", 20)
    assert fire(workflows, "w", source=source, now=MONDAY).created == ()  # changed, but stock 20
    stock("A@W1", 8)  # the same value as before, a new change: fires again
    again = fire(workflows, "w", source=source, now=MONDAY)
    assert [workflows.get_run(r).trigger_key for r in again.created] == ["v1:stock_changed:4:A@W1"]
    stock("N@W1", 1)  # new since the baseline: fires from its next change on
    assert fire(workflows, "w", source=source, now=MONDAY).created == ()


@dataclass
class _Event:
    id: int
    type: str
    data: dict[str, Any]


@dataclass
class _Feed:
    events: list[_Event]

    def since(
        self, after_id: int = 0, *, types: Iterable[str] | None = None, limit: int = 1000
    ) -> Sequence[Any]:
        wanted = set(types) if types is not None else None
        return [e for e in self.events if e.id > after_id and (wanted is None or e.type in wanted)][:limit]


def test_gateway_events_fire_for_the_entity_they_name(workflows: WorkflowStore, effects: Effects) -> None:
    when = "on_change: {source: gateway_event, event_type: crm.contact_updated}"
    _load(workflows, _doc(when=when, conditions="[]", tags=""))
    feed = _Feed(
        [
            _Event(1, "crm.contact_updated", {"sku": "A", "note": "x"}),
            _Event(2, "shop.other", {"sku": "B"}),
            _Event(3, "crm.contact_updated", {"sku": "nope"}),
            _Event(4, "crm.contact_updated", {"entity_key": "D"}),
            # malformed: no usable key; each is skipped, the others fire
            _Event(5, "crm.contact_updated", {"sku": ["A"]}),
            _Event(6, "crm.contact_updated", {"sku": True}),
            _Event(7, "crm.contact_updated", {}),
        ]
    )
    unwired = fire(workflows, "w", source=_items(), now=MONDAY)
    assert unwired.created == () and "not wired" in unwired.note
    started = fire(workflows, "w", source=_items(), now=MONDAY, events=feed)
    runs = [workflows.get_run(r) for r in started.created]
    assert [r.trigger_key for r in runs] == ["v1:gateway_event:1:A", "v1:gateway_event:4:D"]
    assert runs[0].trigger is not None and runs[0].trigger["payload"] == {"sku": "A", "note": "x"}
    assert workflows.store.get_watermark(mark("w", "gateway_event")) == f"{7:020d}"
    assert fire(workflows, "w", source=_items(), now=MONDAY, events=feed).created == ()
    # and the runs run
    done = [Runner(workflows).execute(r) for r in started.to_run]
    assert all(r.status is RunStatus.COMPLETED for r in done)
    assert sorted(label for _, label, _ in effects.done) == ["A", "D"]


def test_evaluation_reads_entities_in_bulk(workflows: WorkflowStore) -> None:
    _load(workflows, _doc())
    source = _items()
    version, workflow = workflows.definition("w")
    evaluation = evaluate(workflow, version, source=source, store=workflows.store, now=MONDAY, manual=True)
    assert source.reads == 1 and evaluation.considered == 4 and len(evaluation.firings) == 2


def test_the_tick_runs_pending_runs_a_crashed_tick_left(workflows: WorkflowStore, effects: Effects) -> None:
    _load(workflows, _doc())
    orphan, _ = workflows.create_run("w", "v1:schedule:earlier:A", {"key": "A"})  # recorded, never run
    started = evaluate_active(workflows, _items(), now=MONDAY)
    assert started[0].created == () and started[0].to_run == (orphan.id,)
    Runner(workflows).execute(orphan.id)
    assert evaluate_active(workflows, _items(), now=MONDAY)[0].to_run == ()
    assert [label for _, label, _ in effects.done] == ["A"]


def test_malformed_rows_the_source_left_out_are_noted_on_the_workflow(workflows: WorkflowStore) -> None:
    from jtl_automator.clients.wawi.client import SkippedRow

    class Skipping(FakeEntitySource):
        def entities(self, entity_type: str, **kwargs: Any) -> list[Any]:
            self.skipped.append(SkippedRow("GET /items/7/customfields, row 2", "Value: Field required"))
            return super().entities(entity_type, **kwargs)

    _load(workflows, _doc())
    first = evaluate_active(workflows, _items(), now=MONDAY)[0].note
    source = Skipping(records=_items().records)
    source.skipped.append(SkippedRow("an earlier read", "not this workflow's"))
    started = evaluate_active(workflows, source, now=MONDAY + timedelta(days=7))
    assert started[0].note.endswith(
        "left out malformed: GET /items/7/customfields, row 2: Value: Field required"
    )
    assert "earlier" not in started[0].note and "left out" not in first
