"""Bounded concurrency per API: threads share one client, hence one rate limiter and one in-flight limit.

Against the sandbox with a latency profile (scaled): the on-premise Wawi serves two requests at once and,
strict, refuses a third with 503; FFN enforces a fixed-window rate limit. A client whose bounds match
the server's never meets either refusal, however many threads overlap their requests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.clients.errors import TransientError
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.resilience import InFlightLimit, Retry, call_with_retry
from jtl_automator.sandbox import latency
from jtl_automator.sandbox.app import SandboxState, create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.latency_model import ApiLatency, LatencyProfile, safe_client_rate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from tests.support.clock import FakeClock, policy_on

#: Wawi 30 ms and FFN 10 ms per request, fixed, so the concurrency shows in the timings.
PROFILE = LatencyProfile(
    name="test",
    wawi=ApiLatency(median_ms=600),
    ffn=ApiLatency(median_ms=200),
    wawi_onprem_concurrency=2,
    ffn_rate_limit=20,
    ffn_rate_interval_seconds=60,
)
SCALE = 20  # FFN windows of 3 s, latencies 30 ms and 10 ms


def test_in_flight_limit_bounds_threads_and_frees_the_slot_on_errors() -> None:
    limit = InFlightLimit(3)
    barrier = threading.Barrier(3, timeout=5)

    def work(n: int) -> int:
        with limit.slot():
            if n < 3:
                barrier.wait()  # the first three are in at once
            if n == 5:
                raise ValueError("boom")
        return n

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(work, n) for n in range(8)]
    results = [f.exception() or f.result() for f in futures]
    assert limit.peak == 3
    assert isinstance(results[5], ValueError) and results[:5] == [0, 1, 2, 3, 4]
    with limit.slot(), limit.slot(), limit.slot():  # all three free again
        pass
    with pytest.raises(ValueError):
        InFlightLimit(0)


def test_call_with_retry_holds_no_slot_while_it_waits_between_attempts(clock: FakeClock) -> None:
    limit = InFlightLimit(1)
    free_during_sleep: list[bool] = []

    def sleep(seconds: float) -> None:
        free_during_sleep.append(limit.free == 1)  # another thread could send now
        clock.sleep(seconds)

    policy = replace(policy_on(clock, max_attempts=3), sleep=sleep)
    attempts: list[int] = []

    def attempt(number: int) -> str:
        attempts.append(number)
        if number < 3:
            raise TransientError("503", method="GET", path="/x")
        return "ok"

    result = call_with_retry(attempt, lambda e: Retry("503"), policy, what="GET /x", in_flight=limit)
    assert result == "ok" and attempts == [1, 2, 3]
    assert free_during_sleep == [True, True] and limit.peak == 1


@dataclass
class Served:
    state: SandboxState
    env: dict[str, str]
    tmp: Path

    def settings(self, **values: Any) -> Settings:
        base: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in self.env.items()}
        return Settings(_env_file=None, **{**base, **values})


def _serve(tmp: Path, config: SandboxConfig) -> Iterator[Served]:
    app = create_app(generate(seed=3, skus=40, orders=40, customers=20), config)
    with serve_in_thread(app) as server:
        yield Served(app.state.sandbox, credentials_env(server.base_url, config, None), tmp)


@pytest.fixture
def strict_world(tmp_path: Path) -> Iterator[Served]:
    """Strict: the on-premise Wawi refuses (503) what its two workers cannot take."""
    yield from _serve(tmp_path, SandboxConfig.strictest().with_latency(PROFILE, time_scale=SCALE))


def _read_line_items(wawi: WawiClient, ids: list[int], threads: int) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(wawi.sales_orders.raw_line_items, ids))


@pytest.mark.slow
def test_wawi_threads_never_exceed_the_servers_workers(strict_world: Served) -> None:
    wawi = WawiClient.from_settings(strict_world.settings(wawi_rate_per_second=1000, wawi_max_in_flight=2))
    ids = sorted(strict_world.state.data.wawi.sales_orders)[:32]
    lines = _read_line_items(wawi, ids, threads=8)
    assert len(lines) == 32
    stats = latency.stats(strict_world.state)
    assert stats["wawi"]["refused"] == 0 and wawi.stats.by_status[503] == 0
    assert stats["wawi_workers"]["peak_busy"] == 2
    assert wawi.core.in_flight is not None and wawi.core.in_flight.peak == 2
    # 32 requests two at a time, 30 ms each: the server's bound, and not much more
    assert stats["wawi"]["busy_seconds"] >= 32 * 0.030


@pytest.mark.slow
def test_a_client_sending_more_than_the_server_serves_is_refused(strict_world: Served) -> None:
    """The counter-test: the same reads with four on the wire meet the strict server's 503s."""
    wawi = WawiClient.from_settings(strict_world.settings(wawi_rate_per_second=1000, wawi_max_in_flight=4))

    def read(order_id: int) -> str:
        try:
            wawi.sales_orders.raw_line_items(order_id)
        except TransientError:
            return "gave up"
        return "read"

    ids = sorted(strict_world.state.data.wawi.sales_orders)[:32]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(read, ids))
    assert len(outcomes) == 32
    assert latency.stats(strict_world.state)["wawi"]["refused"] > 0
    assert wawi.stats.by_status[503] > 0


@pytest.mark.slow
def test_ffn_threads_share_one_limiter_and_meet_no_429(tmp_path: Path) -> None:
    config = SandboxConfig().with_latency(PROFILE, time_scale=60)
    for served in _serve(tmp_path, config):
        window = config.scaled(PROFILE.ffn_rate_interval_seconds)  # 1 s
        rate = safe_client_rate(20, window, jitter_seconds=0.3)  # a loaded machine delays sends
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        ffn = FfnClient.from_settings(served.settings(ffn_rate_per_second=rate, ffn_max_in_flight=4), store)
        jfskus = sorted(served.state.data.ffn.stocks)[:24]
        with ThreadPoolExecutor(8) as pool:
            stocks = list(pool.map(ffn.stocks.get, jfskus))
        assert len(stocks) == 24
        assert ffn.stats.rate_limited == 0
        assert served.state.runtime.requests["by_status"].get("429", 0) == 0
        assert ffn.core.in_flight is not None and ffn.core.in_flight.peak <= 4
        store.dispose()


def test_slots_go_to_the_waiting_in_the_order_they_asked() -> None:
    """A freed slot is handed to the longest waiting, not to whichever thread asks next: what a flow
    asks for first (the rates every page's pricing waits for) is on the wire first."""
    import threading
    import time

    from jtl_automator.resilience import InFlightLimit

    limit = InFlightLimit(1)
    order: list[int] = []
    hold = threading.Event()

    def holder() -> None:
        with limit.slot():
            hold.wait(5)

    def ask(n: int) -> None:
        with limit.slot():
            order.append(n)

    first = threading.Thread(target=holder)
    first.start()
    time.sleep(0.02)
    waiting = []
    for n in range(5):  # each starts waiting after the one before
        thread = threading.Thread(target=ask, args=(n,))
        thread.start()
        waiting.append(thread)
        time.sleep(0.02)
    hold.set()
    for thread in [first, *waiting]:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4] and limit.peak == 1
