"""The API rate limits on the Prefect server: one global concurrency limit with slot decay per API.

Every worker's FFN, Wawi and Sheets clients take their requests from the same limit, so all workers
together keep the rate one worker was allowed (docs/rate-limits.md). The core's
:class:`~jtl_automator.shared_limits.PermitPool` decides when to ask; this module speaks to the
server: :class:`PrefectRateLimitSlots` takes slots, :func:`api_limiter` builds a client's limiter
(one pool per process, server and limit) and :func:`ensure_rate_limits` creates or updates the
limits (``jtl-automator blocks``).

Without a Prefect server (``PREFECT_API_URL`` unset: flows start a throwaway ephemeral server whose
limits nobody else sees) each process limits itself, as it always did, and says so once.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from jtl_automator.correlation import correlated_logger
from jtl_automator.resilience import RateLimiter
from jtl_automator.settings import Settings
from jtl_automator.shared_limits import (
    FFN_LIMIT,
    SHEETS_LIMIT,
    WAWI_LIMIT,
    PermitPool,
    SharedLimit,
    SharedLimitUnavailable,
    SharedRateLimiter,
)

logger = correlated_logger("jtl_automator.rate_limits")

#: How long one call to the Prefect server may take before it counts as unreachable (seconds).
REQUEST_TIMEOUT_SECONDS = 10.0
#: Batches asked for without reading the limit first while it had room, before it is read again.
UNREAD_BATCHES = 8
#: How far past a whole slot's decay a batch is asked for (a slot's fraction: the server's clock and
#: the request's way there may be a little behind this process's).
ALIGN_SLOT_FRACTION = 0.15
#: A wait longer than this many slots' decay is cut short to read the limit again before asking.
RECHECK_SLOTS = 2.0


def decay_wait(found: GlobalConcurrencyLimitResponse, wanted: int, now: float) -> float:
    """Seconds until ``wanted`` slots are free, timed just past a whole slot's decay.

    The server decays ``floor(rate * seconds since the row was last written)`` slots and every write
    (a grant, or a refusal) restarts that clock, so the fraction of a slot decayed at the moment of a
    write is lost: half a slot per write on average, a tenth of the rate at two writes a second. The
    row's ``updated`` time says where the next whole slot falls; asking just after it loses almost
    nothing. Where that time cannot be trusted (missing, or a server clock far from this one), the
    plain wait ``(wanted - free) / rate`` is used.
    """
    rate = found.slot_decay_per_second
    free = found.limit - found.active_slots
    plain = max(0.0, (wanted - free) / rate)
    if found.updated is None or found.active_slots <= 0:
        return plain  # an empty bucket decays no further: nothing to save by waiting
    elapsed = now - found.updated.timestamp()
    if elapsed < 0:
        return plain
    stored = found.active_slots + math.floor(rate * elapsed)  # the row as written, before decay
    if stored > found.limit:
        return plain  # no write leaves more than the limit: the clocks disagree
    due = max(math.floor(rate * elapsed) + 1, stored + wanted - found.limit)
    wait = found.updated.timestamp() + (due + ALIGN_SLOT_FRACTION) / rate - now
    if wait < 0 or wait > plain + (1.0 + ALIGN_SLOT_FRACTION) / rate:
        return plain  # the clocks disagree: the plain wait is never wrong, only a little wasteful
    return wait


def _unreachable(exc: Exception) -> SharedLimitUnavailable:
    """The error without the server's answer body or URL credentials: its class and status only."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    detail = f"{type(exc).__name__}" + (f" {status}" if status else "")
    return SharedLimitUnavailable(f"the Prefect server did not answer ({detail})")


class PrefectRateLimitSlots:
    """A Prefect global concurrency limit with slot decay as the shared bucket of a PermitPool.

    Slots are taken the way ``prefect.concurrency.sync.rate_limit`` takes them (the server's
    ``increment`` in ``rate_limit`` mode, so a flow's own ``rate_limit("jtl-ffn-api")`` counts against
    the same budget), with two differences that measured 94-100 % of the rate where ``rate_limit``
    measured 55-81 % (two busy processes, docs/rate-limits.md):

    - The limit is read first and asked only once it has room. A refused increment restarts the
      limit's decay clock without decaying it (Prefect 3.8), so every refusal loses the slots that
      had freed up since the last grant; a read changes nothing. (While it has plenty of room the
      read is skipped: see :meth:`take`.)
    - One HTTP client per process and limit, called directly: no hop through Prefect's event-loop
      thread and no event per acquisition (4 a second per API at 20 requests a second).
    """

    def __init__(self, name: str, api_url: str | None = None) -> None:
        self.name = name
        #: The server the pool was made for; the fetch threads do not see a caller's settings context.
        self.api_url = api_url or PREFECT_API_URL.value()
        self._client: SyncPrefectClient | None = None
        self._seen: SharedLimit | None = None
        self._unread = 0
        self._lock = threading.Lock()  # a pool may ask for two batches at once (a slow server)
        self._taking = threading.Lock()
        #: Calls to the server, seconds spent in them, seconds waited for decay, refused increments.
        self.stats = {
            "reads": 0,
            "increments": 0,
            "call_seconds": 0.0,
            "decay_wait_seconds": 0.0,
            "refused": 0,
        }

    def __repr__(self) -> str:
        return f"PrefectRateLimitSlots({self.name!r})"

    def describe(self) -> SharedLimit:
        """The limit's size and decay as the server has them (one GET, which spends no slot)."""
        found = self._read()
        return SharedLimit(self.name, found.limit, found.slot_decay_per_second)

    def take(self, slots: int) -> SharedLimit:
        """Occupy ``slots`` slots (fewer if the limit's batch shrank meanwhile) once there is room.

        Returns the limit as read, so the pool follows a limit changed while it runs. While the
        last read found room for two batches (nobody else is short of slots), the next batches are
        asked for without reading first, up to :data:`UNREAD_BATCHES` in a row: then the round
        trip to the server, not the limit, decides the rate, and one call per batch is half of two.

        One take at a time per process: a pool's second fetch (it ran dry) waits behind the first
        instead of racing it to the same freed slots, where every lost race is a refused write that
        costs the limit its decay since the last one.
        """
        with self._taking:
            return self._take(slots)

    def _take(self, slots: int) -> SharedLimit:
        while True:
            with self._lock:
                unread, seen = self._unread > 0, self._seen
                self._unread -= unread
            if unread and seen is not None:
                limit = seen
                wanted = min(slots, limit.batch)
                if self._increment(wanted):
                    return limit
                self._unread = 0  # the limit is busy after all: read before every batch again
                continue
            found = self._read()
            limit = self._seen = SharedLimit(self.name, found.limit, found.slot_decay_per_second)
            wanted = min(slots, limit.batch)
            wait = decay_wait(found, wanted, time.time())
            near = RECHECK_SLOTS / limit.rate_per_second
            if wait > near:  # far off: look again shortly before, another process may take the room
                self._count("decay_wait_seconds", wait - near)
                time.sleep(wait - near)
                continue
            self._count("decay_wait_seconds", wait)
            time.sleep(wait)  # to just past the slot's decay: asked then, the write loses no fraction
            free = found.limit - found.active_slots
            if self._increment(wanted):
                with self._lock:
                    self._unread = UNREAD_BATCHES if free >= 2 * wanted else 0
                return limit

    def _increment(self, slots: int) -> bool:
        """Occupy ``slots`` now: True, or False when the limit has no room (423)."""
        started = time.monotonic()
        try:
            self._count("increments")
            granted = self._http().increment_concurrency_slots(
                names=[self.name], slots=slots, mode="rate_limit"
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 423:
                self._count("refused")
                return False  # another process took the room first
            raise _unreachable(exc) from None
        except (httpx.HTTPError, OSError) as exc:
            raise _unreachable(exc) from None
        finally:
            self._count("call_seconds", time.monotonic() - started)
        if not granted.json():
            raise SharedLimitUnavailable(f"the global concurrency limit {self.name!r} was deleted")
        return True

    def _count(self, what: str, amount: float = 1) -> None:
        with self._lock:
            self.stats[what] += amount

    def _http(self) -> SyncPrefectClient:
        """The process's client for this limit, opened on first use and kept (a call per batch)."""
        with self._lock:
            if self._client is None:
                with temporary_settings({PREFECT_API_URL: self.api_url}):
                    client = get_client(httpx_settings={"timeout": REQUEST_TIMEOUT_SECONDS}, sync_client=True)
                self._client = client.__enter__()
            return self._client

    def _read(self) -> GlobalConcurrencyLimitResponse:
        """The limit as the server has it now (active slots after decay); unusable ones raise."""
        started = time.monotonic()
        try:
            self._count("reads")
            found = self._http().read_global_concurrency_limit_by_name(self.name)
        except ObjectNotFound:
            raise SharedLimitUnavailable(
                f"the Prefect server has no global concurrency limit {self.name!r} "
                "(`jtl-automator blocks` creates it)"
            ) from None
        except (httpx.HTTPError, OSError) as exc:
            raise _unreachable(exc) from None
        finally:
            self._count("call_seconds", time.monotonic() - started)
        if not found.active:
            raise SharedLimitUnavailable(f"the global concurrency limit {self.name!r} is inactive")
        if found.slot_decay_per_second <= 0:
            raise SharedLimitUnavailable(f"the global concurrency limit {self.name!r} has no slot decay")
        return found


_pools: dict[tuple[str, str], PermitPool] = {}
_said_local: set[str] = set()
_lock = threading.Lock()


def permit_pool(name: str) -> PermitPool | None:
    """This process's pool for the limit ``name`` on the configured server; None without a server."""
    api_url = PREFECT_API_URL.value()
    if not api_url:
        with _lock:
            first = name not in _said_local
            _said_local.add(name)
        if first:
            logger.info(
                "rate limit %s not shared across processes: no Prefect server configured "
                "(PREFECT_API_URL unset); this process limits itself",
                name,
            )
        return None
    with _lock:
        pool = _pools.get((api_url, name))
        if pool is None:
            pool = _pools[(api_url, name)] = PermitPool(PrefectRateLimitSlots(name, api_url))
        return pool


def api_limiter(rate_per_second: float, burst: int, shared_limit: str | None) -> RateLimiter:
    """A client's limiter: paced at ``rate_per_second`` here, and sharing ``shared_limit`` if given."""
    pool = permit_pool(shared_limit) if shared_limit else None
    if pool is None:
        return RateLimiter(rate_per_second, burst=burst)
    return SharedRateLimiter(rate_per_second, burst, pool=pool)


def shared_limits(settings: Settings) -> list[SharedLimit]:
    """The limits of FFN, Wawi and Sheets at the rates and bursts their clients use."""
    sheets_rate = settings.sheets_requests_per_minute / 60
    return [
        SharedLimit.for_rate(FFN_LIMIT, settings.ffn_rate_per_second, int(settings.ffn_rate_per_second)),
        SharedLimit.for_rate(WAWI_LIMIT, settings.wawi_rate_per_second, int(settings.wawi_rate_per_second)),
        SharedLimit.for_rate(SHEETS_LIMIT, sheets_rate, settings.sheets_requests_per_minute // 6),
    ]


def ensure_rate_limits(limits: Iterable[SharedLimit]) -> dict[str, str]:
    """Create each limit on the Prefect server or bring its size and decay up to date; name -> outcome.

    Idempotent. An existing limit keeps its ``active`` flag: an operator who disabled one (so each
    process limits itself) is not overruled by the next ``jtl-automator blocks``.
    """
    outcome: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        for wanted in limits:
            described = f"{wanted.limit} slots, {wanted.rate_per_second:g} per second"
            try:
                found = client.read_global_concurrency_limit_by_name(wanted.name)
            except ObjectNotFound:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(
                        name=wanted.name, limit=wanted.limit, slot_decay_per_second=wanted.rate_per_second
                    )
                )
                outcome[wanted.name] = f"created ({described})"
                continue
            inactive = "" if found.active else "; inactive, so not shared"
            if found.limit == wanted.limit and found.slot_decay_per_second == wanted.rate_per_second:
                outcome[wanted.name] = f"unchanged ({described}{inactive})"
                continue
            client.update_global_concurrency_limit(
                wanted.name,
                GlobalConcurrencyLimitUpdate(
                    limit=wanted.limit, slot_decay_per_second=wanted.rate_per_second
                ),
            )
            was = f"{found.limit} slots, {found.slot_decay_per_second:g} per second"
            outcome[wanted.name] = f"updated ({described}, was {was}{inactive})"
    return outcome


def create_rate_limits(settings: Settings) -> dict[str, str]:
    """``jtl-automator blocks``' part: the three limits from the ``JTL_*`` rates, or why not."""
    limits = shared_limits(settings)
    if not settings.shared_rate_limits:
        return {limit.name: "skipped: JTL_SHARED_RATE_LIMITS is false" for limit in limits}
    if not PREFECT_API_URL.value():
        reason = "skipped: no Prefect server configured (PREFECT_API_URL unset); each process limits itself"
        return {limit.name: reason for limit in limits}
    return ensure_rate_limits(limits)


__all__ = [
    "PrefectRateLimitSlots",
    "api_limiter",
    "create_rate_limits",
    "ensure_rate_limits",
    "permit_pool",
    "shared_limits",
]
