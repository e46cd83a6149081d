"""Fault injection for the sandbox: latency, rate limits, 5xx, dropped connections and early token expiry.

A pure ASGI middleware (not ``BaseHTTPMiddleware``, which buffers bodies and swallows lost connections)
applies the active :class:`FaultProfile` to every request except ``/_sandbox/...``. Profiles are picked by
name from :data:`PROFILES` (``SandboxConfig.faults``) and can be swapped at run time with
:func:`set_profile` or ``PUT /_sandbox/faults``. Every random decision comes from ``random.Random`` seeded
with ``config.seed``, the profile name and the rule's position, so a sequence of requests meets the same
faults on every run. Injected faults are counted in ``state.runtime.fault_counters`` (``runtime["faults"]``,
reset on each profile change) and requests per API in ``state.runtime.requests``.

The rules, profiles and the engine live in :mod:`jtl_automator.sandbox.fault_engine` (re-exported here);
this module wires them to the state and to ASGI.

A dropped connection is modelled as the response head going out and the connection then dying without a
body: uvicorn closes the socket (the client sees ``httpx.RemoteProtocolError``) and in-process transports
raise :class:`ConnectionDropped`, itself an ``httpx.RemoteProtocolError``, so clients exercise the same
transport-error path either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import anyio
import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jtl_automator.sandbox import oauth
from jtl_automator.sandbox.fault_engine import (
    COUNTER_KEYS,
    PROFILES,
    Decision,
    FaultEngine,
    FaultKind,
    FaultProfile,
    FaultRule,
    api_of,
    error_response,
)
from jtl_automator.sandbox.state import SandboxState

__all__ = [
    "ADMIN_PREFIX",
    "PROFILES",
    "ConnectionDropped",
    "Decision",
    "FaultEngine",
    "FaultKind",
    "FaultMiddleware",
    "FaultProfile",
    "FaultRule",
    "api_of",
    "current_profile",
    "engine",
    "error_response",
    "expire_access_tokens",
    "install",
    "quiet_uvicorn_drop_logs",
    "set_profile",
]

ADMIN_PREFIX = "/_sandbox"
# Module-level so tests can freeze time or skip real waiting.
_clock = time.monotonic
_sleep = anyio.sleep


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised by the middleware to lose a response; an httpx transport error for in-process clients."""

    def __init__(self) -> None:
        super().__init__("sandbox fault: server closed the connection without completing the response")


# --- state wiring ---------------------------------------------------------------------------------------


def set_profile(state: SandboxState, profile: str | FaultProfile) -> FaultProfile:
    """Switch the active profile (by name from :data:`PROFILES` or a custom one); resets fault counters."""
    return _activate(state, profile).profile


def _activate(state: SandboxState, profile: str | FaultProfile) -> FaultEngine:
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise KeyError(f"unknown fault profile {profile!r} (known: {', '.join(PROFILES)})")
        profile = PROFILES[profile]
    counters = state.runtime.fault_counters  # zeroed in place: callers may hold on to the dict
    for key in COUNTER_KEYS:
        counters[key] = 0
    new_engine = FaultEngine(profile, state.config.seed, counters)
    state.runtime.fault_engine = new_engine
    return new_engine


def current_profile(state: SandboxState) -> FaultProfile:
    """The active profile (activating ``config.faults`` on first use)."""
    return engine(state).profile


def engine(state: SandboxState) -> FaultEngine:
    """The state's fault engine, created from ``config.faults`` if no profile was set yet."""
    current = state.runtime.fault_engine
    if current is not None:
        return current
    return _activate(state, state.config.faults or "none")


def expire_access_tokens(state: SandboxState) -> None:
    """Indirection so tests of the middleware alone can swap it for a no-op."""
    oauth.expire_all_access_tokens(state)


def _count_request(state: SandboxState, api: str) -> None:
    requests = state.runtime.requests
    requests["total"] += 1
    requests["by_api"][api] = requests["by_api"].get(api, 0) + 1


def _count_status(state: SandboxState, status: int) -> None:
    by_status = state.runtime.requests["by_status"]
    by_status[str(status)] = by_status.get(str(status), 0) + 1


# --- middleware -----------------------------------------------------------------------------------------


async def _drop(send: Send) -> None:
    # Head first: uvicorn answers an exception before the head with a 500, after it by closing the socket.
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
    raise ConnectionDropped()


class FaultMiddleware:
    """Pure ASGI middleware applying the state's active fault profile."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the decision: delay, answer with an error, drop, or pass on (adding rate-limit headers)."""
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        state = self.state
        path: str = scope["path"]
        with state.data.lock:
            _count_request(state, api_of(path))
        decision = engine(state).decide(scope["method"], path, _clock())
        if decision.expire_tokens:
            expire_access_tokens(state)
        if decision.delay:
            await _sleep(decision.delay)
        if decision.response is not None:
            status, headers, body = decision.response
            with state.data.lock:
                _count_status(state, status)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if decision.drop == "before":
            await _drop(send)
        swallow = decision.drop == "after"
        extra = decision.extra_headers

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                with state.data.lock:
                    _count_status(state, message["status"])
                if extra:
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            if not swallow:
                await send(message)

        await self.app(scope, receive, send_wrapper)
        if swallow:
            await _drop(send)


class _HideDrops(logging.Filter):
    """uvicorn logs every dropped connection as an application error with a traceback; they are on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_HIDE_DROPS = _HideDrops()


def quiet_uvicorn_drop_logs(loggers: Iterable[str] = ("uvicorn.error",)) -> None:
    """Keep injected drops out of uvicorn's error log (call after uvicorn configured logging)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if _HIDE_DROPS not in logger.filters:
            logger.addFilter(_HIDE_DROPS)


def install(app: FastAPI, state: SandboxState) -> None:
    """Add the fault middleware to ``app`` and activate ``state.config.faults``."""
    set_profile(state, state.config.faults or "none")
    app.add_middleware(FaultMiddleware, state=state)
    quiet_uvicorn_drop_logs()
