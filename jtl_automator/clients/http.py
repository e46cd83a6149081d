"""The transport layer both JTL clients share: retry policy, rate limiter, correlation id, request stats.

Everything that decides *whether and when* a request is sent lives here, once, so FFN and Wawi behave
the same under faults: 429 is always retried (the server did not act on the request), 5xx/timeouts/
dropped connections only for idempotent methods, with capped exponential backoff and full jitter inside
an attempt limit and a total time budget. Clocks and ``sleep`` are injectable so tests never wait.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from jtl_automator.clients.errors import (
    JtlApiError,
    RateLimited,
    TransientError,
    describe,
    error_from_response,
)
from jtl_automator.correlation import correlated_logger
from jtl_automator.correlation import correlation_id as correlation_id  # re-exported: clients' API

logger = correlated_logger("jtl_automator.http")

# ``correlation_id`` (imported above) is sent as ``X-Correlation-ID``; the Prefect tasks set it.
CORRELATION_HEADER = "X-Correlation-ID"

#: Methods whose repetition cannot create a second effect (RFC 9110 §9.2.2); PATCH and POST are not.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class CorrelationIdFilter(logging.Filter):
    """Adds ``correlation_id`` to every record so a log format can name the flow run."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record; never drops it."""
        if not hasattr(record, "correlation_id"):
            record.correlation_id = correlation_id.get()
        return True


class RateLimiter:
    """Thread-safe token bucket (as GCRA: one "next free slot" timestamp), shareable between threads.

    ``acquire()`` reserves a slot under the lock and sleeps *outside* it, so waiting threads queue in
    arrival order and the long-run rate never exceeds ``rate_per_second`` (bursts up to ``burst``).
    ``pause(seconds)`` pushes every thread back after a 429, so one throttled request does not turn into
    a storm from its siblings.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._interval = 1.0 / rate_per_second
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = clock()  # theoretical arrival time of the next request

    def acquire(self) -> float:
        """Take one slot, sleeping until it is due; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            tat = max(self._tat, now)
            wait = max(0.0, tat - self._tolerance - now)
            self._tat = tat + self._interval
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """No slot is handed out for ``seconds`` from now (then the rate resumes without a burst)."""
        if seconds <= 0:
            return
        with self._lock:
            resume = self._clock() + seconds
            self._tat = max(self._tat, resume + self._tolerance)


@dataclass
class RequestStats:
    """Counters for benchmarks and run summaries; safe to update from many threads."""

    requests: int = 0
    retries: int = 0
    transport_errors: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_response(self, status: int) -> None:
        """Count one answered request."""
        with self._lock:
            self.requests += 1
            self.by_status[status] += 1

    def record_transport_error(self) -> None:
        """Count one request that got no answer."""
        with self._lock:
            self.requests += 1
            self.transport_errors += 1

    def record_retry(self) -> None:
        """Count one retry."""
        with self._lock:
            self.retries += 1

    @property
    def rate_limited(self) -> int:
        """How many 429 answers were received."""
        return self.by_status[429]


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry and how long to wait; one instance may be shared by clients and threads."""

    max_attempts: int = 6
    budget_seconds: float = 120.0
    initial_delay: float = 0.5
    max_delay: float = 8.0
    #: Server-requested waits (Retry-After, X-RateLimit-*) are honoured up to this cap.
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random
    wall_clock: Callable[[], float] = time.time

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter (AWS architecture blog), attempt counted from 1."""
        ceiling = min(self.max_delay, self.initial_delay * (2.0 ** max(0, attempt - 1)))
        return ceiling * self.jitter()

    def rate_limit_delay(self, response: httpx.Response, attempt: int) -> float:
        """Delay for a 429: Retry-After, else the X-RateLimit window when it is exhausted, else backoff."""
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self.wall_clock)
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        remaining = response.headers.get("X-RateLimit-Remaining")
        interval = response.headers.get("X-RateLimit-Interval-Length-Seconds")
        if interval is not None and (remaining is None or remaining.strip() == "0"):
            try:
                return min(max(0.0, float(interval)), self.max_retry_after)
            except ValueError:
                pass
        return max(self.backoff(attempt), self.initial_delay)

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        """Policy with the attempt limit and time budget from ``Settings``."""
        return cls(max_attempts=settings.retry_max_attempts, budget_seconds=settings.retry_budget_seconds)


class AuthStrategy(Protocol):
    """How a client authenticates: headers per request, and whether a 401 is worth one more try."""

    def headers(self) -> dict[str, str]:
        """Headers to send with the next request."""
        ...

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """After a 401: prepare fresh credentials and return True to retry once."""
        ...


class NoAuth:
    """For endpoints that need no credentials (e.g. Wawi app registration)."""

    def headers(self) -> dict[str, str]:
        """No headers."""
        return {}

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """Never retry a 401."""
        return False


def _display_path(url: httpx.URL) -> str:
    return url.path


class HttpCore:
    """Sends one logical request through limiter, auth and retry policy; the clients' only way out.

    ``base_url`` is joined here rather than on the injected ``httpx.Client`` so one client (with its
    connection pool) can serve several APIs. Absolute URLs from the API (next links) are re-rooted on
    ``base_url``'s origin, so a credential is never sent to a host we were not configured for.
    """

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        auth: AuthStrategy | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        stats: RequestStats | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        split = urlsplit(self.base_url)
        self._origin = f"{split.scheme}://{split.netloc}"
        self._base_path = split.path.rstrip("/")
        self.auth: AuthStrategy = auth or NoAuth()
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.default_headers = dict(default_headers or {})
        self.stats = stats or RequestStats()

    def url(self, path_or_url: str) -> str:
        """Absolute URL for an API path or a link the API returned."""
        if not path_or_url:
            return self.base_url
        if path_or_url.startswith(("http://", "https://")):
            split = urlsplit(path_or_url)
            return self._origin + split.path + (f"?{split.query}" if split.query else "")
        if self._base_path and path_or_url.startswith(self._base_path + "/"):
            return self._origin + path_or_url  # a server-relative link that already carries our prefix
        return self.base_url + "/" + path_or_url.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_transient: bool | None = None,
    ) -> httpx.Response:
        """Send and return a 2xx/3xx response, or raise a typed :class:`JtlApiError`.

        ``retry_transient`` overrides the idempotency rule (a caller with its own guard may pass True).
        """
        method = method.upper()
        url = self.url(path)
        display = _display_path(httpx.URL(url))
        may_retry_transient = method in IDEMPOTENT_METHODS if retry_transient is None else retry_transient
        policy = self.retry
        started = policy.clock()
        attempt = 0
        reauthenticated = False
        while True:
            attempt += 1
            if self.limiter is not None:
                self.limiter.acquire()
            sent = {**self.default_headers, **self.auth.headers(), **(headers or {})}
            sent[CORRELATION_HEADER] = correlation_id.get()
            error: JtlApiError
            try:
                response = self.http.request(method, url, params=params, json=json, data=data, headers=sent)
            except httpx.TransportError as exc:
                self.stats.record_transport_error()
                error = TransientError(
                    describe(method, display, None, type(exc).__name__, ()), method=method, path=display
                )
                if not may_retry_transient:
                    raise error from exc
                delay = policy.backoff(attempt)
                reason = type(exc).__name__
                cause: BaseException | None = exc
            else:
                self.stats.record_response(response.status_code)
                status = response.status_code
                if status < 400:
                    return response
                if status == 401 and not reauthenticated and self.auth.on_unauthorized(sent):
                    reauthenticated = True
                    attempt -= 1  # a credential refresh is not a retry of the request
                    logger.info("%s %s -> 401, retrying once with fresh credentials", method, display)
                    continue
                cause = None
                if status == 429:
                    delay = policy.rate_limit_delay(response, attempt)
                    error = error_from_response(method, display, response, retry_after=delay)
                    if self.limiter is not None:
                        self.limiter.pause(delay)
                    reason = "429"
                elif (status >= 500 or status == 408) and may_retry_transient:
                    error = error_from_response(method, display, response)
                    delay = policy.backoff(attempt)
                    reason = str(status)
                else:
                    raise error_from_response(method, display, response)
            elapsed = policy.clock() - started
            if attempt >= policy.max_attempts or elapsed + delay > policy.budget_seconds:
                error.message = f"{error.message} (gave up after {attempt} attempt(s) in {elapsed:.1f}s)"
                error.args = (error.message,)
                if isinstance(error, RateLimited):
                    error.retry_after = delay
                raise error from cause
            logger.warning(
                "retrying %s %s: attempt=%d delay=%.3fs reason=%s",
                method,
                display,
                attempt,
                delay,
                reason,
                extra={
                    "method": method,
                    "path": display,
                    "attempt": attempt,
                    "delay": delay,
                    "reason": reason,
                },
            )
            self.stats.record_retry()
            policy.sleep(delay)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode the JSON body (``None`` for 204/empty)."""
        return _json_or_none(self.request("GET", path, params=params))


def _json_or_none(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


json_or_none = _json_or_none
