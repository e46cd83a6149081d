"""The durable outbox: accepted events in the state database, in the order the drainer delivers them.

An event is written before the sender gets its 202, so an answer the sender saw is an event that is
kept. Ids are the delivery order and the readers' mark ("events since id"), so they must become visible
in id order: SQLite serialises writers anyway (``BEGIN IMMEDIATE``); on PostgreSQL a sequence hands out
ids before commit, and two concurrent requests could commit 8 before 7, letting a reader pass 7 for
good. Appends therefore take one transaction-level advisory lock there (appends are short; the gateway
takes tens of events per second, not thousands).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from jtl_automator.store.models import GatewayEventRow, utcnow
from jtl_automator.store.store import StateStore

_APPEND_LOCK_ID = 0x4A544C47  # "JTLG": advisory lock that orders outbox appends on PostgreSQL
_ERROR_MAX = 2000


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class GatewayEvent:
    """One stored event (``id``: the outbox's order; ``event_id``: the sender's own id)."""

    id: int
    source: str
    event_id: str
    type: str
    data: dict[str, Any]
    occurred_at: datetime | None
    received_at: datetime
    delivered_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Appended:
    """What ``append`` did: stored a new row, or found the sender's event already stored."""

    id: int
    duplicate: bool


@dataclass(frozen=True)
class OutboxCounts:
    """How far delivery is: for the health view, the drain report and the operator."""

    pending: int
    delivered: int
    oldest_pending: datetime | None
    head_attempts: int
    head_next_attempt_at: datetime | None
    head_error: str | None


def _event(row: GatewayEventRow) -> GatewayEvent:
    received = _aware(row.received_at)
    assert received is not None
    return GatewayEvent(
        id=row.id,
        source=row.source,
        event_id=row.event_id,
        type=row.type,
        data=dict(row.data),
        occurred_at=_aware(row.occurred_at),
        received_at=received,
        delivered_at=_aware(row.delivered_at),
        attempts=row.attempts,
        next_attempt_at=_aware(row.next_attempt_at),
        last_error=row.last_error,
    )


class Outbox:
    """The outbox operations on a StateStore (thread-safe like the store; share one per process)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def _lock_appends(self, session: Session) -> None:
        if self.store.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_ID})

    def append(
        self,
        source: str,
        event_id: str,
        type: str,
        data: Mapping[str, Any],
        *,
        occurred_at: datetime | None = None,
        client_ip: str | None = None,
        received_at: datetime | None = None,
    ) -> Appended:
        """Store the event once per ``(source, event_id)``; a repeat returns the stored row's id."""
        with self.store.session() as s:
            self._lock_appends(s)
            ins = self.store._insert(s)
            inserted = s.execute(
                ins(GatewayEventRow)
                .values(
                    source=source,
                    event_id=event_id,
                    type=type,
                    data=dict(data),
                    occurred_at=occurred_at,
                    received_at=received_at or utcnow(),
                    client_ip=client_ip,
                    attempts=0,
                )
                .on_conflict_do_nothing(index_elements=["source", "event_id"])
                .returning(GatewayEventRow.id)
            ).first()
            if inserted is not None:
                return Appended(int(inserted[0]), duplicate=False)
            existing = s.execute(
                select(GatewayEventRow.id).where(
                    GatewayEventRow.source == source, GatewayEventRow.event_id == event_id
                )
            ).scalar_one()
            return Appended(int(existing), duplicate=True)

    def get(self, source: str, event_id: str) -> GatewayEvent | None:
        """The stored event of a sender's id, if any."""
        with self.store.session() as s:
            row = s.execute(
                select(GatewayEventRow).where(
                    GatewayEventRow.source == source, GatewayEventRow.event_id == event_id
                )
            ).scalar_one_or_none()
            return _event(row) if row is not None else None

    def pending(self, limit: int = 100) -> list[GatewayEvent]:
        """The oldest undelivered events, in delivery order."""
        with self.store.session() as s:
            rows = s.execute(
                select(GatewayEventRow)
                .where(GatewayEventRow.delivered_at.is_(None))
                .order_by(GatewayEventRow.id)
                .limit(limit)
            ).scalars()
            return [_event(r) for r in rows]

    def since(
        self, after_id: int = 0, *, types: Iterable[str] | None = None, limit: int = 1000
    ) -> list[GatewayEvent]:
        """Events with an id above ``after_id`` (delivered or not), optionally of some types, by id.

        The workflow runner keeps the last id it handled and asks for the ones after it.
        """
        stmt = select(GatewayEventRow).where(GatewayEventRow.id > after_id)
        if types is not None:
            stmt = stmt.where(GatewayEventRow.type.in_(list(types)))
        with self.store.session() as s:
            rows = s.execute(stmt.order_by(GatewayEventRow.id).limit(limit)).scalars()
            return [_event(r) for r in rows]

    def mark_delivered(self, ids: Sequence[int], at: datetime | None = None) -> None:
        """Record that these events reached Prefect (and clear the failure notes of the head)."""
        if not ids:
            return
        with self.store.session() as s:
            s.execute(
                update(GatewayEventRow)
                .where(GatewayEventRow.id.in_(list(ids)), GatewayEventRow.delivered_at.is_(None))
                .values(delivered_at=at or utcnow(), next_attempt_at=None, last_error=None)
            )

    def record_failure(self, head_id: int, error: str, next_attempt_at: datetime) -> int:
        """Note a failed delivery on the oldest undelivered event; returns its attempts so far."""
        with self.store.session() as s:
            row = s.get(GatewayEventRow, head_id, with_for_update=True)
            if row is None:
                raise KeyError(f"gateway event {head_id} is not in the outbox")
            row.attempts += 1
            row.last_error = error[:_ERROR_MAX]
            row.next_attempt_at = next_attempt_at
            return row.attempts

    def counts(self) -> OutboxCounts:
        """Pending and delivered counts and the head's failure notes."""
        with self.store.session() as s:
            pending, delivered = s.execute(
                select(
                    func.count().filter(GatewayEventRow.delivered_at.is_(None)),
                    func.count().filter(GatewayEventRow.delivered_at.is_not(None)),
                )
            ).one()
            head = s.execute(
                select(GatewayEventRow)
                .where(GatewayEventRow.delivered_at.is_(None))
                .order_by(GatewayEventRow.id)
                .limit(1)
            ).scalar_one_or_none()
        return OutboxCounts(
            pending=int(pending),
            delivered=int(delivered),
            oldest_pending=_aware(head.received_at) if head else None,
            head_attempts=head.attempts if head else 0,
            head_next_attempt_at=_aware(head.next_attempt_at) if head else None,
            head_error=head.last_error if head else None,
        )

    def prune(self, delivered_before: datetime) -> int:
        """Delete events delivered before the cutoff (never an undelivered one); returns how many.

        Keep at least the signature tolerance (minutes) and whatever the workflow runner still reads:
        a pruned event id is forgotten, so a sender's very late retry of it would be stored again.
        """
        with self.store.session() as s:
            result = s.execute(
                delete(GatewayEventRow).where(
                    GatewayEventRow.delivered_at.is_not(None), GatewayEventRow.delivered_at < delivered_before
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
