"""Shared rate limits (jtl_automator.shared_limits): batches, expiry, fallback and honesty, on fake time."""

from __future__ import annotations

import bisect
import logging
import threading
import time
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

    def take(self, slots: int) -> None:
        if self.down:
            raise SharedLimitUnavailable(self.down)
        with self.lock:
            self.busy += 1
            self.most_at_once = max(self.most_at_once, self.busy)
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.busy -= 1
            self.taken.append(slots)


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


@dataclass
class ProcessSlots:
    """One process's view of the shared bucket: a blocking ``take`` moves only this process's clock."""

    bucket: Bucket
    clock: FakeClock

    @property
    def name(self) -> str:
        return self.bucket.limit.name

    def describe(self) -> SharedLimit:
        return self.bucket.limit

    def take(self, slots: int) -> None:
        self.clock.advance(self.bucket.grant(self.clock(), slots) - self.clock())


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
    pool = PermitPool(source, clock=clock)
    caplog.set_level(logging.INFO, logger=LOGGER)
    for _ in range(25):
        assert pool.take() == 0.0
    assert source.taken == [10, 10, 10] and source.described == 1
    assert pool.shared and pool.batches == 3 and pool.limit == source.limit
    assert _lines(caplog) == [
        (
            logging.INFO,
            "rate limit jtl-ffn-api shared across processes: 20 slots, 20 per second, taken 10 at a time",
        )
    ]


def test_permits_unused_for_twice_a_batch_s_refill_time_are_dropped() -> None:
    source, clock = FakeSource(), FakeClock()
    pool = PermitPool(source, clock=clock)
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
    pool = PermitPool(source, clock=clock, retry_seconds=60)
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
    pool = PermitPool(source, clock=clock, retry_seconds=30)
    for _ in range(10):
        pool.take()
    source.down, source.down_on_take = "gone", True
    assert pool.take() == 0.0 and not pool.shared
    source.down = None
    clock.advance(31)
    pool.take()
    assert pool.shared and source.described == 2 and source.taken == [10, 10]


def test_threads_of_one_process_share_batches_and_only_one_fetches_at_a_time() -> None:
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
    assert source.most_at_once == 1
    assert sum(source.taken) == 200 + pool._left  # nothing lost, nothing handed out twice


def test_a_429_pause_holds_back_every_client_of_the_process() -> None:
    pool = PermitPool(FakeSource())
    pool.take()
    pool.pause(0.3)
    started = time.monotonic()
    pool.take()
    assert time.monotonic() - started >= 0.25


def test_the_shared_limiter_is_a_rate_limiter_that_paces_locally_then_takes_a_permit() -> None:
    source, clock = FakeSource(), FakeClock()
    pool = PermitPool(source, clock=clock)
    limiter = SharedRateLimiter(10.0, burst=1, pool=pool, clock=clock, sleep=clock.sleep)
    assert isinstance(limiter, RateLimiter)
    for _ in range(5):
        limiter.acquire()
    assert clock.sleeps == pytest.approx([0.1] * 4)  # the local pacing, as before
    assert source.taken == [10]
    limiter.pause(2.0)
    assert pool._resume_at == pytest.approx(clock() + 2.0)


@pytest.mark.parametrize("processes", [2, 3])
def test_processes_sharing_one_bucket_never_exceed_its_bound_and_use_nearly_all_of_it(processes: int) -> None:
    """Each process sends as fast as its permits allow, on its own fake clock (events in time order)."""
    limit = SharedLimit("jtl-ffn-api", 20, 20.0)
    bucket = Bucket(limit)
    clocks = [FakeClock(now=0.0) for _ in range(processes)]
    pools = [PermitPool(ProcessSlots(bucket, clock), clock=clock) for clock in clocks]
    stamps: list[float] = []
    while min(c() for c in clocks) < 60.0:
        i = min(range(processes), key=lambda k: clocks[k]())
        pools[i].take()
        stamps.append(clocks[i]())
        clocks[i].advance(0.004)  # the request itself
    stamps.sort()
    for window in (1.0, 5.0, 20.0):
        most = max(bisect.bisect_left(stamps, start + window) - i for i, start in enumerate(stamps))
        assert most <= limit.burst_bound(window), (window, most)
    steady = [s for s in stamps if 5.0 <= s < 55.0]
    assert 0.9 * 20.0 <= len(steady) / 50.0 <= 20.0 * 1.02
