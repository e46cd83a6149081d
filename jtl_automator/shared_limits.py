"""API rate limits shared by every process: permits from one shared bucket on top of the local limiter.

A :class:`~jtl_automator.resilience.RateLimiter` paces one client; with several workers each would take
the whole rate, so two workers send twice what FFN, Wawi or Google allow. A :class:`SharedRateLimiter`
paces its client the same way and then takes a permit from its process's :class:`PermitPool`, which
draws permits from a :class:`SlotSource`: a token bucket all processes share (the Prefect shell gives
one on a Prefect server's global concurrency limit with slot decay, ``blocks/rate_limits.py``).

Asking the shared bucket for every request costs a round trip to it (45 ms to a Prefect server on an
idle machine, 200 ms on a loaded one) and loses a little of the bucket's refill each time, so the pool
takes ``batch`` slots at once, hands them to its threads one by one and asks for the next batch in the
background when half is left. Permits are dropped unused ``permit_seconds`` after they were granted
(twice the time the bucket needs to refill a batch), so no process can save them up for a burst: in
any ``W`` seconds all processes together send at most ``limit + 2 * batch + rate * W`` requests.

When the shared bucket cannot be used (no server, unreachable, the limit missing or disabled), the pool
says so in one log line and stands aside: the local limiter alone paces the client, as before. It asks
again after ``retry_seconds`` and says so when it is back. No Prefect imports here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from jtl_automator.correlation import correlated_logger
from jtl_automator.resilience import RateLimiter

logger = correlated_logger("jtl_automator.shared_limits")

#: The shared limit of each external API (one per API, as the Prefect server knows them).
FFN_LIMIT = "jtl-ffn-api"
WAWI_LIMIT = "jtl-wawi-api"
SHEETS_LIMIT = "jtl-sheets-api"

#: How long a pool that found the shared limit unusable leaves it alone before asking again.
RETRY_SECONDS = 60.0
#: Batches a pool asks for at once, at most: a second only when it ran dry waiting for the first.
MAX_FETCHES = 2


class SharedLimitUnavailable(Exception):
    """The shared limit cannot be used now; the message says why (never a credential or a URL's secret)."""


@dataclass(frozen=True)
class SharedLimit:
    """A shared token bucket: ``limit`` slots that refill at ``rate_per_second``; one slot per request."""

    name: str
    limit: int
    rate_per_second: float

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"{self.name}: a shared limit needs at least one slot")
        if self.rate_per_second <= 0:
            raise ValueError(f"{self.name}: a shared rate limit needs a refill rate above 0")

    @property
    def batch(self) -> int:
        """Slots a process takes at once: half the bucket, so a second process finds room meanwhile."""
        return max(1, self.limit // 2)

    @property
    def permit_seconds(self) -> float:
        """How long taken slots stay usable: twice the time the bucket needs to refill a batch."""
        return 2 * self.batch / self.rate_per_second

    def burst_bound(self, seconds: float) -> float:
        """The most requests all processes together send in any ``seconds`` (documented guarantee)."""
        return self.limit + 2 * self.batch + self.rate_per_second * seconds

    @classmethod
    def for_rate(cls, name: str, rate_per_second: float, burst: int) -> SharedLimit:
        """The limit the project creates for a client limited to ``rate_per_second`` with ``burst``."""
        return cls(name, max(1, burst), rate_per_second)


class SlotSource(Protocol):
    """A token bucket shared by processes (a Prefect global concurrency limit with slot decay)."""

    name: str

    def describe(self) -> SharedLimit:
        """The bucket's size and refill rate; :class:`SharedLimitUnavailable` if it cannot be used."""
        ...

    def take(self, slots: int) -> SharedLimit:
        """Block until ``slots`` slots are taken; the limit as it is now (:class:`SharedLimitUnavailable`).

        If the limit was made smaller meanwhile, only ``min(slots, limit.batch)`` are taken.
        """
        ...


class PermitPool:
    """One process's share of a :class:`SlotSource`: batches of slots, handed out one per request.

    Thread-safe. When half a batch is left, the next one is asked for in the background, so the
    round trip to the shared bucket overlaps the requests instead of stalling them; if the pool runs
    dry before it comes back (a slow server), a second is asked for alongside. Create one per process
    and shared limit, and give it to every client's :class:`SharedRateLimiter` (``blocks/rate_limits.py``
    keeps them). ``spawn`` runs a fetch (default: a daemon thread; tests pass ``lambda fetch: fetch()``).
    """

    def __init__(
        self,
        source: SlotSource,
        *,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        spawn: Callable[[Callable[[], None]], None] | None = None,
        refill_at: float = 0.5,
    ) -> None:
        self.source = source
        self.refill_at = refill_at
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._spawn = spawn or _daemon
        self._cond = threading.Condition()
        self._limit: SharedLimit | None = None
        self._batches: deque[list[float]] = deque()  # [expires at, permits left], oldest first
        self._fetches = 0  # batches being asked for right now
        self._resume_at = 0.0
        #: ``None`` while the shared limit is used (or not yet tried); else until when it is left alone.
        self._away_until: float | None = None
        #: Batches taken, permits dropped unused, and seconds spent asking the shared bucket (waits included).
        self.batches = 0
        self.expired = 0
        self.fetch_seconds = 0.0

    def __repr__(self) -> str:
        return f"PermitPool({self.source.name!r}, shared={self.shared})"

    @property
    def shared(self) -> bool:
        """Whether the last attempt used the shared limit (False before the first and while away)."""
        return self._limit is not None and self._away_until is None

    @property
    def limit(self) -> SharedLimit | None:
        """The shared limit as last described (``None`` before it was reached)."""
        return self._limit

    @property
    def in_hand(self) -> int:
        """Permits taken from the shared bucket and not handed out yet (stale ones included)."""
        with self._cond:
            return int(sum(left for _, left in self._batches))

    def take(self) -> float:
        """One permit for one request; returns the seconds waited (0 at once while the limit is away)."""
        started = self._clock()
        while True:
            with self._cond:
                got, fetch = self._take_locked()
            if fetch:
                self._spawn(self._fetch)
            if got:
                return self._clock() - started
            with self._cond:
                if self._fetches or self._resume_at > self._clock():
                    self._cond.wait(max(0.0, self._resume_at - self._clock()) or None)

    def _take_locked(self) -> tuple[bool, bool]:
        """(a permit was taken or none is needed, a fetch must start); the caller holds the lock."""
        now = self._clock()
        if self._away_until is not None and now < self._away_until:
            return True, False
        if now < self._resume_at:
            return False, False
        while self._batches and (self._batches[0][0] <= now or self._batches[0][1] <= 0):
            _, left = self._batches.popleft()
            self.expired += int(left)
        if self._batches:
            self._batches[0][1] -= 1
            low = int(self._limit.batch * self.refill_at) if self._limit is not None else 0
            refill = not self._fetches and sum(left for _, left in self._batches) <= low
            self._fetches += refill
            return True, refill
        # None in hand: while the batch asked for ahead is still on its way (a slow server), a
        # second one is asked for too; never more, and never two before the first came back.
        if self._fetches >= (MAX_FETCHES if self._limit is not None else 1):
            return False, False
        self._fetches += 1
        return False, True

    def _fetch(self) -> None:
        """Take a batch from the source (describing it first when new or back); never raises."""
        limit = self._limit
        asked = self._clock()
        try:
            if limit is None or self._away_until is not None:
                limit = self.source.describe()
            now = self.source.take(limit.batch)
            granted, limit = min(limit.batch, now.batch), now
        except SharedLimitUnavailable as exc:
            with self._cond:  # said before the waiting threads go on: the line comes first
                self.fetch_seconds += self._clock() - asked
                if self._away_until is None:
                    logger.warning(
                        "rate limit %s not shared across processes: %s; this process limits itself "
                        "(asking again every %.0f s)",
                        self.source.name,
                        exc,
                        self.retry_seconds,
                    )
                self._away_until = self._clock() + self.retry_seconds
                self._fetches -= 1
                self._cond.notify_all()
            return
        with self._cond:
            if self._away_until is not None or self._limit is None:
                logger.info(
                    "rate limit %s shared across processes: %d slots, %.3g per second, taken %d at a time",
                    limit.name,
                    limit.limit,
                    limit.rate_per_second,
                    limit.batch,
                )
            self._limit = limit
            self._away_until = None
            self._batches.append([self._clock() + limit.permit_seconds, float(granted)])
            self._fetches -= 1
            self.batches += 1
            self.fetch_seconds += self._clock() - asked
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hand out no permit for ``seconds`` (after a 429): the process's other clients wait too."""
        if seconds <= 0:
            return
        with self._cond:
            self._resume_at = max(self._resume_at, self._clock() + seconds)
            self._cond.notify_all()


def _daemon(fetch: Callable[[], None]) -> None:
    """Run ``fetch`` in a daemon thread: a process may exit while a fetch still waits for slots."""
    threading.Thread(target=fetch, name="shared-rate-limit-fetch", daemon=True).start()


class SharedRateLimiter(RateLimiter):
    """The local limiter (pacing this client as before) plus a permit of the process's shared pool.

    A drop-in :class:`RateLimiter`: clients call ``acquire()`` before each request and ``pause()``
    after a 429, from any number of threads.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int = 1,
        *,
        pool: PermitPool,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(rate_per_second, burst, clock=clock, sleep=sleep)
        self.pool = pool

    def __repr__(self) -> str:
        return f"SharedRateLimiter({self.rate_per_second:g}/s, burst={self.burst}, pool={self.pool!r})"

    def acquire(self) -> float:
        """This client's slot, then a shared permit; returns the seconds waited for both."""
        return super().acquire() + self.pool.take()

    def pause(self, seconds: float) -> None:
        """Hold this client and the process's shared permits back for ``seconds``."""
        super().pause(seconds)
        self.pool.pause(seconds)


__all__ = [
    "FFN_LIMIT",
    "RETRY_SECONDS",
    "SHEETS_LIMIT",
    "WAWI_LIMIT",
    "PermitPool",
    "SharedLimit",
    "SharedLimitUnavailable",
    "SharedRateLimiter",
    "SlotSource",
]
