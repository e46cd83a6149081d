"""The one retry policy of the core: when to try again, how long to wait, and when to give up.

Every system the core talks to (FFN, Wawi, the FFN token endpoint, Google Sheets, SMTP, webhooks)
retries through :func:`call_with_retry`, so they share one arithmetic: capped exponential backoff with
full jitter, server-requested waits (Retry-After, X-RateLimit-*) honoured up to a cap, an attempt limit
and a total time budget that no sleep may overrun. What differs per system is only *what* is worth a
retry (a classifier per caller) and the values (:meth:`RetryPolicy.from_settings`).

Failures that outlast these retries but may still pass later derive from :class:`TransientFailure`;
that marker is all the Prefect task retry condition looks at. Clocks, ``sleep`` and jitter are
injectable so tests never wait. No Prefect imports here.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

from jtl_automator.correlation import correlated_logger

if TYPE_CHECKING:
    from jtl_automator.settings import RetrySystem, Settings

T = TypeVar("T")

Logger = logging.Logger | logging.LoggerAdapter[Any]

logger = correlated_logger("jtl_automator.resilience")


class TransientFailure(Exception):
    """A later attempt may succeed: the caller's own retries are spent, a coarse (task) retry is not.

    Mixed into each system's error for 429/5xx/timeouts/dropped connections, so one ``except`` (the
    Prefect retry condition) covers all of them and nothing else (auth, bad input, missing sheets).
    """


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


class InFlightLimit:
    """At most ``limit`` requests of one API on the wire at once, across every thread that shares it.

    The rate limiter spaces requests out; this bounds how many wait for an answer together, so threads
    that overlap independent reads and writes never send a server more than it serves at once (an
    on-premise Wawi answers a few requests at a time and queues or refuses the rest). A slot is held
    for one attempt only, never during a backoff sleep. ``peak`` is the most ever held at once.

    Slots go to the waiting requests in the order they asked (a freed slot is handed to the longest
    waiting, not to whichever thread asks next): a flow that asks first for what everything else waits
    for (pricing's VAT rates, a listing's first page) gets it first, however many requests follow.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._lock = threading.Lock()
        self._free = limit  # held: limit - free (a slot handed from one request to the next stays held)
        self._waiting: deque[threading.Event] = deque()
        self.peak = 0

    @property
    def free(self) -> int:
        """Slots no request holds now."""
        with self._lock:
            return self._free

    def _acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                self.peak = max(self.peak, self.limit - self._free)
                return
            handed = threading.Event()
            self._waiting.append(handed)
        try:
            handed.wait()
        except BaseException:  # interrupted while waiting: give back a slot handed over meanwhile
            with self._lock:
                if handed in self._waiting:
                    self._waiting.remove(handed)
                    raise
            self._release()
            raise

    def _release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the slot goes straight to the longest waiting
            else:
                self._free += 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of the block (waiting, in the order asked, for a free one)."""
        self._acquire()
        try:
            yield
        finally:
            self._release()


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


def server_delay(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """The wait a 429 asks for: Retry-After, else the X-RateLimit window when it is used up; else None.

    ``headers`` is any case-insensitive mapping (``httpx.Headers``, a ``requests`` response's headers),
    so the httpx clients and gspread read a 429 the same way. Uncapped: the policy applies its cap.
    """
    retry_after = parse_retry_after(headers.get("Retry-After"), now=now)
    if retry_after is not None:
        return retry_after
    remaining = headers.get("X-RateLimit-Remaining")
    interval = headers.get("X-RateLimit-Interval-Length-Seconds")
    if interval is not None and (remaining is None or remaining.strip() == "0"):
        try:
            return max(0.0, float(interval))
        except ValueError:
            pass
    return None


@dataclass(frozen=True)
class Retry:
    """A classifier's verdict that a failure is worth another attempt, and how to wait for it."""

    #: Short cause for the log line: a status (``"503"``), an exception class, an SMTP code.
    reason: str
    #: The wait the server asked for (capped by the policy); ``None``: the policy's backoff.
    delay: float | None = None
    #: A 429: every thread sharing the rate limiter waits too, not only this one.
    pause_limiter: bool = False
    #: Never wait less than this when backing off (a server-requested delay is taken as given).
    min_delay: float = 0.0

    @classmethod
    def throttled(cls, requested: float | None, policy: RetryPolicy, *, reason: str = "429") -> Retry:
        """A 429: the server's wait if it named one, else backoff but at least ``initial_delay``."""
        return cls(reason, delay=requested, pause_limiter=True, min_delay=policy.initial_delay)


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

    def delay(self, decision: Retry, attempt: int) -> float:
        """The wait before the next attempt: the server's (capped), else backoff (with its floor)."""
        if decision.delay is not None:
            return min(max(0.0, decision.delay), self.max_retry_after)
        return max(self.backoff(attempt), decision.min_delay)

    @classmethod
    def from_settings(cls, settings: Settings, system: RetrySystem = "http") -> RetryPolicy:
        """The policy of one system (``http``: FFN and Wawi; ``sheets``, ``smtp``, ``webhook``)."""
        values = settings.retry_values(system)
        return cls(
            max_attempts=values.max_attempts,
            budget_seconds=values.budget_seconds,
            initial_delay=values.initial_delay_seconds,
            max_delay=values.max_delay_seconds,
            max_retry_after=values.retry_after_cap_seconds,
        )

    @classmethod
    def defaults(cls, system: RetrySystem = "http") -> RetryPolicy:
        """One system's policy with the documented defaults, whatever the ``JTL_*`` environment says."""
        from jtl_automator.settings import Settings

        return cls.from_settings(Settings.from_values(), system)


@dataclass(frozen=True)
class GaveUp:
    """Why :func:`call_with_retry` stopped: handed to ``on_give_up`` to shape the error it raises."""

    what: str
    attempts: int
    elapsed: float
    #: The wait another attempt would have needed (for a 429: what the caller should wait now).
    delay: float
    reason: str

    def note(self) -> str:
        """``gave up after N attempt(s) in X.Ys``, for error messages."""
        return f"gave up after {self.attempts} attempt(s) in {self.elapsed:.1f}s"


def call_with_retry(
    attempt: Callable[[int], T],
    classify: Callable[[Exception], Retry | None],
    policy: RetryPolicy,
    *,
    what: str,
    limiter: RateLimiter | None = None,
    stats: RequestStats | None = None,
    on_give_up: Callable[[Exception, GaveUp], Exception | None] | None = None,
    log: Logger = logger,
    log_extra: Mapping[str, Any] | None = None,
    in_flight: InFlightLimit | None = None,
) -> T:
    """Run ``attempt(1)``, ``attempt(2)``, ... until one returns, under ``policy``.

    ``classify`` sees every exception: ``None`` raises it at once, a :class:`Retry` waits and tries
    again unless the attempt limit is reached or the wait would end past the time budget. Then the last
    error is raised, or what ``on_give_up`` returns instead (``None``: the error itself, perhaps
    amended). Errors are raised outside any ``except`` block, so an error built by ``attempt`` or
    ``on_give_up`` never gets a library exception (which may quote credentials) as ``__context__``.

    ``limiter`` is acquired before each attempt and paused on a throttled retry; ``what`` names the
    request in log lines (never put secrets in it); ``log_extra`` adds structured fields to them.
    ``in_flight`` is held around each attempt (taken before the limiter, so a rate slot is never spent
    waiting for it) and free during the waits between attempts.
    """
    started = policy.clock()
    number = 0
    while True:
        number += 1
        with in_flight.slot() if in_flight is not None else nullcontext():
            if limiter is not None:
                limiter.acquire()
            try:
                return attempt(number)
            except Exception as exc:
                error = exc
        decision = classify(error)
        if decision is None:
            raise error
        delay = policy.delay(decision, number)
        if decision.pause_limiter and limiter is not None:
            limiter.pause(delay)
        elapsed = policy.clock() - started
        if number >= policy.max_attempts or elapsed + delay > policy.budget_seconds:
            log.warning(
                "giving up %s after %d attempt(s) in %.1fs: reason=%s",
                what,
                number,
                elapsed,
                decision.reason,
                extra={**(log_extra or {}), "attempt": number, "reason": decision.reason},
            )
            gave_up = GaveUp(what, number, elapsed, delay, decision.reason)
            replacement = on_give_up(error, gave_up) if on_give_up is not None else None
            raise error if replacement is None else replacement
        log.warning(
            "retrying %s: attempt=%d delay=%.3fs reason=%s",
            what,
            number,
            delay,
            decision.reason,
            extra={**(log_extra or {}), "attempt": number, "delay": delay, "reason": decision.reason},
        )
        if stats is not None:
            stats.record_retry()
        note_retry()
        policy.sleep(delay)


#: Requests retried per thread (its ident), ever: a server that refuses or fails is not asked twice.
_retries_by_thread: dict[int, int] = {}


def note_retry() -> None:
    """Count a retry of a request on this thread (before its wait): hedged reads then hold back."""
    ident = threading.get_ident()
    _retries_by_thread[ident] = _retries_by_thread.get(ident, 0) + 1


def retries_on(ident: int) -> int:
    """How many requests were retried on the thread ``ident`` so far."""
    return _retries_by_thread.get(ident, 0)


__all__ = [
    "GaveUp",
    "InFlightLimit",
    "RateLimiter",
    "RequestStats",
    "Retry",
    "RetryPolicy",
    "TransientFailure",
    "call_with_retry",
    "note_retry",
    "parse_retry_after",
    "retries_on",
    "server_delay",
]
