"""Requests per client IP within a window: in the process, and across every process on one state database.

:class:`RateLimiter` keeps an exact log of each IP's recent request times in the process. On its own it
lets N gateway processes behind one address pass N times the limit, so the gateway uses
:class:`SharedRateLimiter`: the count lives in the state database (``gateway_rate_counts``), one row
per IP and slice of the window, and a request passes when the slices the window overlaps hold fewer than
the limit; the check and the increment are one transaction (on PostgreSQL under a lock per IP; SQLite
serialises writers), so two processes never both pass the last request.

A flood must not become database load. Two checks in the process answer without the database: an IP
the database refused stays refused here until its Retry-After has passed (the count cannot drop sooner),
and an IP this process alone passed up to the limit within the window is refused outright. So a flooding
IP costs one database transaction per Retry-After per process, not one per request.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from jtl_automator.store.models import GatewayRateCountRow
from jtl_automator.store.store import StateStore

log = logging.getLogger(__name__)

#: Slices per window: a slice counts while any part of it is in the window, so the limit holds over every
#: window of that length, and an IP at its limit may wait up to one slice (a twentieth) longer than exact.
SLICES = 20
_IP_LOCK_CLASS = 0x4A544C52  # "JTLR": the advisory lock class of the per-IP lock on PostgreSQL


class RateLimiter:
    """``allow(ip)`` is ``0.0`` when a request may pass, else the seconds until it may (for Retry-After)."""

    def __init__(
        self, requests: int = 100, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.requests = requests
        self.window = window_seconds
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def allow(self, ip: str) -> float:
        """Count the request if it passes; a refused request is not counted (it did no work)."""
        return self.check(ip, count=True)

    def check(self, ip: str, *, count: bool) -> float:
        """The wait for ``ip`` now (0.0: it may pass); ``count`` records a passing request."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            times = self._seen.setdefault(ip, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.requests:
                return max(0.001, times[0] + self.window - now)
            if count:
                times.append(now)
            return 0.0

    def record(self, ip: str) -> None:
        """Note a request that passed elsewhere (the shared count) in this process's log."""
        now = self.clock()
        with self._lock:
            self._seen.setdefault(ip, deque()).append(now)

    def _sweep(self, now: float) -> None:
        """Forget IPs quiet for a whole window, so many one-off clients do not grow memory."""
        if now - self._last_sweep < self.window:
            return
        self._last_sweep = now
        for ip in [ip for ip, times in self._seen.items() if not times or times[-1] <= now - self.window]:
            del self._seen[ip]

    @staticmethod
    def retry_after(seconds: float) -> str:
        """The ``Retry-After`` header value: whole seconds, rounded up."""
        return str(max(1, math.ceil(seconds)))


def _ip_key(ip: str) -> int:
    """A signed 32-bit number for the IP (the second half of the advisory lock's key)."""
    return int.from_bytes(hashlib.sha256(ip.encode()).digest()[:4], "big", signed=True)


class SharedRateLimiter:
    """The limit per client IP across every gateway process on one state database.

    :meth:`precheck` answers from this process's memory (no I/O: call it on the event loop); when it
    lets a request on, :meth:`allow_shared` asks the database (blocking: call it in a thread). If the
    database cannot be reached, the request is judged by this process's own count alone (the limit per
    process, as before) and the failure is logged once per window.

    ``clock`` is wall time in seconds: every process's slices must line up (keep the hosts on NTP).
    """

    def __init__(
        self,
        store: StateStore,
        requests: int = 100,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.requests = requests
        self.window = window_seconds
        self.clock = clock
        self.local = RateLimiter(requests, window_seconds, clock=clock)
        self._slice_ms = max(1, math.ceil(window_seconds * 1000 / SLICES))
        self._window_ms = math.ceil(window_seconds * 1000)
        self._refused: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + window_seconds
        self._quiet_until = 0.0

    def precheck(self, ip: str) -> float:
        """The wait this process knows of without the database: refused before, or its own count full."""
        now = self.clock()
        with self._lock:
            until = self._refused.get(ip)
            if until is not None:
                if until > now:
                    return until - now
                del self._refused[ip]
        return self.local.check(ip, count=False)

    def allow_shared(self, ip: str) -> float:
        """Count the request in the database if the shared window has room; else the seconds to wait."""
        now = self.clock()
        try:
            wait = self._count(ip, now)
            self._maybe_sweep(now)
        except Exception as exc:  # the database is away: this process's own count decides
            if now >= self._quiet_until:
                self._quiet_until = now + self.window
                log.warning(
                    "gateway: shared rate limit unavailable (%s); counting per process", type(exc).__name__
                )
            return self.local.allow(ip)
        if wait:
            with self._lock:
                self._refused[ip] = now + wait
        else:
            self.local.record(ip)
        return wait

    def allow(self, ip: str) -> float:
        """:meth:`precheck`, then :meth:`allow_shared` (for callers that may block)."""
        return self.precheck(ip) or self.allow_shared(ip)

    def _count(self, ip: str, now: float) -> float:
        now_ms = int(now * 1000)
        start = now_ms - now_ms % self._slice_ms
        oldest_counted = now_ms - self._window_ms - self._slice_ms  # slices after this reach into the window
        with self.store.session() as s:
            self._lock_ip(s, ip)
            total, oldest = s.execute(
                select(
                    func.coalesce(func.sum(GatewayRateCountRow.requests), 0),
                    func.min(GatewayRateCountRow.slice_start),
                ).where(GatewayRateCountRow.client_ip == ip, GatewayRateCountRow.slice_start > oldest_counted)
            ).one()
            if int(total) >= self.requests:
                leaves_ms = (
                    int(oldest) + self._slice_ms + self._window_ms
                )  # when the oldest slice stops counting
                return max(0.001, (leaves_ms - now_ms) / 1000)
            ins = self.store._insert(s)
            ends = datetime.fromtimestamp((start + self._slice_ms) / 1000, UTC)
            s.execute(
                ins(GatewayRateCountRow)
                .values(client_ip=ip, slice_start=start, ends_at=ends, requests=1)
                .on_conflict_do_update(
                    index_elements=["client_ip", "slice_start"],
                    set_={"requests": GatewayRateCountRow.requests + 1},
                )
            )
        return 0.0

    def _lock_ip(self, s: Session, ip: str) -> None:
        """On PostgreSQL, one transaction per IP at a time (SQLite's ``BEGIN IMMEDIATE`` already is)."""
        if self.store.dialect == "postgresql":
            s.execute(
                text("SELECT pg_advisory_xact_lock(:cls, :key)"), {"cls": _IP_LOCK_CLASS, "key": _ip_key(ip)}
            )

    def _maybe_sweep(self, now: float) -> None:
        """Once a window, delete the slices that count for nothing any more and forget old refusals."""
        with self._lock:
            if now < self._next_sweep:
                return
            self._next_sweep = now + self.window
            self._refused = {ip: until for ip, until in self._refused.items() if until > now}
        # two windows back: a process whose clock runs a little behind still counts the last one
        prune_rate_counts(self.store, datetime.fromtimestamp(now, UTC) - timedelta(seconds=2 * self.window))

    @staticmethod
    def retry_after(seconds: float) -> str:
        """The ``Retry-After`` header value: whole seconds, rounded up."""
        return RateLimiter.retry_after(seconds)


def prune_rate_counts(store: StateStore, ended_before: datetime) -> int:
    """Delete rate-limit slices that ended before ``ended_before``; returns how many.

    A slice counts only while it reaches into the window, so anything ended a window ago is dead.
    """
    with store.session() as s:
        result = s.execute(delete(GatewayRateCountRow).where(GatewayRateCountRow.ends_at < ended_before))
        return int(getattr(result, "rowcount", 0) or 0)


__all__ = ["SLICES", "RateLimiter", "SharedRateLimiter", "prune_rate_counts"]
