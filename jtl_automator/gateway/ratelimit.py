"""Requests per client IP in a sliding window (an exact log of each IP's recent request times).

Kept in the process: a rate limit protects this process's work, and one more database write per
request would give a flood exactly the load it is meant to stop. Several gateway processes behind one
address each count on their own (the documented limit is then per process).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


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
        now = self.clock()
        with self._lock:
            self._sweep(now)
            times = self._seen.setdefault(ip, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.requests:
                return max(0.001, times[0] + self.window - now)
            times.append(now)
            return 0.0

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
