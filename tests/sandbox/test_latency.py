"""The latency layer: service times per API, the on-premise Wawi's workers, scaled rate windows.

The distributions are checked on their own (pure, many draws); the middleware through a tiny app and
through the real sandbox over HTTP, with a time scale so a profile of seconds runs in milliseconds.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jtl_automator.sandbox import latency
from jtl_automator.sandbox.app import SandboxState, create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.latency_model import (
    LATENCY_APIS,
    LATENCY_PROFILES,
    ApiLatency,
    LatencyProfile,
    RequestTiming,
    WorkerSchedule,
    concurrency_bound_seconds,
    listing_chain_seconds,
    page_number,
    request_rng,
    route_of,
    safe_client_rate,
    sustained_bound_seconds,
    window_bound_seconds,
)
from jtl_automator.sandbox.server import asgi_transport, credentials_env, serve_in_thread

WAWI = "/wawi/api/eazybusiness/v1/ping"
FFN = "/api/v1/merchant/ping"
SHEETS = "/sheets/v4/ping"
FIXED = LatencyProfile(
    name="fixed",
    wawi=ApiLatency(median_ms=400),
    ffn=ApiLatency(median_ms=200),
    sheets=ApiLatency(median_ms=300),
)


def tiny_app(config: SandboxConfig) -> tuple[FastAPI, SandboxState]:
    """One ping route per API behind the latency middleware; counts what reached the handler."""
    state = SandboxState(data=SandboxData(), config=config)
    state.runtime["handled"] = 0
    app = FastAPI()

    def ping() -> dict[str, Any]:
        state.runtime["handled"] += 1
        return {"ok": True}

    for path in (WAWI, FFN, SHEETS):
        app.add_api_route(path, ping, methods=["GET"])
    latency.install(app, state)
    return app, state


@pytest.fixture
def served() -> Iterator[tuple[httpx.Client, SandboxState]]:
    """The fixed profile at 1/20 of real time, over HTTP: Wawi 20 ms, FFN 10 ms, Sheets 15 ms."""
    app, state = tiny_app(SandboxConfig(latency=FIXED, time_scale=20))
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client, state


# --- the distributions ------------------------------------------------------------------------------


def test_default_wawi_has_the_documented_median_tail_and_stalls() -> None:
    wawi = LATENCY_PROFILES["default"].wawi
    assert wawi is not None
    rng = random.Random(7)
    draws = [wawi.draw(rng) for _ in range(50_000)]
    seconds = sorted(s for s, _ in draws)
    assert 0.14 < statistics.median(seconds) < 0.16
    assert seconds[int(0.99 * len(seconds))] > 2.0  # p99 over 2 s
    stalls = sum(1 for _, stalled in draws if stalled)
    assert 20 < stalls < 90  # 0.1 % of 50,000, each 10 s on top
    assert all(s >= 10 for s, stalled in draws if stalled)
    assert wawi.quantile(0.99) > 2.0 and abs(wawi.quantile(0.5) - 0.15) < 1e-9
    assert abs(statistics.fmean(seconds) - wawi.mean()) / wawi.mean() < 0.05


def test_default_ffn_and_sheets_medians() -> None:
    profile = LATENCY_PROFILES["default"]
    for dist, median in ((profile.ffn, 0.08), (profile.sheets, 0.25)):
        assert dist is not None
        rng = random.Random(3)
        draws = [dist.draw(rng)[0] for _ in range(20_000)]
        assert abs(statistics.median(draws) - median) / median < 0.05


def test_the_shop_is_a_php_shop_on_shared_hosting_slower_on_a_bad_day() -> None:
    default, slow = LATENCY_PROFILES["default"].shop, LATENCY_PROFILES["slow"].shop
    assert default is not None and slow is not None
    assert "shop" in LATENCY_APIS and LATENCY_PROFILES["default"].for_api("shop") is default
    assert LATENCY_PROFILES["none"].for_api("shop") is None
    assert default.quantile(0.5) == pytest.approx(0.2) and 0.6 < default.quantile(0.99) < 1.0
    assert slow.quantile(0.5) == pytest.approx(0.5) and slow.quantile(0.99) > 2.5
    assert slow.mean() > 2 * default.mean() and slow.stall_probability > default.stall_probability
    rng = random.Random(5)
    draws = [default.draw(rng) for _ in range(50_000)]
    seconds = sorted(s for s, _ in draws)
    assert abs(statistics.median(seconds) - 0.2) < 0.01
    assert 50 < sum(1 for _, stalled in draws if stalled) < 160  # 0.2 % of 50,000, each 5 s on top
    assert abs(statistics.fmean(seconds) - default.mean()) / default.mean() < 0.05


def test_shop_api_paths_belong_to_the_shop_its_storefront_to_no_api() -> None:
    assert latency.api_of("/shop/api/v1/product") == "shop"
    assert latency.api_of("/shop/api/v1/cart/2001") == "shop"
    assert latency.api_of("/shop/") is None and latency.api_of("/shop/some-page") is None
    assert latency.api_of("/api/v1/merchant/products") == "ffn"  # FFN's /api is not the shop's
    assert route_of("/shop/api/v1/cart/2001") == "/shop/api/v1/cart/{id}"
    assert route_of("/shop/api/v1/product") == "/shop/api/v1/product"


def test_a_request_draws_the_same_whatever_came_before() -> None:
    wawi = LATENCY_PROFILES["slow"].wawi
    assert wawi is not None
    first = wawi.draw(request_rng(42, "slow", "wawi", "GET /v1/salesOrders/7/lineitems?", 1))
    again = wawi.draw(request_rng(42, "slow", "wawi", "GET /v1/salesOrders/7/lineitems?", 1))
    other_seed = wawi.draw(request_rng(43, "slow", "wawi", "GET /v1/salesOrders/7/lineitems?", 1))
    repeated = wawi.draw(request_rng(42, "slow", "wawi", "GET /v1/salesOrders/7/lineitems?", 2))
    assert first == again
    assert first != other_seed and first != repeated


def test_with_latency_sets_the_limits_the_profile_implies() -> None:
    config = SandboxConfig().with_latency("default", time_scale=5)
    assert config.latency_profile().name == "default" and config.time_scale == 5
    assert config.wawi_onprem_concurrency == 4 and config.wawi_onprem_excess == "queue"
    assert (config.ffn_rate_limit, config.ffn_rate_interval_seconds) == (1200, 60)
    assert config.sheets_quota("read") == 60 and config.sheets_quota("write") == 60
    assert config.scaled(60) == 12
    strict = SandboxConfig.strictest().with_latency("slow")
    assert strict.wawi_onprem_excess == "refuse" and strict.wawi_onprem_concurrency == 2
    assert strict.ffn_rate_limit == 300
    # "none" answers at once and leaves every limit as configured
    assert SandboxConfig.strictest().with_latency("none").ffn_rate_limit == 300
    with pytest.raises(KeyError, match="unknown latency profile"):
        SandboxConfig().with_latency("fast")
    with pytest.raises(ValueError, match="time_scale"):
        SandboxConfig(time_scale=0)


def test_bounds() -> None:
    assert window_bound_seconds(1200, 1200, 60) == 0  # one window's worth may go at once
    assert window_bound_seconds(1201, 1200, 60) == 60
    assert window_bound_seconds(2055, 300, 60) == 360
    assert sustained_bound_seconds(2400, 1200, 60) == 120
    assert concurrency_bound_seconds(100.0, 4) == 25 and concurrency_bound_seconds(100.0, None) == 0
    rate = safe_client_rate(1200, 60)
    assert 19.3 < rate < 19.4  # 1200 / (60 + 1 s of jitter + 1 s of burst)
    assert int(rate) + rate * 61 <= 1200  # the burst plus a window and its jitter stay within the limit
    assert safe_client_rate(20, 1.0, burst_seconds=0.0, jitter_seconds=0.0) == 20
    with pytest.raises(ValueError):
        safe_client_rate(0, 60)


# --- the middleware -------------------------------------------------------------------------------


@pytest.mark.slow
def test_each_api_answers_after_its_scaled_service_time(served: tuple[httpx.Client, SandboxState]) -> None:
    client, state = served
    for path, floor in ((WAWI, 0.020), (FFN, 0.010), (SHEETS, 0.015)):
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        took = time.perf_counter() - started
        assert floor <= took < floor + 0.25, (path, took)
    stats = latency.stats(state)
    assert {api: stats[api]["requests"] for api in ("wawi", "ffn", "sheets")} == {
        "wawi": 1,
        "ffn": 1,
        "sheets": 1,
    }
    assert stats["wawi"]["busy_seconds"] == pytest.approx(0.020)
    assert stats["wawi"]["late_seconds"] < 0.25  # the sandbox kept to the schedule


def test_requests_of_no_profiled_api_and_the_none_profile_pass_at_once() -> None:
    app, state = tiny_app(SandboxConfig())
    transport = asgi_transport(app)
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        for path in (WAWI, FFN, SHEETS):
            assert client.get(path).status_code == 200
    transport.close()
    assert latency.stats(state) == {}
    assert state.runtime["handled"] == 3


@pytest.mark.slow
def test_the_onprem_wawi_serves_its_concurrency_and_queues_the_rest() -> None:
    config = SandboxConfig(latency=FIXED, time_scale=10, wawi_onprem_concurrency=2)  # 40 ms each
    app, state = tiny_app(config)
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: client.get(WAWI).status_code, range(8)))
        took = time.perf_counter() - started
        assert client.get(FFN).status_code == 200  # FFN is not the merchant's PC: no workers there
    assert statuses == [200] * 8
    assert took >= 4 * 0.040  # 8 requests, 2 at a time, 40 ms each
    stats = latency.stats(state)
    workers = stats["wawi_workers"]
    assert (workers["capacity"], workers["peak_busy"]) == (2, 2) and workers["peak_waiting"] >= 1
    assert stats["wawi"]["queued"] >= 1 and stats["wawi"]["refused"] == 0
    assert concurrency_bound_seconds(stats["wawi"]["busy_seconds"], 2) <= took
    # every request's timing is kept; the longest pure service time leaves the wait for a worker out
    timeline = stats["wawi"]["timeline"]
    assert len(timeline) == 8 and all(r.service == pytest.approx(0.040) for r in timeline)
    assert all(r.done == pytest.approx(r.start + r.service) and r.start >= r.arrived for r in timeline)
    assert stats["wawi"]["max_service_seconds"] == pytest.approx(0.040)
    assert stats["wawi"]["max_seconds"] > 0.040  # arrival to answer: some waited for a worker


@pytest.mark.slow
def test_strict_refuses_what_the_workers_cannot_take_with_503_before_the_handler() -> None:
    config = SandboxConfig.strictest(latency=FIXED, time_scale=10, wawi_onprem_concurrency=1)
    app, state = tiny_app(config)
    with (
        serve_in_thread(app) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        responses = list(pool.map(lambda _: client.get(WAWI), range(4)))
    refused = [r for r in responses if r.status_code == 503]
    assert refused and all(r.status_code in (200, 503) for r in responses)
    assert refused[0].json()["ErrorCode"] == "ServerBusy" and refused[0].headers["Retry-After"] == "1"
    assert state.runtime["handled"] == 4 - len(refused)  # a refused request never reached the handler
    assert latency.stats(state)["wawi"]["refused"] == len(refused)


def test_the_same_requests_draw_the_same_latencies_in_any_order() -> None:
    profile = LATENCY_PROFILES["default"]
    drawn = []
    for order in (range(30), reversed(range(30))):
        app, state = tiny_app(SandboxConfig(latency=profile, time_scale=1_000_000, seed=9))
        transport = asgi_transport(app)
        with httpx.Client(transport=transport, base_url="http://sandbox") as client:
            for n in order:
                assert client.get(WAWI, params={"n": n}).status_code == 200
        transport.close()
        drawn.append(latency.stats(state)["wawi"]["busy_seconds"])
    assert drawn[0] == pytest.approx(drawn[1], rel=1e-9) and drawn[0] > 0


def test_rewound_draws_give_a_repeated_run_the_same_latencies_and_without_the_next_ones() -> None:
    """What the repeats of a run that changes nothing rely on (``benchmarks._latency.fastest_of``)."""
    app, state = tiny_app(SandboxConfig(latency=LATENCY_PROFILES["default"], time_scale=1_000_000, seed=9))
    client = httpx.Client(transport=asgi_transport(app), base_url="http://sandbox")

    def run() -> list[float]:
        latency.reset_stats(state)
        for n in (1, 1, 2):  # the same request twice: its second occurrence draws anew
            assert client.get(WAWI, params={"n": n}).status_code == 200
        return [t.service for t in state.runtime.latency.stats.of("wawi").timeline]

    start = latency.draw_position(state)
    first = run()
    onward = run()
    latency.rewind_draws(state, start)
    again = run()
    client.close()
    assert again == first and first[0] != first[1]
    assert onward != first  # without the rewind the requests draw on


def test_worker_schedule_queues_or_refuses_when_every_worker_is_busy() -> None:
    workers = WorkerSchedule(2)
    assert [workers.admit(0.0, 1.0) for _ in range(4)] == [(0.0, 1.0), (0.0, 1.0), (1.0, 2.0), (1.0, 2.0)]
    assert workers.peak_busy == 2 and workers.peak_waiting == 2
    assert workers.admit(1.5, 0.5, refuse=True) is None  # both busy until 2.0
    assert workers.admit(2.0, 0.5, refuse=True) == (2.0, 2.5)  # a worker is free again
    assert workers.busy(2.1) == 1 and workers.busy(3.0) == 0
    workers.reset_peaks(3.0)
    assert (workers.peak_busy, workers.peak_waiting) == (0, 0)
    with pytest.raises(ValueError):
        WorkerSchedule(0)


# --- rate windows in scaled time -------------------------------------------------------------------


@pytest.fixture
def scaled_world() -> Iterator[tuple[dict[str, str], SandboxState]]:
    """The real sandbox with FFN's limit at 3 per 60 s and every window 300x shorter (0.2 s)."""
    config = SandboxConfig(ffn_rate_limit=3, ffn_rate_interval_seconds=60, time_scale=300)
    app = create_app(generate(seed=1, skus=10, orders=5, customers=5), config)
    with serve_in_thread(app) as server:
        yield credentials_env(server.base_url, config, None), app.state.sandbox


@pytest.mark.slow
def test_ffn_rate_windows_shrink_with_the_time_scale(
    scaled_world: tuple[dict[str, str], SandboxState],
) -> None:
    env, state = scaled_world
    token = httpx.post(
        env["JTL_FFN_TOKEN_URL"],
        data={"grant_type": "refresh_token", "refresh_token": env["JTL_FFN_REFRESH_TOKEN"]},
        auth=(env["JTL_FFN_CLIENT_ID"], env["JTL_FFN_CLIENT_SECRET"]),
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = env["JTL_FFN_BASE_URL"] + "/v1/merchant/products"
    with httpx.Client(headers=headers, timeout=10) as client:
        answers = [client.get(url) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["X-RateLimit-Interval-Length-Seconds"] == "0.2"
        time.sleep(0.25)
        assert client.get(url).status_code == 200  # a new window, 0.2 s later
    assert state.runtime.ffn is not None
    assert dict(state.runtime.ffn.rate_counts) == {"GET /products": 5}


# --- the shop: its latency and the strict cost model on top ------------------------------------------

SHOP_FIXED = LatencyProfile(name="shop-fixed", shop=ApiLatency(median_ms=200))


def shop_stats(state: SandboxState, requests: int) -> dict[str, Any]:
    """The shop's stats once ``requests`` are counted (the layer counts before an answer's last byte)."""
    for _ in range(200):
        stats = latency.stats(state).get("shop")
        if stats and stats["requests"] >= requests:
            return stats
        time.sleep(0.005)
    raise AssertionError(f"the shop's stats never counted {requests} request(s): {latency.stats(state)}")


@pytest.mark.slow
def test_shop_answers_after_its_latency_plus_the_strict_cost_model_and_the_cap_still_holds() -> None:
    """Strict shop at 1/10 of real time: 20 ms latency, plus the rows' cost; past the 30 s cap a 500."""
    config = SandboxConfig.strictest(latency=SHOP_FIXED, time_scale=10)
    assert config.shop_max_execution_seconds == 30
    app = create_app(generate(seed=1, skus=40, orders=10, customers=5, suppliers=2), config)
    state = app.state.sandbox
    key = {"X-API-KEY": config.shop_api_key}
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        client.get("/shop/api/v1/product", params={"limit": 10}, headers=key)  # the shop is mirrored now
        shop_stats(state, 1)  # counted before the client had its answer: the reset forgets it
        latency.reset_stats(state)
        started = time.perf_counter()
        assert client.get("/shop/api/v1/product", params={"limit": 10}, headers=key).status_code == 200
        took = time.perf_counter() - started
        cost = 0.05 + 10 * (0.0005 + 13 * 0.0003)  # the cost model's real seconds for 10 products
        assert took >= (0.2 + cost) / 10
        stats = shop_stats(state, 1)
        assert stats["busy_seconds"] == pytest.approx((0.2 + cost) / 10)
        product = stats["by_route"]["/shop/api/v1/product"]
        assert product == {"requests": 1, "busy_seconds": stats["busy_seconds"]}

        latency.reset_stats(state)
        state.config = SandboxConfig.strictest(
            latency=SHOP_FIXED, time_scale=10, shop_max_execution_seconds=0.1
        )  # 40 products cost 0.23 s, past the cap
        capped = client.get("/shop/api/v1/product", params={"limit": 60}, headers=key)
        assert capped.status_code == 500 and capped.headers["content-type"].startswith("text/html")
        assert "Maximum execution time of 0.1 seconds exceeded" in capped.text
        assert shop_stats(state, 1)["busy_seconds"] == pytest.approx((0.2 + 0.1) / 10)
        assert client.get("/shop/", headers=key).status_code in (200, 404)  # the storefront: no API
        assert shop_stats(state, 1)["requests"] == 1


def test_without_a_latency_profile_the_shop_costs_only_its_cost_model() -> None:
    config = SandboxConfig.strictest()
    app = create_app(generate(seed=1, skus=40, orders=10, customers=5, suppliers=2), config)
    transport = asgi_transport(app)
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        key = {"X-API-KEY": config.shop_api_key}
        answer = client.get("/shop/api/v1/order", params={"limit": 5}, headers=key)
    transport.close()
    assert answer.status_code == 200
    assert latency.stats(app.state.sandbox) == {}  # no profile: the latency layer counts nothing


def test_page_number_is_read_from_the_query() -> None:
    assert page_number("pageSize=1000&pageNumber=3") == 3
    assert page_number("pageNumber=1") == 1
    assert page_number("limit=250&cursor=500") is None and page_number("") is None
    assert page_number("xpageNumber=2&pageNumber=x") is None


def test_a_listing_chain_is_its_shortest_page_one_plus_its_longest_later_page() -> None:
    def req(route: str, page: int | None, service: float) -> RequestTiming:
        return RequestTiming(route, page, 0.0, 0.0, service, service)

    timeline = [
        req("/items", 1, 0.4),
        req("/items", 2, 0.2),
        req("/items", 3, 1.5),
        req("/items", 1, 0.3),  # a second listing of the same route: its page 1 may have come first
        req("/stocks", 1, 2.0),  # one page only: no chain
        req("/salesChannels", None, 9.0),  # not paged
        req("/orders", 2, 0.5),  # a later page without its page 1 in the run: nothing known
    ]
    assert listing_chain_seconds(timeline) == {"/items": pytest.approx(0.3 + 1.5)}
    assert listing_chain_seconds([]) == {}


@pytest.mark.slow
def test_a_request_a_client_left_behind_is_waited_for_and_keyed_by_what_it_asked() -> None:
    """A client may drop a read it asked for twice; the sandbox still serves it, and a benchmark waits
    for it (``wait_quiet``) so the run that asked counts it. Each timing names the exact request."""
    app, state = tiny_app(SandboxConfig(latency=FIXED, time_scale=2))  # Wawi 200 ms
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        left = threading.Thread(target=lambda: client.get(WAWI, params={"n": 1}))
        left.start()
        time.sleep(0.05)
        assert latency.wait_quiet(state, 0.01) is False  # still being served
        assert latency.wait_quiet(state, 5.0) is True
        assert [r.key for r in latency.stats(state)["wawi"]["timeline"]] == [f"GET {WAWI}?n=1"]
        left.join(5)
        assert latency.wait_quiet(state, 0.0) is True
