"""The latency layer: each API answers after its profile's service time; the on-premise Wawi has workers.

A pure ASGI middleware inside the fault middleware (faults decide first, as a gateway in front of the
server would). A request's handler runs at once, so rate limits count arrivals and data changes happen
when the server gets the request; its answer's first byte leaves at the time its service ends:

- FFN, Wawi Cloud, Sheets, JTL-Shop: arrival plus the drawn service time (internet services scale out;
  the shop's answer additionally waits what its cost model charges for the rows, see ``charge``);
- the on-premise Wawi: its ``wawi_onprem_concurrency`` workers as a :class:`WorkerSchedule`, so a
  request that finds them all busy waits in line (or, with ``wawi_onprem_excess = "refuse"``, is
  answered 503 at once), then takes its service time.

Service times come from :mod:`jtl_automator.sandbox.latency_model`, divided by ``config.time_scale``;
what each API met is counted in ``state.runtime.latency.stats``, including how late the sandbox itself
answered (its own CPU time on a busy machine).
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jtl_automator.sandbox import sheets, wawi
from jtl_automator.sandbox.latency_model import (
    ApiLatency,
    RequestTiming,
    WorkerSchedule,
    charged_cell,
    page_number,
    request_rng,
    route_of,
    stop_charging,
)
from jtl_automator.sandbox.state import LatencyRuntime, SandboxState

ADMIN_PREFIX = "/_sandbox"
#: JTL-Shop's REST API (the storefront's HTML pages around it are no API a pipeline calls).
SHOP_API_PREFIX = "/shop/api/"
#: Module-level so tests can replace them (a fake clock that moves when slept on).
_clock = time.monotonic
_sleep = anyio.sleep


def api_of(path: str) -> str | None:
    """Which API of a latency profile a path belongs to (token endpoints count with their API)."""
    if path.startswith(("/api/", "/oauth2")):
        return "ffn"
    if path.startswith(wawi.CLOUD_ROOT) or path == wawi.CLOUD_TOKEN_PATH:
        return "wawi_cloud"
    if path.startswith("/wawi/"):
        return "wawi"
    if path.startswith(sheets.PREFIX):
        return "sheets"
    if path.startswith(SHOP_API_PREFIX):
        return "shop"
    return None


def _workers(state: SandboxState) -> WorkerSchedule | None:
    """The on-premise Wawi's workers; rebuilt when the configured number changes."""
    capacity = state.config.wawi_onprem_concurrency
    rt = state.runtime.latency
    if capacity is None:
        return None
    with rt.lock:
        if rt.workers is None or rt.workers.capacity != capacity:
            rt.workers = WorkerSchedule(capacity)
        return rt.workers


def _draw(
    state: SandboxState, rt: LatencyRuntime, api: str, dist: ApiLatency, scope: Scope
) -> tuple[float, bool]:
    """This request's service time in the sandbox's seconds, and whether it stalled.

    The same request (method, path, query and how often it came before) always draws the same.
    """
    query = scope.get("query_string", b"").decode("latin-1")
    key = f"{scope['method']} {scope['path']}?{query}"
    with rt.lock:
        rt.occurrences[key] += 1
        occurrence = rt.occurrences[key]
    profile = state.config.latency_profile()
    seconds, stalled = dist.draw(request_rng(state.config.seed, profile.name, api, key, occurrence))
    return state.config.scaled(seconds), stalled


def _busy_response() -> tuple[list[tuple[bytes, bytes]], bytes]:
    """What a Wawi whose workers are all busy answers in strict mode: 503 in its own error body."""
    body = json.dumps(
        {
            "ErrorCode": "ServerBusy",
            "ErrorMessage": "The server is busy; try again later.",
            "ValidationErrors": None,
            "Stacktrace": None,
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
    ]
    return headers, body


class LatencyMiddleware:
    """Pure ASGI middleware applying the config's latency profile and the on-premise Wawi's workers."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit the request, run the handler, hold the answer until its service ends."""
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        state = self.state
        api = api_of(scope["path"])
        dist = state.config.latency_profile().for_api(api) if api is not None else None
        workers = _workers(state) if api == "wawi" else None
        if api is None or (dist is None and workers is None):
            await self.app(scope, receive, send)
            return
        rt = state.runtime.latency
        arrived = _clock()
        query = scope.get("query_string", b"").decode("latin-1")
        service, stalled = _draw(state, rt, api, dist, scope) if dist is not None else (0.0, False)
        start, due = arrived, arrived + service
        if workers is not None:
            slot = workers.admit(arrived, service, refuse=state.config.wawi_onprem_excess == "refuse")
            if slot is None:
                with rt.lock:
                    stats = rt.stats.of(api)
                    stats.requests += 1
                    stats.refused += 1
                headers, body = _busy_response()
                await send({"type": "http.response.start", "status": 503, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            start, due = slot
        with rt.lock:
            rt.in_flight += 1
        answered: list[float] = []
        charged, token = charged_cell()  # what the handler spends on its own (the shop's cost model)
        counted = False

        def count() -> None:
            """Count the request once, before its last byte leaves: a client that has the answer sees it."""
            nonlocal counted
            if counted:
                return
            counted = True
            spent = service + charged[0]
            finished = due + charged[0]
            late = max(0.0, (answered[0] if answered else _clock()) - finished)
            route = route_of(scope["path"])
            page = page_number(query)
            key = f"{scope['method']} {scope['path']}?{query}"
            with rt.lock:
                rt.in_flight -= 1
                stats = rt.stats.of(api)
                stats.requests += 1
                stats.busy_seconds += spent
                stats.by_route[route] += 1
                stats.busy_by_route[route] += spent
                stats.max_seconds = max(stats.max_seconds, finished - arrived)
                stats.max_service_seconds = max(stats.max_service_seconds, spent)
                stats.timeline.append(RequestTiming(route, page, arrived, start, finished, spent, key))
                stats.stalls += int(stalled)
                stats.by_method[scope["method"]] += 1
                stats.late_seconds += late
                stats.max_late_seconds = max(stats.max_late_seconds, late)
                if start > arrived:
                    stats.queued += 1
                    stats.queue_seconds += start - arrived

        async def held(message: Message) -> None:
            if message["type"] == "http.response.start":
                wait = due + charged[0] - _clock()
                if wait > 0:
                    await _sleep(wait)
                answered.append(_clock())
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                count()
            await send(message)

        try:
            await self.app(scope, receive, held)
        finally:
            stop_charging(token)
            count()


def install(app: FastAPI, state: SandboxState) -> None:
    """Add the latency middleware (call before ``faults.install``, so faults sit in front of it)."""
    app.add_middleware(LatencyMiddleware, state=state)


def stats(state: SandboxState) -> dict[str, Any]:
    """What each API met so far, as plain numbers (benchmarks, the admin hook)."""
    rt = state.runtime.latency
    with rt.lock:
        out: dict[str, Any] = {
            api: {
                "requests": s.requests,
                "busy_seconds": round(s.busy_seconds, 6),
                "stalls": s.stalls,
                "queued": s.queued,
                "queue_seconds": round(s.queue_seconds, 6),
                "refused": s.refused,
                "max_seconds": round(s.max_seconds, 6),
                "max_service_seconds": round(s.max_service_seconds, 6),
                "late_seconds": round(s.late_seconds, 6),
                "max_late_seconds": round(s.max_late_seconds, 6),
                "by_method": dict(s.by_method),
                "by_route": {
                    route: {"requests": n, "busy_seconds": round(s.busy_by_route[route], 6)}
                    for route, n in s.by_route.items()
                },
                "timeline": list(s.timeline),
            }
            for api, s in rt.stats.apis.items()
        }
        if rt.workers is not None:
            out["wawi_workers"] = {
                "capacity": rt.workers.capacity,
                "peak_busy": rt.workers.peak_busy,
                "peak_waiting": rt.workers.peak_waiting,
            }
    return out


def reset_stats(state: SandboxState) -> None:
    """Forget what was counted (between measured runs); the random streams go on."""
    rt = state.runtime.latency
    with rt.lock:
        rt.stats.reset()
        if rt.workers is not None:
            rt.workers.reset_peaks(_clock())


def wait_quiet(state: SandboxState, timeout: float) -> bool:
    """Wait until no request is being served (at most ``timeout`` seconds); whether none is.

    A run may leave a request behind (the slower of a read asked for twice): a benchmark waits for it
    before it measures, so the run's figures count it and the next run's do not.
    """
    rt = state.runtime.latency
    deadline = time.monotonic() + timeout
    while True:
        with rt.lock:
            if rt.in_flight <= 0:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def draw_position(state: SandboxState) -> dict[str, int]:
    """How far each request's draws have gone (for :func:`rewind_draws`)."""
    rt = state.runtime.latency
    with rt.lock:
        return dict(rt.occurrences)


def rewind_draws(state: SandboxState, position: dict[str, int]) -> None:
    """The next requests draw what they drew after ``position``: a repeated run meets the same latencies."""
    rt = state.runtime.latency
    with rt.lock:
        rt.occurrences.clear()
        rt.occurrences.update(position)


__all__ = [
    "LatencyMiddleware",
    "api_of",
    "draw_position",
    "install",
    "reset_stats",
    "rewind_draws",
    "stats",
    "wait_quiet",
]
