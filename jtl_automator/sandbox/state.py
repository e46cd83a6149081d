"""What every sandbox router shares: the world, the config and each API's per-run bookkeeping.

This module sits below the routers (it imports only data, config and the fault engine), so ffn, wawi,
oauth, sheets, admin and faults all import it at top level without a cycle. Handlers receive the state
through :data:`StateDep`: each API's route class calls :func:`bind` with the state its router was built
for before anything else runs, so a router works the same mounted by ``create_app`` or alone in a test.

``SandboxState.runtime`` used to be a free-form dict; it is now :class:`Runtime`, one typed field per
API's bookkeeping. It still answers the dict keys tests, benchmarks and flows read (``runtime["faults"]``,
``runtime["requests"]``, ``runtime["sheets_requests"]``, ...): see :data:`LEGACY_KEYS`.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Coroutine, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypedDict

from fastapi import Depends, Request, Response

from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import JsonObject, SandboxData
from jtl_automator.sandbox.fault_engine import COUNTER_KEYS, FaultEngine
from jtl_automator.sandbox.latency_model import LatencyStats, WorkerSchedule

# What a custom APIRoute's get_route_handler returns.
RouteHandler = Callable[[Request], Coroutine[Any, Any, Response]]


# --------------------------------------------------------------------------------------------------
# Per-API bookkeeping


@dataclass
class FfnRuntime:
    """FFN caches and counters; ``clock`` is replaceable so tests can place changes at chosen times."""

    version: int = 0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)
    list_cache: OrderedDict[tuple[Any, ...], list[JsonObject]] = field(default_factory=OrderedDict)
    feed_cache: dict[str, tuple[tuple[Any, ...], list[datetime], list[str]]] = field(default_factory=dict)
    unique_indexes: dict[str, tuple[tuple[int, int], dict[str, str]]] = field(default_factory=dict)
    # (jfsku, warehouseId) -> key of its newest StockChange, the one whose ``current`` is true
    stock_change_heads: dict[tuple[str, str], str] = field(default_factory=dict)
    # Endpoint ("GET /v1/merchant/stocks") -> start (epoch s) and request count of its rate window.
    rate_windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    # $filter expressions refused for an operator the config does not take (ffn_filter_operators).
    filter_refusals: int = 0
    # Endpoint -> requests counted against its rate limit (the throughput bound is per endpoint).
    rate_counts: Counter[str] = field(default_factory=Counter)


@dataclass
class Grant:
    """What an OAuth code or refresh token stands for."""

    subject: str
    scopes: tuple[str, ...]
    redirect_uri: str | None = None
    expires_at: float | None = None
    access_jti: str | None = None  # a refresh token's: the access token issued with it


@dataclass
class OAuthRuntime:
    """Issued codes and tokens; ``clock`` is replaceable so tests can move time instead of sleeping."""

    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    codes: dict[str, Grant] = field(default_factory=dict, repr=False)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict, repr=False)
    access_tokens: dict[str, float] = field(default_factory=dict, repr=False)  # jti -> exp
    clock: Callable[[], float] = time.time
    issued_count: int = 0


@dataclass
class WawiRegistration:
    """One app-registration request; ``status`` as Wawi reports it: 0 pending, 1 rejected, 2 accepted."""

    app_id: str
    challenge: str
    scopes: list[str]
    status: int = 0
    polls: int = 0
    delivered: bool = False  # the API key went out (a second poll answers 410)


@dataclass(frozen=True)
class WawiApp:
    """What an API key (on-premise) or a Cloud client stands for: the app and its granted scopes."""

    app_id: str
    scopes: tuple[str, ...] | None  # None: every scope


@dataclass
class WawiRuntime:
    """Wawi app registrations by request id (in arrival order), keys, Cloud tokens and rate windows.

    ``api_keys`` holds keys handed out by registrations (the configured key is known without an entry);
    ``window_open`` is the Admin > App-Registrierung listener (``None``: as configured);
    ``rate_windows`` maps (tenant, endpoint) to the start and request count of its current window.
    """

    registrations: dict[str, WawiRegistration] = field(default_factory=dict)
    api_keys: dict[str, WawiApp] = field(default_factory=dict, repr=False)
    window_open: bool | None = None
    cloud_signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    cloud_tokens: dict[str, float] = field(default_factory=dict, repr=False)  # jti -> exp
    rate_windows: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    # ItemId -> its stock rows, for (id, length) of the stock list it was built from (rebuilt when either
    # changes): a 100,000-item world answers an item's stock without scanning every row.
    stock_index: tuple[tuple[int, int], dict[Any, list[JsonObject]]] | None = None


@dataclass
class SheetsRuntime:
    """Google Sheets: issued tokens, the rolling quota window and per-endpoint request counts."""

    requests: Counter[str] = field(default_factory=Counter)  # endpoint name -> authenticated requests
    tokens: dict[str, float] = field(default_factory=dict, repr=False)  # access token -> expiry (epoch s)
    quota: deque[float] = field(default_factory=deque)  # times of the read requests in the current window
    write_quota: deque[float] = field(default_factory=deque)  # ... and of the write requests
    clock: Callable[[], float] | None = None  # replaces time.monotonic for the quota window


@dataclass
class ShopRuntime:
    """JTL-Shop: its API keys and the lookup index of its tables.

    ``keys`` maps the lower-cased key to its GET/POST/PUT/DELETE bitmask (``None`` until first use, then
    the configured key); ``index`` is rebuilt when a table's size moves.
    """

    keys: dict[str, int] | None = field(default=None, repr=False)
    index: Any = None


@dataclass
class LatencyRuntime:
    """The latency layer's bookkeeping.

    How often each exact request came (its random stream), the on-premise Wawi's workers (created with
    the first request that needs them) and what each API met.
    """

    occurrences: Counter[str] = field(default_factory=Counter)
    workers: WorkerSchedule | None = None
    stats: LatencyStats = field(default_factory=LatencyStats)
    #: Requests admitted and not yet counted (a benchmark waits for none before it measures a run).
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class RequestCounts(TypedDict):
    """Requests the fault middleware saw: in total, per API (``faults.api_of``) and per status code."""

    total: int
    by_api: dict[str, int]
    by_status: dict[str, int]


def _zero_fault_counters() -> dict[str, int]:
    return dict.fromkeys(COUNTER_KEYS, 0)


def _no_requests() -> RequestCounts:
    return {"total": 0, "by_api": {}, "by_status": {}}


# Old ``runtime`` dict keys and the typed fields they now read and write.
LEGACY_KEYS = {
    "faults": "fault_counters",
    "requests": "requests",
    "sheets_requests": "sheets.requests",
    "sheets_tokens": "sheets.tokens",
    "sheets_quota": "sheets.quota",
    "sheets_clock": "sheets.clock",
}


@dataclass(eq=False)
class Runtime(MutableMapping[str, Any]):
    """Per-run bookkeeping of each API, typed; also a mapping so the old ``runtime[key]`` reads still work.

    ``ffn``, ``oauth`` and ``fault_engine`` are created on first use by their modules (they need the
    config). As a mapping, a :data:`LEGACY_KEYS` key is present once its field holds something (a counted
    request, an issued token, a set clock); deleting it empties the field. Any other key is kept in
    ``scratch``, as the old dict kept it (tests count handled requests there).
    """

    ffn: FfnRuntime | None = None
    oauth: OAuthRuntime | None = None
    wawi: WawiRuntime = field(default_factory=WawiRuntime)
    sheets: SheetsRuntime = field(default_factory=SheetsRuntime)
    shop: ShopRuntime = field(default_factory=ShopRuntime)
    latency: LatencyRuntime = field(default_factory=LatencyRuntime)
    fault_engine: FaultEngine | None = None
    fault_counters: dict[str, int] = field(default_factory=_zero_fault_counters)  # kind -> injected
    requests: RequestCounts = field(default_factory=_no_requests)
    #: What ``/_sandbox/receiver`` was sent: the merchant's CRM or shop that workflow webhooks call.
    received: list[dict[str, Any]] = field(default_factory=list)
    scratch: dict[str, Any] = field(default_factory=dict)

    def _legacy(self, key: str) -> Any:
        if key == "faults":
            return self.fault_counters
        if key == "requests":
            return self.requests
        return getattr(self.sheets, LEGACY_KEYS[key].removeprefix("sheets."))

    def _has(self, key: str) -> bool:
        if key in LEGACY_KEYS:
            value = self._legacy(key)
            return value is not None and (callable(value) or len(value) > 0)
        return key in self.scratch

    def __getitem__(self, key: str) -> Any:
        if not self._has(key):
            raise KeyError(key)
        return self._legacy(key) if key in LEGACY_KEYS else self.scratch[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "faults":
            self.fault_counters = value
        elif key == "requests":
            self.requests = value
        elif key == "sheets_requests":
            self.sheets.requests = value if isinstance(value, Counter) else Counter(value)
        elif key == "sheets_tokens":
            self.sheets.tokens = value
        elif key == "sheets_quota":
            self.sheets.quota = value if isinstance(value, deque) else deque(value)
        elif key == "sheets_clock":
            self.sheets.clock = value
        else:
            self.scratch[key] = value

    def __delitem__(self, key: str) -> None:
        if not self._has(key):
            raise KeyError(key)
        if key not in LEGACY_KEYS:
            del self.scratch[key]
        elif key == "faults":
            self.fault_counters = _zero_fault_counters()
        elif key == "requests":
            self.requests = _no_requests()
        elif key == "sheets_clock":
            self.sheets.clock = None
        else:
            self[key] = type(self._legacy(key))()

    def __iter__(self) -> Iterator[str]:
        yield from (key for key in LEGACY_KEYS if self._has(key))
        yield from self.scratch

    def __len__(self) -> int:
        return sum(1 for _ in self)


# --------------------------------------------------------------------------------------------------
# The state and how handlers get it


@dataclass
class SandboxState:
    """Everything the routers share: the data, the config and per-run bookkeeping of each API."""

    data: SandboxData
    config: SandboxConfig
    runtime: Runtime = field(default_factory=Runtime)


_SCOPE_KEY = "jtl_automator.sandbox.state"


def bind(request: Request, state: SandboxState) -> None:
    """Hand ``state`` to this request's :data:`StateDep` parameters (each API's route class calls this)."""
    request.scope[_SCOPE_KEY] = state


async def request_state(request: Request) -> SandboxState:
    """The state the serving router was built for; async, so FastAPI does not hop to a thread for it."""
    state = request.scope.get(_SCOPE_KEY)
    if not isinstance(state, SandboxState):
        raise RuntimeError("no sandbox state bound to this request; mount routers with build_router(state)")
    return state


StateDep = Annotated[SandboxState, Depends(request_state)]
