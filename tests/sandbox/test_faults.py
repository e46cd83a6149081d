"""Fault profiles through a tiny app (no emulated API needed), over real HTTP and in-process."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jtl_automator.sandbox import admin, faults
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.faults import FaultEngine, FaultProfile, FaultRule
from jtl_automator.sandbox.server import asgi_transport, serve_in_thread

ROUTES = {
    "ffn": "/api/v1/merchant/ping",
    "wawi": "/wawi/api/eazybusiness/v1/ping",
    "sheets": "/sheets/v4/ping",
}


def make_app(profile: str = "none", seed: int = 1) -> tuple[FastAPI, SandboxState]:
    state = SandboxState(data=SandboxData(), config=SandboxConfig(faults=profile, seed=seed))
    state.runtime["handled"] = 0
    app = FastAPI()

    def ping() -> dict[str, Any]:
        state.runtime["handled"] += 1
        return {"ok": True}

    for path in ROUTES.values():
        app.add_api_route(path, ping, methods=["GET"])
    app.add_api_route("/oauth2/token", ping, methods=["POST"])
    app.include_router(admin.build_router(state))
    faults.install(app, state)
    return app, state


@pytest.fixture(params=["in-process", "http"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tiny(mode: str) -> Iterator[tuple[httpx.Client, SandboxState]]:
    app, state = make_app()
    if mode == "http":
        with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, timeout=5) as client:
            yield client, state
    else:
        transport = asgi_transport(app)
        with httpx.Client(transport=transport, base_url="http://sandbox", timeout=5) as client:
            yield client, state
        transport.close()


def use(state: SandboxState, *rules: FaultRule) -> None:
    faults.set_profile(state, FaultProfile(name="test", rules=rules))


def test_no_profile_passes_requests_through(tiny: tuple[httpx.Client, SandboxState]) -> None:
    client, state = tiny
    assert [client.get(p).status_code for p in ROUTES.values()] == [200, 200, 200]
    assert state.runtime["handled"] == 3 and not any(state.runtime["faults"].values())


def test_rate_limit_answers_429_with_headers_in_each_apis_envelope(
    tiny: tuple[httpx.Client, SandboxState],
) -> None:
    client, state = tiny
    use(state, *(FaultRule(fault="rate_limit", route=p, limit=2, window_seconds=30) for p in ROUTES.values()))
    for api, path in ROUTES.items():
        first, second, third = (client.get(path) for _ in range(3))
        assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429), api
        assert (
            first.headers["x-ratelimit-remaining"] == "1" and second.headers["x-ratelimit-remaining"] == "0"
        )
        assert third.headers["x-ratelimit-limit"] == "2"
        assert third.headers["x-ratelimit-remaining"] == "0"
        assert third.headers["x-ratelimit-interval-length-seconds"] == "30"
        assert 1 <= int(third.headers["retry-after"]) <= 30
        body = third.json()
        if api == "ffn":
            assert body["errorCode"]["code"] == "Shared_TooManyRequests"
        elif api == "wawi":
            assert body["ErrorCode"] == "TooManyRequests"
        else:
            assert body["error"]["status"] == "RESOURCE_EXHAUSTED" and body["error"]["code"] == 429
    assert state.runtime["faults"]["rate_limit"] == 3
    assert state.runtime["handled"] == 6


def test_rate_limit_window_resets() -> None:
    engine = FaultEngine(
        FaultProfile(name="w", rules=(FaultRule(fault="rate_limit", limit=1, window_seconds=2),)),
        seed=1,
        counters=dict.fromkeys(("latency", "rate_limit", "error", "drop", "expire_tokens"), 0),
    )
    assert engine.decide("GET", "/api/x", now=100.0).response is None
    limited = engine.decide("GET", "/api/x", now=100.5).response
    assert limited is not None and (b"retry-after", b"2") in limited[1]
    assert engine.decide("GET", "/api/x", now=102.1).response is None


def _sliding(limit: int, window: float) -> FaultEngine:
    rule = FaultRule(fault="rate_limit", route="/api", limit=limit, window_seconds=window, sliding=True)
    counters = dict.fromkeys(("latency", "rate_limit", "error", "drop", "expire_tokens"), 0)
    return FaultEngine(FaultProfile(name="s", rules=(rule,)), seed=1, counters=counters)


def test_fixed_windows_pass_twice_the_limit_across_a_boundary_a_sliding_one_does_not() -> None:
    fixed = FaultEngine(
        FaultProfile(name="f", rules=(FaultRule(fault="rate_limit", limit=3, window_seconds=1),)),
        seed=1,
        counters=dict.fromkeys(("latency", "rate_limit", "error", "drop", "expire_tokens"), 0),
    )
    sliding = _sliding(3, 1)
    # two at the end of the first window, three at the start of the next: five within 0.15 s
    times = [100.0, 100.9, 100.95, 101.0, 101.02, 101.05]
    assert [fixed.decide("GET", "/api/x", now=t).response is None for t in times] == [True] * 6
    passed = [sliding.decide("GET", "/api/x", now=t).response is None for t in times]
    assert passed == [True, True, True, True, False, False]  # 101.0: the request of 100.0 has left
    assert sliding.counters["rate_limit"] == 2


def test_sliding_window_frees_a_slot_when_its_oldest_request_leaves_the_window() -> None:
    engine = _sliding(2, 2)
    assert engine.decide("GET", "/api/x", now=10.0).response is None
    assert engine.decide("GET", "/api/x", now=11.0).response is None
    refused = engine.decide("GET", "/api/x", now=11.5).response
    assert refused is not None and refused[0] == 429
    headers = dict(refused[1])
    assert headers[b"retry-after"] == b"1"  # the request of 10.0 leaves the window at 12.0
    assert headers[b"x-ratelimit-remaining"] == b"0" and headers[b"x-ratelimit-limit"] == b"2"
    # refused requests do not count: at 12.0 the first one has left, so one more passes
    allowed = engine.decide("GET", "/api/x", now=12.0)
    assert allowed.response is None and (b"x-ratelimit-remaining", b"0") in allowed.extra_headers
    assert engine.decide("GET", "/api/x", now=12.5).response is not None
    assert engine.decide("GET", "/other", now=12.5).response is None  # another route is not limited


def test_a_sliding_rule_is_set_over_the_admin_api(tiny: tuple[httpx.Client, SandboxState]) -> None:
    client, state = tiny
    rule = {"fault": "rate_limit", "route": "/wawi", "limit": 1, "window_seconds": 30, "sliding": True}
    answer = client.put("/_sandbox/faults", json={"profile": {"name": "shared", "rules": [rule]}})
    assert answer.status_code == 200 and answer.json()["rules"][0]["sliding"] is True
    assert [client.get(ROUTES["wawi"]).status_code for _ in range(2)] == [200, 429]
    assert client.get(ROUTES["ffn"]).status_code == 200
    assert state.runtime["faults"]["rate_limit"] == 1


def test_error_every_nth_request(tiny: tuple[httpx.Client, SandboxState]) -> None:
    client, state = tiny
    use(state, FaultRule(fault="error", route="/api", every=3, statuses=(502,)))
    statuses = [client.get(ROUTES["ffn"]).status_code for _ in range(6)]
    assert statuses == [200, 200, 502, 200, 200, 502]
    assert client.get(ROUTES["wawi"]).status_code == 200  # other routes untouched
    assert state.runtime["faults"]["error"] == 2 and state.runtime["handled"] == 5


def test_drop_surfaces_as_httpx_transport_error(tiny: tuple[httpx.Client, SandboxState]) -> None:
    client, state = tiny
    use(state, FaultRule(fault="drop", route="/sheets", every=2))
    assert client.get(ROUTES["sheets"]).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(ROUTES["sheets"])
    assert client.get(ROUTES["sheets"]).status_code == 200  # the client recovers on a new connection
    assert state.runtime["handled"] == 2 and state.runtime["faults"]["drop"] == 1


def test_drop_after_response_runs_the_handler_but_loses_the_answer(
    tiny: tuple[httpx.Client, SandboxState],
) -> None:
    client, state = tiny
    use(state, FaultRule(fault="drop", route="/oauth2/token", methods=("POST",), after_response=True))
    with pytest.raises(httpx.TransportError):
        client.post("/oauth2/token")
    assert state.runtime["handled"] == 1  # e.g. a refresh token was rotated, and the client never learnt it


@pytest.mark.slow
def test_latency_delays_matching_requests(tiny: tuple[httpx.Client, SandboxState]) -> None:
    client, state = tiny
    use(state, FaultRule(fault="latency", route="/wawi", latency_ms=120))
    started = time.perf_counter()
    assert client.get(ROUTES["wawi"]).status_code == 200
    assert time.perf_counter() - started >= 0.12
    started = time.perf_counter()
    client.get(ROUTES["ffn"])
    assert time.perf_counter() - started < 0.12
    assert state.runtime["faults"]["latency"] == 1


def test_latency_with_every_slows_only_every_nth_request() -> None:
    engine = FaultEngine(
        FaultProfile(name="l", rules=(FaultRule(fault="latency", route="/api", every=3, latency_ms=500),)),
        seed=1,
        counters=dict.fromkeys(("latency", "rate_limit", "error", "drop", "expire_tokens"), 0),
    )
    delays = [engine.decide("GET", "/api/x", now=1.0).delay for _ in range(6)]
    assert delays == [0.0, 0.0, 0.5, 0.0, 0.0, 0.5] and engine.counters["latency"] == 2


@pytest.mark.slow
def test_expire_tokens_calls_the_oauth_hook(
    tiny: tuple[httpx.Client, SandboxState], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, state = tiny
    calls: list[SandboxState] = []
    monkeypatch.setattr(faults, "expire_access_tokens", calls.append)
    use(state, FaultRule(fault="expire_tokens", route="/api/v1/merchant", every=2))
    for _ in range(4):
        assert client.get(ROUTES["ffn"]).status_code == 200
    assert calls == [state, state]


@pytest.mark.slow
def test_admin_routes_are_never_faulted_and_switch_profiles(tiny: tuple[httpx.Client, SandboxState]) -> None:
    client, state = tiny
    use(state, FaultRule(fault="error", route="/", statuses=(500,)))
    assert client.get(ROUTES["ffn"]).status_code == 500
    assert client.get("/_sandbox/faults").json()["profile"] == "test"
    assert client.put("/_sandbox/faults", json={"profile": "none"}).json()["profile"] == "none"
    assert client.get(ROUTES["ffn"]).status_code == 200
    custom = {"name": "mine", "rules": [{"fault": "error", "route": "/wawi", "every": 1, "statuses": [503]}]}
    assert client.put("/_sandbox/faults", json={"profile": custom}).status_code == 200
    assert client.get(ROUTES["wawi"]).status_code == 503
    assert client.put("/_sandbox/faults", json={"profile": "nope"}).status_code == 400
    bad_rule = {"name": "x", "rules": [{"fault": "error", "statuses": [404]}]}
    assert client.put("/_sandbox/faults", json={"profile": bad_rule}).status_code == 400
    stats = client.get("/_sandbox/stats").json()
    assert stats["requests"]["by_api"] == {"ffn": 2, "wawi": 1}
    assert stats["requests"]["by_status"] == {"500": 1, "200": 1, "503": 1}
    assert stats["faults"]["profile"] == "mine" and stats["faults"]["error"] == 1


def run_sequence(profile: str, seed: int, count: int = 60) -> list[str]:
    app, _state = make_app(profile, seed)
    outcomes = []
    transport = asgi_transport(app)
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        for n in range(count):
            path = list(ROUTES.values())[n % 3]
            try:
                outcomes.append(str(client.get(path).status_code))
            except httpx.TransportError:
                outcomes.append("drop")
    transport.close()
    return outcomes


@pytest.mark.slow
def test_flaky_profile_is_deterministic_for_a_seed() -> None:
    first = run_sequence("flaky", seed=4)
    assert first == run_sequence("flaky", seed=4)
    assert first != run_sequence("flaky", seed=5)
    assert "drop" in first and any(o.startswith("5") for o in first) and "200" in first


@pytest.mark.parametrize("name", sorted(faults.PROFILES))
@pytest.mark.slow
def test_every_builtin_profile_injects_what_it_promises(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []

    async def no_wait(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(faults, "expire_access_tokens", lambda state: None)
    monkeypatch.setattr(faults, "_clock", lambda: 1000.0)  # one rate-limit window for the whole run
    monkeypatch.setattr(faults, "_sleep", no_wait)
    app, state = make_app(name, seed=11)
    kinds = {rule.fault for rule in faults.PROFILES[name].rules}
    transport = asgi_transport(app)
    requests = 120
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        for n in range(requests):
            with contextlib.suppress(httpx.TransportError):
                client.get(list(ROUTES.values())[n % 3])
    transport.close()
    counters = state.runtime["faults"]
    injected = {kind for kind, count in counters.items() if count}
    assert injected == kinds, (name, counters)
    if name == "slow":  # 150 ms +- 100 ms on every request
        assert len(delays) == counters["latency"] == requests and all(0.05 <= d <= 0.25 for d in delays)


def test_unknown_profile_name_is_rejected() -> None:
    _app, state = make_app()
    with pytest.raises(KeyError, match="unknown fault profile 'nope'"):
        faults.set_profile(state, "nope")
