"""Shared rate limits (jtl_automator.shared_limits): batches, expiry, fallback and honesty, on fake time."""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from jtl_automator.resilience import RateLimiter
from jtl_automator.shared_limits import (
    PermitPool,
    SharedLimit,
    SharedLimitUnavailable,
    SharedRateLimiter,
)
from tests.support.clock import FakeClock

LOGGER = "jtl_automator.shared_limits"


def inline(fetch: Callable[[], None]) -> None:
    """Fetch in the taking thread: deterministic on fake time."""
    fetch()


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """The pool's log lines without the correlation prefix (``[run id] ``)."""
    return [(r.levelno, r.getMessage().split("] ", 1)[-1]) for r in caplog.records if r.name == LOGGER]


@dataclass
class FakeSource:
    """A shared bucket that never makes anyone wait; can be switched off (the server gone)."""

    limit: SharedLimit = field(default_factory=lambda: SharedLimit("jtl-ffn-api", 20, 20.0))
    down: str | None = None
    down_on_take: bool = False
    taken: list[int] = field(default_factory=list)
    described: int = 0
    delay: float = 0.0
    busy: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.limit.name

    def describe(self) -> SharedLimit:
        self.described += 1
        if self.down and not self.down_on_take:
            raise SharedLimitUnavailable(self.down)
        return self.limit

    def take(self, slots: int) -> SharedLimit:
        if self.down:
            raise SharedLimitUnavailable(self.down)
        with self.lock:
            self.busy += 1
            self.most_at_once = max(self.most_at_once, self.busy)
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.busy -= 1
            self.taken.append(min(slots, self.limit.batch))
        return self.limit


@dataclass
class Bucket:
    """A token bucket several processes share (as a Prefect limit), granting in the order asked (GCRA).

    Continuous refill without rounding, so it is at least as generous as Prefect's (which floors decay).
    """

    limit: SharedLimit
    tat: float = 0.0  # when the bucket would be empty

    def grant(self, asked_at: float, slots: int) -> float:
        """When ``slots`` asked for at ``asked_at`` are granted."""
        rate, size = self.limit.rate_per_second, self.limit.limit
        granted = max(asked_at, self.tat + (slots - size) / rate)
        self.tat = max(self.tat, granted) + slots / rate
        return granted


def test_a_shared_limit_takes_half_the_bucket_at_a_time_and_bounds_every_window() -> None:
    limit = SharedLimit("jtl-ffn-api", 20, 20.0)
    assert (limit.batch, limit.permit_seconds) == (10, 1.0)
    assert limit.burst_bound(10) == 20 + 2 * 10 + 200
    assert SharedLimit("jtl-sheets-api", 1, 1.0).batch == 1
    assert SharedLimit.for_rate("x", 0.5, burst=0).limit == 1
    with pytest.raises(ValueError, match="refill rate"):
        SharedLimit("x", 5, 0.0)
    with pytest.raises(ValueError, match="at least one slot"):
        SharedLimit("x", 0, 1.0)


def test_the_pool_takes_batches_and_hands_them_out_one_by_one(caplog: pytest.LogCaptureFixture) -> None:
    source, clock = FakeSource(), FakeClock()
    pool = PermitPool(source, clock=clock, spawn=inline)
    caplog.set_level(logging.INFO, logger=LOGGER)
    for _ in range(25):
        assert pool.take() == 0.0
    # the next batch is asked for when half of one is left: 25 handed out, 15 in hand
    assert source.taken == [10, 10, 10, 10] and source.described == 1
    assert pool.in_hand == 15 and pool.shared and pool.batches == 4 and pool.limit == source.limit
    assert _lines(caplog) == [
        (
            logging.INFO,
            "rate limit jtl-ffn-api shared across processes: 20 slots, 20 per second, taken 10 at a time",
        )
    ]


def test_permits_unused_for_twice_a_batch_s_refill_time_are_dropped() -> None:
    source, clock = FakeSource(), FakeClock()
    pool = PermitPool(source, clock=clock, spawn=inline)
    pool.take()
    clock.advance(0.99)
    pool.take()  # still within permit_seconds (1.0 s)
    clock.advance(0.02)
    pool.take()  # the 8 left are stale: a new batch
    assert source.taken == [10, 10] and pool.expired == 8


def test_without_the_shared_limit_the_pool_stands_aside_says_so_once_and_asks_again_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeSource(down="the Prefect server did not answer (ConnectError)")
    clock = FakeClock()
    pool = PermitPool(source, clock=clock, retry_seconds=60, spawn=inline)
    caplog.set_level(logging.INFO, logger=LOGGER)
    for _ in range(50):
        assert pool.take() == 0.0
    assert source.described == 1 and not pool.shared
    clock.advance(61)
    pool.take()
    assert source.described == 2  # asked again after retry_seconds, still down: no second line
    source.down = None
    clock.advance(61)
    pool.take()
    assert pool.shared and source.taken == [10]
    assert _lines(caplog) == [
        (
            logging.WARNING,
            "rate limit jtl-ffn-api not shared across processes: the Prefect server did not answer "
            "(ConnectError); this process limits itself (asking again every 60 s)",
        ),
        (
            logging.INFO,
            "rate limit jtl-ffn-api shared across processes: 20 slots, 20 per second, taken 10 at a time",
        ),
    ]


def test_a_server_lost_mid_run_falls_back_and_is_described_again_when_back() -> None:
    source, clock = FakeSource(), FakeClock()
    pool = PermitPool(source, clock=clock, retry_seconds=30, spawn=inline)
    for _ in range(10):
        pool.take()
    source.down, source.down_on_take = "gone", True
    for _ in range(10):  # the 10 in hand are used; asking for more fails
        assert pool.take() == 0.0
    assert not pool.shared and source.taken == [10, 10]
    source.down = None
    clock.advance(31)
    pool.take()
    assert pool.shared and source.described == 2 and source.taken == [10, 10, 10]


def test_a_limit_made_smaller_while_running_shrinks_the_batches() -> None:
    source, clock = FakeSource(), FakeClock()
    pool = PermitPool(source, clock=clock, spawn=inline)
    pool.take()
    source.limit = SharedLimit("jtl-ffn-api", 4, 4.0)  # an operator lowered it: batches of 2 now
    for _ in range(6):
        pool.take()
    assert pool.limit == source.limit and source.taken == [10, 2] and pool.in_hand == 5


def test_threads_of_one_process_share_batches_and_at_most_two_are_asked_for_at_once() -> None:
    source = FakeSource(delay=0.01)
    pool = PermitPool(source)
    handed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            pool.take()
            with lock:
                handed.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(handed) == 200
    assert 1 <= source.most_at_once <= 2
    assert sum(source.taken) == 200 + pool.in_hand + pool.expired  # nothing lost or handed out twice


def test_a_429_pause_holds_back_every_client_of_the_process() -> None:
    pool = PermitPool(FakeSource())
    pool.take()
    pool.pause(0.3)
    started = time.monotonic()
    pool.take()
    assert time.monotonic() - started >= 0.25


def test_the_shared_limiter_is_a_rate_limiter_that_paces_locally_then_takes_a_permit() -> None:
    source, clock = FakeSource(), FakeClock()
    pool = PermitPool(source, clock=clock, spawn=inline)
    limiter = SharedRateLimiter(10.0, burst=1, pool=pool, clock=clock, sleep=clock.sleep)
    assert isinstance(limiter, RateLimiter)
    for _ in range(5):
        limiter.acquire()
    assert clock.sleeps == pytest.approx([0.1] * 4)  # the local pacing, as before
    assert source.taken == [10, 10]  # the second asked for when half of the first was left
    limiter.pause(2.0)
    assert pool._resume_at == pytest.approx(clock() + 2.0)


@pytest.mark.parametrize("processes", [2, 3])
def test_processes_sharing_one_bucket_never_exceed_its_bound_and_use_nearly_all_of_it(processes: int) -> None:
    """Each process sends as fast as its permits allow; fetches run in the background (events in time order).

    Driven by events on fake time: a request event runs the pool's decision step, a fetch reserves its
    slots in the bucket when asked and delivers them when granted, after a 0.2 s round trip.
    """
    limit = SharedLimit("jtl-ffn-api", 20, 20.0)
    bucket = Bucket(limit)
    clocks = [FakeClock(now=0.0) for _ in range(processes)]
    events: list[tuple[float, int, str, int]] = []
    fetches: dict[int, Callable[[], None]] = {}
    waiting: set[int] = set()
    seq = itertools.count()

    def spawner(i: int) -> Callable[[Callable[[], None]], None]:
        def spawn(fetch: Callable[[], None]) -> None:
            granted = bucket.grant(clocks[i]() + 0.1, limit.batch) + 0.1
            fetches[i] = fetch
            heapq.heappush(events, (granted, next(seq), "fetched", i))

        return spawn

    class Reserved:
        name = limit.name

        def describe(self) -> SharedLimit:
            return limit

        def take(self, slots: int) -> SharedLimit:  # reserved when the fetch was spawned
            return limit

    pools = [PermitPool(Reserved(), clock=clocks[i], spawn=spawner(i)) for i in range(processes)]
    for i in range(processes):
        heapq.heappush(events, (0.0, next(seq), "request", i))
    stamps: list[float] = []
    while events:
        now, _, kind, i = heapq.heappop(events)
        if now >= 60.0:
            break
        clocks[i].now = now
        if kind == "fetched":
            fetches.pop(i)()
            if i in waiting:
                waiting.discard(i)
                heapq.heappush(events, (now, next(seq), "request", i))
            continue
        with pools[i]._cond:
            got, fetch = pools[i]._take_locked()  # the decision step of take(), without blocking
        if fetch:
            pools[i]._spawn(pools[i]._fetch)
        if got:
            stamps.append(now)
            heapq.heappush(events, (now + 0.004, next(seq), "request", i))  # the request itself
        else:
            waiting.add(i)
    stamps.sort()
    for window in (1.0, 5.0, 20.0):
        most = max(bisect.bisect_left(stamps, start + window) - i for i, start in enumerate(stamps))
        assert most <= limit.burst_bound(window), (window, most)
    steady = [s for s in stamps if 5.0 <= s < 55.0]
    assert 0.95 * 20.0 <= len(steady) / 50.0 <= 20.0 * 1.02
    assert sum(pool.expired for pool in pools) < 0.05 * len(stamps)
