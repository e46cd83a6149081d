"""Token-bucket limiter: never above the rate (beyond the burst), close to it when saturated, thread-safe."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jtl_automator.resilience import RateLimiter
from tests.clients.conftest import FakeClock


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=500),
    burst=st.integers(min_value=1, max_value=20),
    n=st.integers(min_value=1, max_value=300),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), max_size=300),
)
@pytest.mark.slow
def test_no_window_exceeds_burst_plus_rate(rate: float, burst: int, n: int, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate, burst, clock=clock, sleep=clock.sleep)
    times = []
    for i in range(n):
        if i < len(gaps):
            clock.now += gaps[i]  # the caller does other work between requests
        limiter.acquire()
        times.append(clock.now)
    # GCRA guarantee: any k consecutive grants span at least (k - burst) / rate seconds.
    eps = 1e-6
    for i in range(len(times)):
        for j in range(i + burst, min(len(times), i + burst + 25)):
            assert times[j] - times[i] >= (j - i - burst + 1) / rate - eps


@settings(max_examples=100, deadline=None)
@given(rate=st.floats(min_value=1, max_value=1000), burst=st.integers(min_value=1, max_value=10))
def test_saturated_caller_runs_at_the_rate(rate: float, burst: int) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate, burst, clock=clock, sleep=clock.sleep)
    n = 200
    start = clock.now
    for _ in range(n):
        limiter.acquire()
    elapsed = clock.now - start
    assert elapsed == pytest.approx((n - burst) / rate, rel=1e-6, abs=1e-9)


def test_pause_holds_everyone_then_resumes_without_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, burst=5, clock=clock, sleep=clock.sleep)
    limiter.pause(3.0)
    assert limiter.acquire() == pytest.approx(3.0)
    assert limiter.acquire() == pytest.approx(0.1)  # no burst right after a server-imposed pause


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(1, burst=0)


@pytest.mark.slow
def test_threads_share_one_limiter_in_real_time() -> None:
    limiter = RateLimiter(200, burst=1)
    grants: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            limiter.acquire()
            with lock:
                grants.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert len(grants) == 100
    assert elapsed >= 99 / 200 - 0.02  # 100 grants at 200/s cannot finish faster than ~0.5 s
    assert elapsed < 2.0
