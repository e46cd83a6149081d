"""Draining on SQLite and PostgreSQL: in order, nothing lost while Prefect is away, one drainer at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jtl_automator.gateway import Backoff, EmitterUnavailable, FakeEmitter, GatewayEvent, Outbox, drain
from jtl_automator.gateway.drain import LEASE_NAME, prefect_event_fields
from jtl_automator.gateway.report import drain_markdown, drain_summary


def _fill(outbox: Outbox, n: int, source: str = "shop") -> list[int]:
    return [outbox.append(source, f"e{i}", "order.held", {"i": i}).id for i in range(n)]


class Clock:
    """Wall time for the drainer's backoff that a test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_events_are_delivered_in_order_in_batches_and_marked(outbox: Outbox) -> None:
    ids = _fill(outbox, 7)
    emitter = FakeEmitter()
    report = drain(outbox, emitter, batch_size=3)
    assert [e.id for e in emitter.emitted] == ids
    assert emitter.calls == 3
    assert (len(report.delivered), report.remaining, report.error) == (7, 0, None)
    assert outbox.pending() == []
    again = drain(outbox, emitter)
    assert (len(again.delivered), emitter.calls) == (0, 3)  # nothing is sent twice


def test_prefect_down_loses_nothing_keeps_the_order_and_delivers_after_the_backoff(outbox: Outbox) -> None:
    clock = Clock()
    backoff = Backoff(initial=5, maximum=60)
    first = _fill(outbox, 3)
    emitter = FakeEmitter(down=True)
    failed = drain(outbox, emitter, backoff=backoff, now=clock)
    assert (failed.error, failed.attempts, failed.remaining) == ("Prefect API unreachable (fake)", 1, 3)
    assert failed.next_attempt_at == clock.now + timedelta(seconds=5)
    later = [outbox.append("shop", f"late{i}", "stock.changed", {"sku": "S"}).id for i in range(2)]
    # Within the backoff nothing is tried; after it, the head fails again and waits twice as long.
    assert (drain(outbox, emitter, backoff=backoff, now=clock).attempts, emitter.calls) == (1, 1)
    clock.now += timedelta(seconds=5)
    again = drain(outbox, emitter, backoff=backoff, now=clock)
    assert (again.attempts, again.next_attempt_at, emitter.calls) == (2, clock.now + timedelta(seconds=10), 2)
    assert [e.id for e in outbox.pending()] == first + later
    emitter.down = False
    assert drain(outbox, emitter, backoff=backoff, now=clock).delivered == []  # still within the backoff
    clock.now += timedelta(seconds=10)
    report = drain(outbox, emitter, backoff=backoff, now=clock)
    assert [e.id for e in emitter.emitted] == first + later
    assert (report.remaining, report.error, outbox.counts().head_attempts) == (0, None, 0)


def test_force_tries_the_head_within_its_backoff(outbox: Outbox) -> None:
    _fill(outbox, 2)
    emitter = FakeEmitter(down=True)
    drain(outbox, emitter)
    emitter.down = False
    assert drain(outbox, emitter).delivered == []
    assert len(drain(outbox, emitter, force=True).delivered) == 2


def test_a_failure_after_some_batches_keeps_the_delivered_ones_and_the_rest_in_order(outbox: Outbox) -> None:
    ids = _fill(outbox, 6)

    class FailsSecondBatch(FakeEmitter):
        def emit(self, events: object) -> None:  # type: ignore[override]
            if self.calls == 1:
                self.calls += 1
                raise EmitterUnavailable("timeout")
            super().emit(events)  # type: ignore[arg-type]

    emitter = FailsSecondBatch()
    report = drain(outbox, emitter, batch_size=2)
    assert [e.id for e in report.delivered] == ids[:2]
    assert [e.id for e in outbox.pending()] == ids[2:]
    assert outbox.counts().head_error == "timeout"
    drain(outbox, emitter, batch_size=2, force=True)
    assert [e.id for e in emitter.emitted] == ids


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial=5, maximum=60)
    assert [backoff.after(n).total_seconds() for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_one_drainer_at_a_time(outbox: Outbox) -> None:
    _fill(outbox, 2)
    assert outbox.store.acquire_lease(LEASE_NAME, "other-drainer", timedelta(minutes=2))
    emitter = FakeEmitter()
    busy = drain(outbox, emitter)
    assert (busy.busy, busy.remaining, emitter.calls) == (True, 2, 0)
    outbox.store.release_lease(LEASE_NAME, "other-drainer")
    assert len(drain(outbox, emitter).delivered) == 2
    assert outbox.store.lease(LEASE_NAME) is None  # released after the drain


def test_a_dry_run_lists_and_delivers_nothing(outbox: Outbox) -> None:
    _fill(outbox, 3)
    emitter = FakeEmitter()
    report = drain(outbox, emitter, dry_run=True)
    assert ([e.event_id for e in report.would_deliver], emitter.calls, report.remaining) == (
        ["e0", "e1", "e2"],
        0,
        3,
    )
    text = drain_markdown(report, datetime.now(UTC))
    assert "dry run: 3 event(s) would be delivered" in text and "jtl.gateway.order.held" in text


def test_the_prefect_event_of_a_gateway_event_is_stable_and_named_for_matching() -> None:
    event = GatewayEvent(
        id=7,
        source="shop",
        event_id="e1",
        type="order.held",
        data={"order_number": "A"},
        occurred_at=None,
        received_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    )
    fields = prefect_event_fields(event)
    assert fields["event"] == "jtl.gateway.order.held"
    assert fields["resource"]["prefect.resource.id"] == "jtl-automator.gateway.shop"
    assert fields["occurred"] == event.received_at
    assert fields["payload"] == {
        "source": "shop",
        "event_id": "e1",
        "outbox_id": 7,
        "type": "order.held",
        "data": {"order_number": "A"},
    }
    assert prefect_event_fields(event)["id"] == fields["id"]
    other = GatewayEvent(**{**event.__dict__, "source": "crm"})
    assert prefect_event_fields(other)["id"] != fields["id"]


def test_the_summary_says_what_happened_in_one_line(outbox: Outbox) -> None:
    _fill(outbox, 1)
    clock = Clock()
    report = drain(outbox, FakeEmitter(down=True), now=clock)
    summary = drain_summary(report, clock.now)
    assert summary["message"] == (
        "delivered 0, 1 pending: Prefect did not take the oldest after 1 attempt(s) (Prefect API unreachable "
        "(fake)); next try 2026-11-26T09:00:05+00:00 (in 5 s)"
    )


def test_the_serve_loop_drains_until_stopped(outbox: Outbox) -> None:
    import threading

    from jtl_automator.gateway import drain_loop

    emitter = FakeEmitter()
    stop = threading.Event()
    loop = threading.Thread(target=drain_loop, args=(outbox, emitter, stop), kwargs={"interval": 0.02})
    loop.start()
    try:
        outbox.append("shop", "e1", "order.held", {})
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not emitter.emitted and datetime.now(UTC) < deadline:
            stop.wait(0.02)
    finally:
        stop.set()
        loop.join(5)
    assert [e.event_id for e in emitter.emitted] == ["e1"] and not loop.is_alive()
