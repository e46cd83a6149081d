"""The lease keeper: a live run keeps its short lease, a dead run's lease frees itself, blips do no harm."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper, LeaseLost

TTL = timedelta(seconds=1)
BEAT = 0.2


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield store
    store.dispose()


def keeper(store: StateStore, owner: str, **kwargs: Any) -> LeaseKeeper:
    return LeaseKeeper(store, "order-processing", owner, ttl=TTL, heartbeat=BEAT, **kwargs)


@pytest.mark.slow
def test_a_heartbeat_shorter_than_the_lease_is_required(store: StateStore) -> None:
    with pytest.raises(ValueError, match="shorter"):
        LeaseKeeper(store, "x", "run-1", ttl=timedelta(seconds=5), heartbeat=5)


@pytest.mark.slow
def test_a_live_run_keeps_its_lease_past_the_time_to_live(store: StateStore) -> None:
    first = keeper(store, "run-1")
    assert first.acquire()
    time.sleep(3 * TTL.total_seconds())  # three lifetimes: only the heartbeat keeps it
    assert not keeper(store, "run-2").acquire()
    assert first.beats >= 5
    first.check()
    held = store.lease("order-processing")
    assert held is not None and held.owner == "run-1" and held.held_for() >= 3 * TTL  # acquired_at kept
    first.release()
    assert store.lease("order-processing") is None and keeper(store, "run-2").acquire()


@pytest.mark.slow
def test_a_dead_run_frees_the_lease_within_its_time_to_live_and_then_stops(store: StateStore) -> None:
    dead = keeper(store, "run-1")
    assert dead.acquire()
    dead._stop.set()  # the process died: nobody renews any more (and nobody releases)
    assert not keeper(store, "run-2").acquire()
    time.sleep(TTL.total_seconds() + 0.2)
    successor = keeper(store, "run-2")
    assert successor.acquire()
    successor.release()


@pytest.mark.slow
def test_a_run_whose_lease_was_taken_stops_at_its_next_step(store: StateStore) -> None:
    stuck = keeper(store, "run-1")
    assert stuck.acquire()
    store.break_lease("order-processing")  # a person broke it, another run took it
    assert keeper(store, "run-2").acquire()
    time.sleep(2 * BEAT + 0.1)
    with pytest.raises(LeaseLost, match="another run"):
        stuck.check()


@pytest.mark.slow
def test_a_database_blip_during_renewal_is_retried(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.renew_lease
    failures = iter([True, False])

    def flaky(*args: Any) -> bool:
        if next(failures, False):
            raise ConnectionError("server closed the connection unexpectedly")
        return real(*args)

    monkeypatch.setattr(store, "renew_lease", flaky)
    live = keeper(store, "run-1")
    assert live.acquire()
    time.sleep(2 * TTL.total_seconds())
    live.check()  # one failed beat, the next ones renewed: still ours
    assert not keeper(store, "run-2").acquire()
    live.release()


def test_a_release_the_database_refuses_leaves_a_lease_that_expires_by_itself(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    live = keeper(store, "run-1", sleep=sleeps.append)
    assert live.acquire()

    def down(*args: Any) -> None:
        raise ConnectionError("database is down")

    monkeypatch.setattr(store, "release_lease", down)
    live.release()  # no exception: the run's result is not lost to a failed release
    assert len(sleeps) == live.release_attempts - 1
    held = store.lease("order-processing")
    assert held is not None and held.expires_at - held.acquired_at <= TTL + timedelta(seconds=1)


def test_break_shows_what_it_removed(store: StateStore) -> None:
    assert store.break_lease("order-processing") is None
    assert keeper(store, "run-9").acquire()
    broken = store.break_lease("order-processing")
    assert broken is not None and broken.owner == "run-9" and store.lease("order-processing") is None
