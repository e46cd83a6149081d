"""Draining the outbox into Prefect: oldest first, never past an event that could not be delivered.

Delivery is at least once: a batch Prefect took but whose answer was lost is sent again, under the same
Prefect event ids (derived from source and event id), so Prefect can recognise the repeat. A failed
batch leaves every row in place, notes the failure on the oldest one and waits (capped exponential
backoff) before the next try; later events wait behind it, so the order holds. One drainer at a time
(a lease in the state database): the scheduled flow and ``gateway serve``'s loop may both run.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from jtl_automator.gateway.outbox import GatewayEvent, Outbox

log = logging.getLogger(__name__)

LEASE_NAME = "gateway-drain"
#: Namespace of the Prefect event ids: the same gateway event always becomes the same Prefect event.
EVENT_ID_NAMESPACE = uuid.UUID("7f3b4a52-9c1e-4d7a-8b20-6a1f0e5c3d94")


class EmitterUnavailable(Exception):
    """Prefect did not take the batch (unreachable, 5xx, timeout): keep the rows and try later."""


class Emitter(Protocol):
    """Where drained events go: all of a batch, in order, or an :class:`EmitterUnavailable`."""

    def emit(self, events: Sequence[GatewayEvent]) -> None:
        """Deliver the events in order; raise EmitterUnavailable if they may not have arrived."""


def event_name(event: GatewayEvent) -> str:
    """``jtl.gateway.<type>``: what Prefect automations and the workflow runner match on."""
    return f"jtl.gateway.{event.type}"


def resource_id(source: str) -> str:
    """``jtl-automator.gateway.<source>``: the Prefect resource the event is about."""
    return f"jtl-automator.gateway.{source}"


def prefect_event_id(event: GatewayEvent) -> uuid.UUID:
    """A stable id, so a redelivered event is the same event to Prefect."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{event.source}/{event.event_id}")


def prefect_event_fields(event: GatewayEvent) -> dict[str, Any]:
    """The keyword arguments of ``prefect.events.Event`` for one gateway event (plain data, no Prefect)."""
    return {
        "id": prefect_event_id(event),
        "event": event_name(event),
        "occurred": event.occurred_at or event.received_at,
        "resource": {
            "prefect.resource.id": resource_id(event.source),
            "prefect.resource.name": event.source,
        },
        "payload": {
            "source": event.source,
            "event_id": event.event_id,
            "outbox_id": event.id,
            "type": event.type,
            "data": event.data,
        },
    }


@dataclass
class FakeEmitter:
    """Collects emitted events; ``down`` makes every batch fail (Prefect unreachable)."""

    down: bool = False
    emitted: list[GatewayEvent] = field(default_factory=list)
    calls: int = 0

    def emit(self, events: Sequence[GatewayEvent]) -> None:
        """Record the batch, or fail it whole."""
        self.calls += 1
        if self.down:
            raise EmitterUnavailable("Prefect API unreachable (fake)")
        self.emitted.extend(events)


@dataclass(frozen=True)
class Backoff:
    """Wait before retrying the head: ``initial * 2**(attempts-1)`` capped at ``maximum`` seconds."""

    initial: float = 5.0
    maximum: float = 300.0

    def after(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` failed deliveries."""
        return timedelta(seconds=min(self.maximum, self.initial * 2.0 ** max(0, attempts - 1)))


@dataclass
class DrainReport:
    """What one drain did: for the CLI, the flow's artifact and the serve loop."""

    delivered: list[GatewayEvent] = field(default_factory=list)
    remaining: int = 0
    error: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    busy: bool = False
    dry_run: bool = False
    would_deliver: list[GatewayEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed (there may be nothing to do, or another drainer was at work)."""
        return self.error is None


def drain(
    outbox: Outbox,
    emitter: Emitter | None,
    *,
    batch_size: int = 100,
    max_batches: int | None = None,
    backoff: Backoff | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    dry_run: bool = False,
    force: bool = False,
    owner: str | None = None,
) -> DrainReport:
    """Deliver undelivered events in id order, a batch at a time, until none is left or one fails.

    A head that failed before is not tried again before its ``next_attempt_at`` unless ``force`` (the
    operator's ``gateway drain --now``). ``dry_run`` lists the events the drain would deliver (and needs
    no emitter).
    """
    backoff = backoff or Backoff()
    report = DrainReport(dry_run=dry_run)
    if dry_run:
        report.would_deliver = outbox.pending(batch_size * (max_batches or 10))
        report.remaining = outbox.counts().pending
        return report
    if emitter is None:
        raise ValueError("drain needs an emitter unless it is a dry run")
    store = outbox.store
    lease_owner = owner or f"drain-{uuid.uuid4().hex[:12]}"
    if not store.acquire_lease(LEASE_NAME, lease_owner, timedelta(minutes=2)):
        report.busy = True
        report.remaining = outbox.counts().pending
        return report
    try:
        batches = 0
        while max_batches is None or batches < max_batches:
            events = outbox.pending(batch_size)
            if not events:
                break
            head = events[0]
            if not force and head.next_attempt_at is not None and head.next_attempt_at > now():
                report.attempts, report.next_attempt_at = head.attempts, head.next_attempt_at
                report.error = head.last_error
                break
            try:
                emitter.emit(events)
            except EmitterUnavailable as exc:
                attempts = head.attempts + 1
                retry_at = now() + backoff.after(attempts)
                outbox.record_failure(head.id, str(exc), retry_at)
                report.error, report.attempts, report.next_attempt_at = str(exc), attempts, retry_at
                log.warning(
                    "gateway drain: Prefect did not take %d event(s) (%s); retry %s",
                    len(events),
                    exc,
                    retry_at.isoformat(timespec="seconds"),
                )
                break
            outbox.mark_delivered([e.id for e in events], now())
            report.delivered.extend(events)
            batches += 1
            store.renew_lease(LEASE_NAME, lease_owner, timedelta(minutes=2))
    finally:
        store.release_lease(LEASE_NAME, lease_owner)
    report.remaining = outbox.counts().pending
    return report


def drain_loop(
    outbox: Outbox,
    emitter: Emitter,
    stop: threading.Event,
    *,
    interval: float = 2.0,
    backoff: Backoff | None = None,
) -> None:
    """Drain every ``interval`` seconds until ``stop`` is set (``gateway serve``'s background loop).

    Errors of the store itself are logged and the loop goes on: the rows stay in the outbox, and the
    scheduled ``gateway-drain`` flow delivers them if this process goes away.
    """
    while not stop.is_set():
        try:
            report = drain(outbox, emitter, backoff=backoff)
            if report.delivered:
                log.info("gateway drain: delivered %d event(s)", len(report.delivered))
        except Exception as exc:  # keep serving; the outbox keeps the events
            log.error("gateway drain failed: %s: %s", type(exc).__name__, exc)
        stop.wait(interval)
