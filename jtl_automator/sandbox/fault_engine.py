"""Fault rules, the built-in profiles and the engine that decides what happens to one request.

Pure decision logic: no ASGI, no sandbox state, so :mod:`jtl_automator.sandbox.state` can hold an engine
and :mod:`jtl_automator.sandbox.faults` (wiring and middleware) can build one. Every random decision
comes from a ``random.Random`` seeded with the seed, the profile name and the rule's position, so a
sequence of requests meets the same faults on every run.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["latency", "rate_limit", "error", "drop", "expire_tokens"]
# Keys of the injected-fault counters (``state.runtime.fault_counters``), one per fault kind.
COUNTER_KEYS: tuple[FaultKind, ...] = ("latency", "rate_limit", "error", "drop", "expire_tokens")


class FaultRule(BaseModel):
    """One fault on one route.

    A rule fires on every ``every``-th matching request, with ``probability`` (seeded), or on every
    matching request when neither is set; ``rate_limit`` rules see every matching request (and so do
    ``latency`` rules without ``every`` or ``probability``: a slow service is slow throughout).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fault: FaultKind
    route: str = Field(default="/", description="Path prefix, or a regular expression if it starts with '^'.")
    methods: tuple[str, ...] = Field(default=(), description="HTTP methods (upper case); empty means all.")
    every: int = Field(default=0, ge=0)
    probability: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_ms: int = Field(default=0, ge=0)
    jitter_ms: int = Field(default=0, ge=0)
    limit: int = Field(default=0, ge=0, description="rate_limit: requests allowed per window.")
    window_seconds: float = Field(default=1.0, gt=0)
    sliding: bool = Field(
        default=False,
        description="rate_limit: at most `limit` requests let through in ANY `window_seconds` (a sliding "
        "log; refused ones do not count) instead of fixed windows, which pass 2 x limit across a boundary.",
    )
    statuses: tuple[int, ...] = Field(default=(503,), description="error: status codes to pick from.")
    after_response: bool = Field(
        default=False, description="drop: let the app process the request first, then lose its response."
    )

    @model_validator(mode="after")
    def _check(self) -> FaultRule:
        if self.fault == "rate_limit" and self.limit < 1:
            raise ValueError("a rate_limit rule needs limit >= 1")
        if self.fault == "latency" and self.latency_ms == 0 and self.jitter_ms == 0:
            raise ValueError("a latency rule needs latency_ms or jitter_ms")
        if self.fault == "error" and (not self.statuses or any(not 500 <= s <= 599 for s in self.statuses)):
            raise ValueError("error statuses must be 5xx")
        if self.route.startswith("^"):
            re.compile(self.route)
        return self

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request (the admin routes never reach this)."""
        if self.methods and method.upper() not in self.methods:
            return False
        if self.route.startswith("^"):
            return re.search(self.route, path) is not None
        return path.startswith(self.route)


class FaultProfile(BaseModel):
    """A named set of rules, applied in order (latency adds up; the first 429/5xx/drop wins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    rules: tuple[FaultRule, ...] = ()


_APIS = ("/api/v1/merchant", "/wawi", "/sheets")
#: The shop's API (the shop has no rate limiting of its own: a 429 stands for a proxy or firewall).
SHOP_API = "/shop/api/v1"

PROFILES: dict[str, FaultProfile] = {
    p.name: p
    for p in (
        FaultProfile(name="none"),
        FaultProfile(
            name="slow", rules=(FaultRule(fault="latency", route="/", latency_ms=150, jitter_ms=100),)
        ),
        FaultProfile(
            name="flaky",
            rules=(
                *(
                    FaultRule(fault="error", route=r, probability=0.1, statuses=(500, 502, 503))
                    for r in _APIS
                ),
                *(FaultRule(fault="drop", route=r, probability=0.05) for r in _APIS),
                # the shop last, so the rules above keep their positions (and random streams)
                FaultRule(fault="error", route=SHOP_API, probability=0.1, statuses=(500, 502, 503)),
                FaultRule(fault="drop", route=SHOP_API, probability=0.05),
            ),
        ),
        FaultProfile(
            name="ratelimited",
            rules=(
                FaultRule(fault="rate_limit", route="/api/v1/merchant", limit=20, window_seconds=1),
                FaultRule(fault="rate_limit", route="/wawi", limit=10, window_seconds=2),
                FaultRule(fault="rate_limit", route="/sheets", limit=30, window_seconds=10),
                FaultRule(fault="rate_limit", route=SHOP_API, limit=10, window_seconds=2),
            ),
        ),
        FaultProfile(
            name="expiring-tokens",
            rules=(FaultRule(fault="expire_tokens", route="/api/v1/merchant", every=7),),
        ),
        FaultProfile(
            name="chaos",
            rules=(
                FaultRule(fault="latency", route="/", latency_ms=20, jitter_ms=40),
                FaultRule(fault="expire_tokens", route="/api/v1/merchant", every=11),
                FaultRule(fault="rate_limit", route="/api/v1/merchant", limit=30, window_seconds=1),
                FaultRule(fault="rate_limit", route="/wawi", limit=15, window_seconds=2),
                FaultRule(fault="rate_limit", route="/sheets", limit=40, window_seconds=10),
                # the token endpoint fails before it does anything, so no refresh token is burnt
                FaultRule(fault="error", route="/oauth2/token", probability=0.05, statuses=(503,)),
                *(
                    FaultRule(fault="error", route=r, probability=0.08, statuses=(500, 502, 503))
                    for r in _APIS
                ),
                *(FaultRule(fault="drop", route=r, probability=0.04) for r in _APIS),
                FaultRule(fault="rate_limit", route=SHOP_API, limit=15, window_seconds=2),
                FaultRule(fault="error", route=SHOP_API, probability=0.08, statuses=(500, 502, 503)),
                FaultRule(fault="drop", route=SHOP_API, probability=0.04),
            ),
        ),
    )
}


@dataclass
class _RuleState:
    """One rule's position in its sequence: request count, rate-limit window and random stream."""

    rng: random.Random
    count: int = 0
    window_start: float | None = None
    window_count: int = 0
    #: Times of the requests a sliding rate limit let through in its last window.
    passed: deque[float] = field(default_factory=deque)


@dataclass
class Decision:
    """What the middleware does with one request: wait, expire tokens, answer, drop or add headers."""

    delay: float = 0.0
    expire_tokens: bool = False
    response: tuple[int, list[tuple[bytes, bytes]], bytes] | None = None
    drop: Literal["before", "after"] | None = None
    extra_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class FaultEngine:
    """A profile plus its per-rule counters, windows and random streams (thread-safe)."""

    def __init__(self, profile: FaultProfile, seed: int, counters: dict[str, int]) -> None:
        self.profile = profile
        self.counters = counters
        self._lock = threading.Lock()
        self._states = [
            _RuleState(rng=random.Random(f"{seed}:{profile.name}:{index}"))
            for index in range(len(profile.rules))
        ]

    def decide(self, method: str, path: str, now: float | None = None) -> Decision:
        """Advance every matching rule's counters and say what to do with this request."""
        decision = Decision()
        moment = time.monotonic() if now is None else now
        with self._lock:
            for rule, st in zip(self.profile.rules, self._states, strict=True):
                if not rule.matches(method, path):
                    continue
                st.count += 1
                if rule.fault == "latency":
                    if (rule.every or rule.probability) and not self._fires(rule, st):
                        continue
                    jitter = st.rng.uniform(-rule.jitter_ms, rule.jitter_ms) if rule.jitter_ms else 0.0
                    decision.delay += max(0.0, rule.latency_ms + jitter) / 1000
                    self.counters["latency"] += 1
                elif rule.fault == "rate_limit":
                    self._rate_limit(rule, st, moment, path, decision)
                elif decision.response is None and decision.drop is None and self._fires(rule, st):
                    if rule.fault == "expire_tokens":
                        decision.expire_tokens = True
                        self.counters["expire_tokens"] += 1
                    elif rule.fault == "error":
                        status = rule.statuses[st.rng.randrange(len(rule.statuses))]
                        decision.response = error_response(path, status)
                        self.counters["error"] += 1
                    elif rule.fault == "drop":
                        decision.drop = "after" if rule.after_response else "before"
                        self.counters["drop"] += 1
        return decision

    @staticmethod
    def _fires(rule: FaultRule, st: _RuleState) -> bool:
        if rule.every and st.count % rule.every == 0:
            return True
        if rule.probability:
            return st.rng.random() < rule.probability
        return not rule.every

    def _rate_limit(self, rule: FaultRule, st: _RuleState, now: float, path: str, decision: Decision) -> None:
        if rule.sliding:
            self._sliding_rate_limit(rule, st, now, path, decision)
            return
        if st.window_start is None or now - st.window_start >= rule.window_seconds:
            st.window_start, st.window_count = now, 0
        st.window_count += 1
        remaining = max(0, rule.limit - st.window_count)
        reset = max(0.0, st.window_start + rule.window_seconds - now)
        headers = [
            (b"x-ratelimit-limit", str(rule.limit).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-interval-length-seconds", _seconds(rule.window_seconds).encode()),
        ]
        if st.window_count <= rule.limit or decision.response is not None or decision.drop is not None:
            decision.extra_headers.extend(headers)
            return
        retry_after = str(max(1, math.ceil(reset)))
        status, base_headers, body = error_response(path, 429)
        decision.response = (status, [*base_headers, *headers, (b"retry-after", retry_after.encode())], body)
        self.counters["rate_limit"] += 1

    def _sliding_rate_limit(
        self, rule: FaultRule, st: _RuleState, now: float, path: str, decision: Decision
    ) -> None:
        """Refuse a request when ``limit`` requests already passed in the last ``window_seconds``."""
        passed = st.passed
        while passed and passed[0] <= now - rule.window_seconds:
            passed.popleft()
        allowed = len(passed) < rule.limit
        if allowed:
            passed.append(now)
        headers = [
            (b"x-ratelimit-limit", str(rule.limit).encode()),
            (b"x-ratelimit-remaining", str(max(0, rule.limit - len(passed))).encode()),
            (b"x-ratelimit-interval-length-seconds", _seconds(rule.window_seconds).encode()),
        ]
        if allowed or decision.response is not None or decision.drop is not None:
            decision.extra_headers.extend(headers)
            return
        retry_after = str(max(1, math.ceil(passed[0] + rule.window_seconds - now)))
        status, base_headers, body = error_response(path, 429)
        decision.response = (status, [*base_headers, *headers, (b"retry-after", retry_after.encode())], body)
        self.counters["rate_limit"] += 1


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def api_of(path: str) -> str:
    """Which emulated API a path belongs to (decides the error envelope and the request counters)."""
    if path.startswith("/oauth2"):
        return "oauth"
    if path.startswith("/api"):
        return "ffn"
    if path.startswith("/wawi"):
        return "wawi"
    if path.startswith("/sheets"):
        return "sheets"
    if path.startswith("/shop"):
        return "shop"
    return "other"


_GOOGLE_STATUS = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE"}
_REASON = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def error_response(path: str, status: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """An error in the envelope of the API the path belongs to (FFN, Wawi, Google or OAuth)."""
    reason = _REASON.get(status, "Server Error")
    api = api_of(path)
    body: dict[str, Any]
    if api == "sheets":
        message = (
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user'."
            if status == 429
            else "The service is currently unavailable."
        )
        body = {
            "error": {"code": status, "message": message, "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}
        }
    elif api == "wawi":
        code = "TooManyRequests" if status == 429 else "ServerError"
        body = {"ErrorCode": code, "ErrorMessage": reason, "ValidationErrors": None, "Stacktrace": None}
    elif api == "oauth":
        body = {"error": "temporarily_unavailable", "error_description": reason}
    elif api == "shop":  # a PHP shop behind nginx or a proxy: its error pages are HTML
        page = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
        length = str(len(page)).encode()
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", length)]
        return status, headers, page.encode()
    else:
        code = "Shared_TooManyRequests" if status == 429 else "Shared_ServerError"
        body = {
            "errorCode": {"code": code, "description": reason},
            "errorMessages": [{"message": reason}],
            "errorMetadata": {},
        }
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    return status, headers, payload
