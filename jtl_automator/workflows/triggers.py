"""Which entities fire a workflow now: its schedule's tick or the changes since its watermark, filtered.

Each firing has a trigger key that names the change exactly once (``v3:schedule:2026-11-30T05:00:00Z:SKU``
or ``v3:order_event:412:ORD-1``); the store makes one run per workflow and trigger key, so a tick or a
change seen twice (a retried tick flow, two overlapping evaluations) never makes a second run.

Where a workflow stands is kept in the state store, per workflow, and moved only after the runs are
recorded (:meth:`Evaluation.commit`): a crash in between evaluates the same changes again, which the
trigger keys turn into the runs already made.

- ``schedule``: the watermark is the last tick handled. Ticks missed while nothing ran collapse into
  the latest one (a Monday report is not sent five times after a long outage). A workflow's first
  evaluation only sets the watermark: it fires from its next tick on.
- ``wawi_items_changed``: Wawi ``changedSince`` the watermark (less an overlap for clock skew); the
  change's identity is the item's ``Changed``.
- ``stock_changed``: each entity's stock is compared with the last one this workflow evaluated (a
  snapshot per entity); a difference is a change, numbered per entity. The first evaluation takes the
  snapshot and fires nothing.
- ``order_event``: ``order_events`` rows after the watermark id; the change is the row.
- ``gateway_event``: events of ``event_type`` after the watermark id from an :class:`EventFeed` (the
  gateway's outbox); the event's ``data`` names the entity (``entity_key``, or the key field: ``sku``,
  ``order_number``, ``name``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select

from jtl_automator.store import StateStore
from jtl_automator.store.models import Watermark, utcnow
from jtl_automator.workflows.definition import Trigger, Workflow
from jtl_automator.workflows.entities import BULK_TAG_KINDS, Entity, EntitySource
from jtl_automator.workflows.store import trigger_key

#: ``changedSince`` starts this far before the watermark (clock skew, slow saves; keys keep it once).
CHANGED_OVERLAP = timedelta(minutes=10)
#: Missed schedule ticks are looked for this far back at most.
SCHEDULE_LOOKBACK = timedelta(days=35)
#: Events or order events read per evaluation (the rest wait for the next tick: the watermark says where).
EVENTS_PER_TICK = 5_000


class EventLike(Protocol):
    """What the runner reads of a gateway event (``jtl_automator.gateway.outbox.GatewayEvent`` fits)."""

    id: int
    type: str
    data: dict[str, Any]


class EventFeed(Protocol):
    """Gateway events after an id (``jtl_automator.gateway.outbox.Outbox`` fits; the lead wires it)."""

    def since(
        self, after_id: int = 0, *, types: Iterable[str] | None = None, limit: int = 1000
    ) -> Sequence[Any]:
        """Events with an id above ``after_id`` of ``types``, by id."""
        ...


def gateway_feed(store: StateStore) -> EventFeed | None:
    """The event gateway's outbox as the feed of ``gateway_event`` triggers (None without the gateway)."""
    import importlib

    try:
        module = importlib.import_module("jtl_automator.gateway.outbox")
    except ImportError:
        return None
    feed: EventFeed = module.Outbox(store)
    return feed


@dataclass(frozen=True)
class Firing:
    """One entity that fires a workflow now: its run's trigger key and the values templates read."""

    workflow: str
    version: int
    entity_key: str
    trigger_key: str
    trigger: dict[str, Any]


@dataclass
class Evaluation:
    """A workflow's firings, and where its watermark goes once their runs are recorded."""

    workflow: str
    version: int
    firings: list[Firing] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)
    snapshot: dict[str, str] = field(default_factory=dict)
    considered: int = 0
    note: str = ""

    def commit(self, store: StateStore) -> None:
        """Advance the watermarks and write the stock snapshot (after the runs are recorded)."""
        for job, value in self.marks.items():
            store.advance_watermark(job, value)
        if self.snapshot:
            write_snapshot(store, self.workflow, self.snapshot)


def mark(workflow: str, what: str) -> str:
    """A workflow's watermark job name (``workflow:saison-restock:order_event``)."""
    return f"workflow:{workflow}:{what}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id_mark(value: int) -> str:
    """Ids as fixed-width text, so the store's string comparison of watermarks orders them as numbers."""
    return f"{value:020d}"


def trigger_values(entity: Entity, *, source: str, fired_at: datetime, **extra: Any) -> dict[str, Any]:
    """What ``trigger.<name>`` reads: the entity's fields and the trigger's own (JSON-ready)."""
    values = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in entity.fields.items()}
    values.update(
        entity=entity.type,
        key=entity.key,
        source=source,
        fired_at=_iso(fired_at),
        tags=entity.tag_texts(),
        **extra,
    )
    return values


def tag_kinds(trigger: Trigger) -> frozenset[str]:
    """The tag kinds an evaluation must read for this trigger (properties cost a request per item)."""
    kinds = set(BULK_TAG_KINDS)
    if trigger.tags is not None:
        kinds |= {ref.kind for _, _, ref in trigger.tags.refs()}
    return frozenset(kinds)


def due_tick(workflow: Workflow, last: str | None, now: datetime) -> datetime | None:
    """The latest tick of the schedule after ``last`` and at or before ``now`` (None: nothing due)."""
    schedule = workflow.trigger.schedule
    assert schedule is not None
    start = now - SCHEDULE_LOOKBACK
    if last is not None:
        start = max(start, datetime.fromisoformat(last))
    found: datetime | None = None
    moment = start
    for _ in range(100_000):  # a cron of every minute over the look-back is 50,400 ticks
        following = schedule.next_after(moment)
        if following > now:
            break
        found, moment = following, following
    return found


def evaluate(
    workflow: Workflow,
    version: int,
    *,
    source: EntitySource,
    store: StateStore,
    now: datetime | None = None,
    events: EventFeed | None = None,
    manual: bool = False,
) -> Evaluation:
    """The firings of ``workflow`` now; ``manual``: a schedule fires now (``workflows run``), no tick."""
    now = now or datetime.now(UTC)
    trigger = workflow.trigger
    result = Evaluation(workflow.name, version)

    def passing(entities: Iterable[Entity]) -> list[Entity]:
        kept = []
        for entity in entities:
            result.considered += 1
            if trigger.matches(entity.fields, entity.tags, now):
                kept.append(entity)
        return kept

    def fire(entity: Entity, change: str, *, source_name: str, **extra: Any) -> None:
        key = trigger_key(f"v{version}", source_name, change, entity.key)
        values = trigger_values(entity, source=source_name, fired_at=now, **extra)
        result.firings.append(Firing(workflow.name, version, entity.key, key, values))

    kinds = tag_kinds(trigger)
    if trigger.schedule is not None:
        job = mark(workflow.name, "schedule")
        if manual:
            at = now.replace(second=0, microsecond=0)
            for entity in passing(source.entities(trigger.entity, tag_kinds=kinds)):
                fire(entity, _iso(at), source_name="manual")
            return result
        last = store.get_watermark(job)
        if last is None:
            result.marks[job] = now.astimezone(UTC).isoformat()
            result.note = "first evaluation: fires from the schedule's next tick on"
            return result
        tick = due_tick(workflow, last, now)
        if tick is None:
            result.note = f"next tick {_iso(trigger.schedule.next_after(now))}"
            return result
        for entity in passing(source.entities(trigger.entity, tag_kinds=kinds)):
            fire(entity, _iso(tick), source_name="schedule")
        result.marks[job] = tick.astimezone(UTC).isoformat()
        return result

    change = trigger.on_change
    assert change is not None
    if change.source == "wawi_items_changed":
        job = mark(workflow.name, "wawi_items_changed")
        last = store.get_watermark(job)
        if last is None and not manual:
            result.marks[job] = now.astimezone(UTC).isoformat()
            result.note = "first evaluation: fires for items changed from now on"
            return result
        since = (datetime.fromisoformat(last) if last else now - CHANGED_OVERLAP) - CHANGED_OVERLAP
        changed = dict(sorted(source.items_changed_since(since), key=lambda pair: pair[1]))
        if changed:
            for entity in passing(source.entities(trigger.entity, keys=set(changed), tag_kinds=kinds)):
                fire(entity, _iso(changed[entity.key]), source_name=change.source)
            result.marks[job] = max(changed.values()).astimezone(UTC).isoformat()
        return result

    if change.source == "order_event":
        job = mark(workflow.name, "order_event")
        last = store.get_watermark(job)
        after = int(last) if last else 0
        rows = source.order_events_after(after, change.events)[:EVENTS_PER_TICK]
        if rows:
            orders = {
                e.key: e
                for e in source.entities(trigger.entity, keys={r.order_number for r in rows}, tag_kinds=kinds)
            }
            for row in rows:
                result.considered += 1
                found = orders.get(row.order_number)
                if found is not None and trigger.matches(found.fields, found.tags, now):
                    fire(found, str(row.id), source_name=change.source, event=row.event, payload=row.detail)
            result.marks[job] = _id_mark(rows[-1].id)
        return result

    if change.source == "gateway_event":
        if events is None:
            result.note = "gateway events are not wired to the runner: nothing read"
            return result
        job = mark(workflow.name, "gateway_event")
        last = store.get_watermark(job)
        after = int(last) if last else 0
        assert change.event_type is not None
        feed = list(events.since(after, types=[change.event_type], limit=EVENTS_PER_TICK))
        if feed:
            wanted = {k for e in feed if (k := event_entity_key(trigger.entity, e.data)) is not None}
            named = {e.key: e for e in source.entities(trigger.entity, keys=wanted, tag_kinds=kinds)}
            for event in feed:
                result.considered += 1
                key = event_entity_key(trigger.entity, event.data)
                found = named.get(key) if key is not None else None
                if found is not None and trigger.matches(found.fields, found.tags, now):
                    fire(
                        found, str(event.id), source_name=change.source, event=event.type, payload=event.data
                    )
            result.marks[job] = _id_mark(max(e.id for e in feed))
        return result

    # stock_changed: this evaluation's stock against the snapshot of the last one
    current = {e.key: e for e in source.entities(trigger.entity, tag_kinds=kinds)}
    before = read_snapshot(store, workflow.name)
    first = not before
    for key, entity in current.items():
        value = _stock_text(entity.fields.get("stock"))
        seen = before.get(_snapshot_job(workflow.name, key))
        seq, old = _parse_snapshot(seen)
        if seen is not None and old == value:
            continue
        result.snapshot[key] = f"{seq + 1}|{value}"
        if first or seen is None:
            continue  # the baseline; an entity new since then fires from its next change
        result.considered += 1
        if trigger.matches(entity.fields, entity.tags, now):
            fire(entity, str(seq + 1), source_name=change.source, previous_stock=_number(old))
    if first:
        result.note = "first evaluation: stock snapshot taken, fires on the next change"
    return result


def event_entity_key(entity_type: str, data: Mapping[str, Any]) -> str | None:
    """The entity a gateway event names: ``entity_key``, else the type's key field."""
    fields = {
        "item": "sku",
        "child_item": "sku",
        "inventory_item": "entity_key",
        "manufacturer": "name",
        "sales_order": "order_number",
    }
    value = data.get("entity_key", data.get(fields[entity_type]))
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _stock_text(value: Any) -> str:
    return "" if value is None else f"{float(value):.4f}"


def _number(text: str | None) -> float | None:
    return float(text) if text else None


def _parse_snapshot(value: str | None) -> tuple[int, str | None]:
    if value is None:
        return 0, None
    seq, _, stock = value.partition("|")
    return int(seq), stock


# -- the stock snapshot: one watermark row per workflow and entity --------------------------------------


def _snapshot_job(workflow: str, key: str) -> str:
    """``workflow-stock:NAME:KEY``; a long key is hashed so the job fits the watermark column (200)."""
    prefix = f"workflow-stock:{workflow}:"
    if len(prefix) + len(key) <= 200:
        return prefix + key
    return prefix + "#" + hashlib.sha256(key.encode()).hexdigest()


def read_snapshot(store: StateStore, workflow: str) -> dict[str, str]:
    """The workflow's stock snapshot (``seq|stock``) by its job name (see ``_snapshot_job``), one query."""
    prefix = f"workflow-stock:{workflow}:"
    with store.session() as s:
        rows = s.execute(
            select(Watermark.job, Watermark.value).where(Watermark.job.startswith(prefix, autoescape=True))
        )
        return {str(job): str(value) for job, value in rows}


def write_snapshot(store: StateStore, workflow: str, values: Mapping[str, str]) -> None:
    """Write changed snapshot rows (insert or update) in one transaction."""
    now = utcnow()
    jobs = {_snapshot_job(workflow, key): value for key, value in values.items()}
    with store.session() as s:
        existing = {
            w.job: w for w in s.execute(select(Watermark).where(Watermark.job.in_(list(jobs)))).scalars()
        }
        for job, value in jobs.items():
            row = existing.get(job)
            if row is None:
                s.add(Watermark(job=job, value=value, updated_at=now))
            else:
                row.value, row.updated_at = value, now


def evaluate_many(
    workflows: Sequence[tuple[int, Workflow]],
    *,
    source: EntitySource,
    store: StateStore,
    now: datetime | None = None,
    events: EventFeed | None = None,
) -> list[Evaluation]:
    """Every workflow's evaluation (one source: the bulk reads are shared)."""
    moment = now or datetime.now(UTC)
    return [
        evaluate(workflow, version, source=source, store=store, now=moment, events=events)
        for version, workflow in workflows
    ]


__all__ = [
    "CHANGED_OVERLAP",
    "Evaluation",
    "EventFeed",
    "Firing",
    "due_tick",
    "evaluate",
    "evaluate_many",
    "event_entity_key",
    "gateway_feed",
    "mark",
    "read_snapshot",
    "trigger_values",
    "write_snapshot",
]
