"""The outbox on SQLite and PostgreSQL: stored once per sender id, read in order, by type, since an id."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from jtl_automator.gateway import Outbox
from tests.support.migrations import database_at, downgrade_to, schema_diff, tables

BEFORE = "fc857173a450"  # reporting, the revision this one follows


def test_append_stores_once_per_source_and_event_id(outbox: Outbox) -> None:
    first = outbox.append("shop", "e1", "order.held", {"order_number": "A"}, client_ip="198.51.100.1")
    again = outbox.append("shop", "e1", "order.held", {"order_number": "CHANGED"})
    other = outbox.append("crm", "e1", "custom", {"name": "x"})
    assert (first.duplicate, again.duplicate, other.duplicate) == (False, True, False)
    assert again.id == first.id != other.id
    stored = outbox.get("shop", "e1")
    assert stored is not None and stored.data == {"order_number": "A"}  # the first copy is kept
    assert outbox.counts().pending == 2


def test_events_are_read_in_order_by_type_and_since_an_id(outbox: Outbox) -> None:
    ids = [
        outbox.append("shop", f"e{i}", "stock.changed" if i % 2 else "order.held", {"i": i}).id
        for i in range(6)
    ]
    assert ids == sorted(ids)
    assert [e.data["i"] for e in outbox.pending()] == [0, 1, 2, 3, 4, 5]
    assert [e.data["i"] for e in outbox.since(ids[2])] == [3, 4, 5]
    assert [e.data["i"] for e in outbox.since(0, types=["order.held"])] == [0, 2, 4]
    assert [e.data["i"] for e in outbox.since(ids[1], types=["stock.changed"], limit=1)] == [3]
    outbox.mark_delivered(ids[:2])
    assert [e.data["i"] for e in outbox.pending()] == [2, 3, 4, 5]
    assert [e.data["i"] for e in outbox.since(0)] == [0, 1, 2, 3, 4, 5]  # delivered events stay readable


def test_timestamps_come_back_aware_and_failures_are_noted_on_the_head(outbox: Outbox) -> None:
    occurred = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    head = outbox.append("shop", "e1", "order.held", {}, occurred_at=occurred)
    outbox.append("shop", "e2", "order.held", {})
    retry_at = datetime.now(UTC) + timedelta(minutes=1)
    assert outbox.record_failure(head.id, "Prefect API unreachable", retry_at) == 1
    assert outbox.record_failure(head.id, "Prefect API answered 503", retry_at) == 2
    (event, _) = outbox.pending()
    assert event.occurred_at == occurred and event.received_at.tzinfo is not None
    counts = outbox.counts()
    assert (counts.pending, counts.head_attempts, counts.head_error) == (2, 2, "Prefect API answered 503")
    assert counts.head_next_attempt_at is not None and abs(
        counts.head_next_attempt_at - retry_at
    ) < timedelta(seconds=1)
    outbox.mark_delivered([head.id])
    after = outbox.get("shop", "e1")
    assert after is not None and after.delivered_at is not None and after.last_error is None
    with pytest.raises(KeyError):
        outbox.record_failure(999_999, "x", retry_at)


def test_prune_deletes_only_delivered_events_and_ids_never_come_back(outbox: Outbox) -> None:
    a = outbox.append("shop", "a", "order.held", {}).id
    b = outbox.append("shop", "b", "order.held", {}).id
    outbox.mark_delivered([a, b], datetime.now(UTC) - timedelta(days=10))
    c = outbox.append("shop", "c", "order.held", {}).id
    assert outbox.prune(datetime.now(UTC) - timedelta(days=7)) == 2
    assert [e.event_id for e in outbox.since(0)] == ["c"]
    outbox.mark_delivered([c], datetime.now(UTC) - timedelta(days=10))
    assert outbox.prune(datetime.now(UTC)) == 1
    d = outbox.append("shop", "d", "order.held", {}).id
    assert d > c  # a reader's "since c" mark still finds d


@pytest.mark.slow
def test_concurrent_appends_get_distinct_ordered_ids_and_duplicates_collapse(outbox: Outbox) -> None:
    results: list[tuple[str, int, bool]] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        for n in range(10):
            event_id = f"e{n}" if worker < 2 else f"w{worker}-{n}"  # workers 0 and 1 send the same ids
            stored = outbox.append("shop", event_id, "order.held", {"worker": worker})
            with lock:
                results.append((event_id, stored.id, stored.duplicate))

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = outbox.since(0)
    assert len(events) == 30  # 10 shared ids once, 2 x 10 own ids
    assert sum(1 for _, _, dup in results if dup) == 10
    by_id = {e.event_id: e.id for e in events}
    assert all(by_id[event_id] == row_id for event_id, row_id, _ in results)


@pytest.mark.slow
def test_the_migration_adds_the_outbox_and_removes_it_again(store_url: str) -> None:
    from jtl_automator.store import StateStore

    database_at(store_url, BEFORE)
    assert "gateway_events" not in tables(store_url)
    store = StateStore(store_url)
    try:
        outbox = Outbox(store)
        outbox.append("shop", "e1", "order.held", {"order_number": "A"})
        assert schema_diff(store, "gateway_events") == []
    finally:
        store.dispose()
    downgrade_to(store_url, BEFORE)
    assert "gateway_events" not in tables(store_url)


@pytest.mark.postgres
@pytest.mark.slow
def test_on_postgresql_appends_wait_for_each_other_so_ids_commit_in_order(postgres_url: str) -> None:
    """A sequence hands out ids before commit; the append lock keeps a later id from committing first."""
    import sqlalchemy as sa

    from jtl_automator.gateway.outbox import _APPEND_LOCK_ID
    from jtl_automator.store import StateStore

    store = StateStore(postgres_url)
    outbox = Outbox(store)
    done = threading.Event()
    try:
        with store.engine.connect() as other:  # another request's append, holding the lock mid-transaction
            other.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _APPEND_LOCK_ID})
            worker = threading.Thread(
                target=lambda: (outbox.append("shop", "late", "order.held", {}), done.set())
            )
            worker.start()
            assert not done.wait(0.5)  # waits for the open append
            other.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _APPEND_LOCK_ID})
            other.commit()
        worker.join(10)
        assert done.is_set() and [e.event_id for e in outbox.since(0)] == ["late"]
    finally:
        store.dispose()
