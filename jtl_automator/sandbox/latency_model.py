"""Latency profiles of the emulated APIs, the on-premise Wawi's concurrency gate and the throughput bound.

Pure model, no ASGI and no sandbox state (``latency`` wires it to requests), so the config can name a
profile and the benchmarks can compute what the limits allow without a server.

A profile gives each API a service-time distribution: log-normal around a median with shape ``sigma``
(the long tail of a busy server), plus rare stalls of a fixed length (a lock wait, a garbage collection,
a Windows update on the merchant's PC). It also names the limits the deployment implies: how many
requests the on-premise Wawi serves at once, FFN's rate limit and the Google Sheets quotas. See
docs/latency.md for the defaults and their reasoning.

Every draw is seeded by the seed, the profile, the API and the request itself (method, path, query and
how often that exact request was made before), so a run meets the same latencies whatever order its
concurrent requests arrive in.
"""

from __future__ import annotations

import heapq
import math
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The APIs a profile gives latencies to (``api_of`` in the latency module maps paths to them).
LatencyApi = Literal["wawi", "wawi_cloud", "ffn", "sheets", "shop"]
LATENCY_APIS: tuple[LatencyApi, ...] = ("wawi", "wawi_cloud", "ffn", "sheets", "shop")
#: What the on-premise Wawi does with a request past its concurrency: wait for a free worker, or 503.
Excess = Literal["queue", "refuse"]


class ApiLatency(BaseModel):
    """One API's service time: log-normal (median, sigma) capped at ``max_seconds``, plus rare stalls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    median_ms: float = Field(gt=0)
    sigma: float = Field(default=0.0, ge=0, description="Shape of the log-normal; 0: always the median.")
    stall_probability: float = Field(default=0.0, ge=0, le=1)
    stall_seconds: float = Field(default=10.0, ge=0)
    max_seconds: float = Field(default=30.0, gt=0, description="Cap of the log-normal part (not of stalls).")

    def draw(self, rng: random.Random) -> tuple[float, bool]:
        """One service time in seconds and whether it stalled (always two random numbers per draw)."""
        spread = rng.gauss(0.0, 1.0)
        stalled = rng.random() < self.stall_probability
        seconds = min(self.median_ms / 1000 * math.exp(self.sigma * spread), self.max_seconds)
        return seconds + (self.stall_seconds if stalled else 0.0), stalled

    def quantile(self, q: float) -> float:
        """The log-normal part's ``q`` quantile in seconds (stalls left out; they are counted apart)."""
        z = NormalDist().inv_cdf(q)
        return min(self.median_ms / 1000 * math.exp(self.sigma * z), self.max_seconds)

    def mean(self) -> float:
        """Expected service time in seconds, stalls included (the cap ignored: it is far in the tail)."""
        body = self.median_ms / 1000 * math.exp(self.sigma**2 / 2)
        return body + self.stall_probability * self.stall_seconds


class LatencyProfile(BaseModel):
    """Service times per API and the limits the deployment implies (``SandboxConfig.with_latency``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    wawi: ApiLatency | None = None
    wawi_cloud: ApiLatency | None = None
    ffn: ApiLatency | None = None
    sheets: ApiLatency | None = None
    #: JTL-Shop's REST API (``/shop/api/v1``): the whole answer of a request, on top of which the
    #: sandbox's shop cost model (rows and child relations, strict only) is added.
    shop: ApiLatency | None = None
    #: Requests the on-premise Wawi serves at once (None: no limit).
    wawi_onprem_concurrency: int | None = Field(default=None, ge=1)
    #: FFN's rate limit per endpoint and window (None: none); FFN documents none, so this is a choice.
    ffn_rate_limit: int | None = Field(default=None, ge=1)
    ffn_rate_interval_seconds: int = Field(default=60, ge=1)
    #: Google's per-user quotas per minute (the sandbox already enforces them; a profile may lower them).
    sheets_read_requests_per_minute: int = Field(default=60, ge=1)
    sheets_write_requests_per_minute: int = Field(default=60, ge=1)

    def for_api(self, api: str) -> ApiLatency | None:
        """The distribution of ``api`` (one of :data:`LATENCY_APIS`), or None when it answers at once."""
        value = getattr(self, api, None) if api in LATENCY_APIS else None
        return value if isinstance(value, ApiLatency) else None

    def limits(self) -> dict[str, int]:
        """The :class:`~jtl_automator.sandbox.config.SandboxConfig` fields this profile sets.

        A limit the profile leaves open (None) keeps the config's value.
        """
        values: dict[str, int] = {
            "sheets_read_requests_per_minute": self.sheets_read_requests_per_minute,
            "sheets_write_requests_per_minute": self.sheets_write_requests_per_minute,
        }
        if self.wawi_onprem_concurrency is not None:
            values["wawi_onprem_concurrency"] = self.wawi_onprem_concurrency
        if self.ffn_rate_limit is not None:
            values["ffn_rate_limit"] = self.ffn_rate_limit
            values["ffn_rate_interval_seconds"] = self.ffn_rate_interval_seconds
        return values


#: JTL-Shop 5 on shared hosting (the usual merchant setup): every API call boots the storefront in PHP
#: (config, plugins, session) and runs its queries against a MySQL server shared with other customers,
#: over the internet from where the pipelines run. A small answer takes about 200 ms (TTFB of a cached
#: PHP page is ~100 ms there, the API call's boot and queries add as much); the neighbours' load gives a
#: tail (sigma 0.6: p99 about 0.8 s) and now and then PHP-FPM's pool is full or OPcache is being rebuilt
#: (0.2 % of requests wait 5 s more). The slow profile is the same host on a busy evening: 500 ms median,
#: a longer tail (p99 about 3 s), 1 % waiting 8 s. The shop documents no rate limit; what a page of many
#: products costs on top is the sandbox's shop cost model (``shop_*_cost_seconds``), which a latency
#: profile does not replace.
SHOP_DEFAULT = ApiLatency(median_ms=200, sigma=0.6, stall_probability=0.002, stall_seconds=5)
SHOP_SLOW = ApiLatency(median_ms=500, sigma=0.8, stall_probability=0.01, stall_seconds=8)

#: The built-in profiles (docs/latency.md explains each number).
LATENCY_PROFILES: dict[str, LatencyProfile] = {
    p.name: p
    for p in (
        LatencyProfile(
            name="none", description="Loopback: every API answers as fast as the sandbox computes."
        ),
        LatencyProfile(
            name="default",
            description="A mid-sized merchant: Wawi on a shop PC (4 requests at once, long tail, rare 10 s "
            "stalls), FFN and Google over the internet at their usual speed, JTL-Shop on shared hosting.",
            wawi=ApiLatency(median_ms=150, sigma=1.15, stall_probability=0.001, stall_seconds=10),
            wawi_cloud=ApiLatency(median_ms=120, sigma=0.6),
            ffn=ApiLatency(median_ms=80, sigma=0.5),
            sheets=ApiLatency(median_ms=250, sigma=0.5),
            shop=SHOP_DEFAULT,
            wawi_onprem_concurrency=4,
            ffn_rate_limit=1200,
            ffn_rate_interval_seconds=60,
        ),
        LatencyProfile(
            name="slow",
            description="A bad Monday: Wawi on an older PC that serves 2 requests at once and stalls more "
            "often, FFN at a quarter of the default rate, Google slow, the shop's host busy.",
            wawi=ApiLatency(median_ms=400, sigma=1.2, stall_probability=0.005, stall_seconds=15),
            wawi_cloud=ApiLatency(median_ms=300, sigma=0.8),
            ffn=ApiLatency(median_ms=200, sigma=0.7),
            sheets=ApiLatency(median_ms=600, sigma=0.6),
            shop=SHOP_SLOW,
            wawi_onprem_concurrency=2,
            ffn_rate_limit=300,
            ffn_rate_interval_seconds=60,
        ),
    )
}


def profile_named(profile: str | LatencyProfile) -> LatencyProfile:
    """A built-in profile by name (or the profile itself)."""
    if isinstance(profile, LatencyProfile):
        return profile
    if profile not in LATENCY_PROFILES:
        raise KeyError(f"unknown latency profile {profile!r} (known: {', '.join(LATENCY_PROFILES)})")
    return LATENCY_PROFILES[profile]


#: The request the latency layer is serving: seconds its handler spent on its own (the shop's cost model,
#: slept in the handler), which the layer adds to the drawn service time. None outside the layer.
_charged: ContextVar[list[float] | None] = ContextVar("latency_charged", default=None)


def charge(seconds: float) -> None:
    """A handler spent ``seconds`` of the server's time on the current request, on top of its latency.

    Without a latency profile (no layer serving the request) nothing is recorded: the handler's own
    wait is then the whole answer time.
    """
    cell = _charged.get()
    if cell is not None:
        cell[0] += seconds


def charged_cell() -> tuple[list[float], Token[list[float] | None]]:
    """Start counting what the current request's handler charges; the cell and the token to reset."""
    cell = [0.0]
    return cell, _charged.set(cell)


def stop_charging(token: Token[list[float] | None]) -> None:
    """End :func:`charged_cell`'s counting."""
    _charged.reset(token)


def request_rng(seed: int, profile: str, api: str, key: str, occurrence: int) -> random.Random:
    """The random stream of one request: the same request (and repetition) always draws the same."""
    return random.Random(f"{seed}:{profile}:{api}:{key}:{occurrence}")


# --------------------------------------------------------------------------------------------------
# The on-premise Wawi's workers


class WorkerSchedule:
    """``capacity`` workers, each serving one request at a time, as a schedule in the sandbox's clock.

    A request is admitted at its arrival with its service time: the worker free first takes it, at once
    or (all busy) when that worker is done, so the request waits in line; with ``refuse`` a request that
    finds every worker busy is turned away instead. The schedule, not the event loop that emulates it,
    decides when a worker starts the next request: a sandbox short of CPU answers late, but its workers
    never idle while requests wait (as the real server's would not). Thread-safe.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._free_at = [0.0] * capacity  # a heap: when each worker is done with its last request
        self._lock = threading.Lock()
        #: The most requests ever in service at once, and the most ever waiting (tests, benchmarks).
        self.peak_busy = 0
        self.peak_waiting = 0
        self._starts: list[float] = []  # a heap of the admitted requests' start times (to count waiting)

    def admit(self, now: float, service: float, *, refuse: bool = False) -> tuple[float, float] | None:
        """(start, done) of a request arriving ``now`` needing ``service`` seconds; None when refused."""
        with self._lock:
            earliest = self._free_at[0]
            if refuse and earliest > now:
                return None
            start = max(now, earliest)
            done = start + service
            heapq.heapreplace(self._free_at, done)
            self.peak_busy = max(self.peak_busy, sum(1 for f in self._free_at if f > now))
            while self._starts and self._starts[0] <= now:
                heapq.heappop(self._starts)
            if start > now:
                heapq.heappush(self._starts, start)
                self.peak_waiting = max(self.peak_waiting, len(self._starts))
            return start, done

    def busy(self, now: float) -> int:
        """Workers serving a request at ``now``."""
        with self._lock:
            return sum(1 for f in self._free_at if f > now)

    def reset_peaks(self, now: float) -> None:
        """Start counting the peaks again (between measured runs)."""
        with self._lock:
            self.peak_busy = sum(1 for f in self._free_at if f > now)
            self.peak_waiting = 0


# --------------------------------------------------------------------------------------------------
# What one run met, and what the limits allow


@dataclass(frozen=True)
class RequestTiming:
    """One served request on the sandbox's clock: what a benchmark needs to find the chains in a run.

    ``page`` is the request's ``pageNumber`` (Wawi's paged listings), None for any other request;
    ``service`` is its pure service time (drawn plus charged), without the wait for a Wawi worker;
    ``key`` the exact request (method, path and query: a read asked for twice has the same).
    """

    route: str
    page: int | None
    arrived: float
    start: float
    done: float
    service: float
    key: str = ""


@dataclass
class ApiServiceStats:
    """One API's requests as the latency layer saw them (thread-safe through the runtime's lock)."""

    requests: int = 0
    #: Sum of the drawn service times: the server's busy time (its workers', for the on-premise Wawi).
    busy_seconds: float = 0.0
    stalls: int = 0
    queued: int = 0
    queue_seconds: float = 0.0
    refused: int = 0
    max_seconds: float = 0.0
    #: How much later than its schedule the sandbox answered (its own CPU time, a busy machine).
    late_seconds: float = 0.0
    max_late_seconds: float = 0.0
    by_method: Counter[str] = field(default_factory=Counter)
    #: Per route (the path with its numeric ids as ``{id}``): requests and their service seconds, so a
    #: benchmark can add up a chain of dependent requests (the shop's cursor pages) apart from the rest.
    by_route: Counter[str] = field(default_factory=Counter)
    busy_by_route: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    #: The longest pure service time of one request (``max_seconds`` includes the wait for a worker).
    max_service_seconds: float = 0.0
    #: Every served request in arrival order (chains of dependent requests: a listing's page 1 first).
    timeline: list[RequestTiming] = field(default_factory=list)


@dataclass
class LatencyStats:
    """Per API: what the latency layer saw; reset with :meth:`reset` between measured runs."""

    apis: dict[str, ApiServiceStats] = field(default_factory=dict)

    def of(self, api: str) -> ApiServiceStats:
        """The stats of ``api`` (created on first use)."""
        return self.apis.setdefault(api, ApiServiceStats())

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.apis.clear()


def route_of(path: str) -> str:
    """A path with its numeric segments as ``{id}`` (``/shop/api/v1/cart/2001`` -> ``.../cart/{id}``)."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


def page_number(query: str) -> int | None:
    """A request's ``pageNumber`` (Wawi's paged listings) from its query string, None without one."""
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "pageNumber" and value.isdigit():
            return int(value)
    return None


def asked_once(timeline: Iterable[RequestTiming], *, keep: str = "fastest") -> list[RequestTiming]:
    """The run's requests with each read asked for twice counted once (in arrival order).

    A client may ask for a read again while its first ask is unanswered (a hedged read) and use the
    first answer. The run needed one answer: the bounds wait for the ask served fastest
    (``keep="fastest"``: no schedule of the reads it needed has an answer sooner), a client that asks in
    turn for the first ask (``keep="first"``: what a client that never asks twice waits for). The first
    asks are also what the server's workers had to serve: a request draws its latency by its key and
    how often it came before, so any client's first ask of a read is served this long, whoever waits
    for its answer (the workers' busy time counts those). Only ``GET`` requests with the
    same method, path and query whose later ask arrived before the earlier one was answered are one
    read; a read asked for again after its answer came is a read of its own.
    """
    if keep not in ("fastest", "first"):
        raise ValueError(f"keep must be 'fastest' or 'first', not {keep!r}")
    out: list[RequestTiming] = []
    latest: dict[str, int] = {}  # key -> position in out of its last read
    for request in sorted(timeline, key=lambda r: r.arrived):
        at = latest.get(request.key) if request.key.startswith("GET ") else None
        if at is not None and request.arrived < out[at].done:
            if keep == "fastest" and request.service < out[at].service:
                out[at] = request
            continue
        latest[request.key] = len(out)
        out.append(request)
    return out


def asked_ahead(timeline: Iterable[RequestTiming]) -> set[str]:
    """The routes whose later pages the run asked for before any page 1 of them was answered.

    A client that knows a listing's size (from its last read) need not wait for page 1: for such a
    route the chain of page 1, then the later pages, binds nothing.
    """
    requests = list(timeline)
    answered: dict[str, float] = {}
    for request in requests:
        if request.page is not None and request.page <= 1:
            answered[request.route] = min(answered.get(request.route, math.inf), request.done)
    return {
        r.route
        for r in requests
        if r.page is not None and r.page > 1 and r.arrived < answered.get(r.route, math.inf)
    }


def listing_chain_seconds(
    timeline: Iterable[RequestTiming], ahead: Collection[str] = frozenset()
) -> dict[str, float]:
    """Per route of a paged listing: the least time its pages take, whatever the schedule.

    A paged listing (Wawi's ``pageNumber``) must have page 1's answer before it knows how many pages
    follow, so no page after the first starts before some page 1 of that route is answered: the route
    needs at least the shortest of its page-1 service times plus the longest of its later pages'.
    Routes without a later page (one page, or not paged) are left out, and so are the routes in
    ``ahead``, whose later pages the run asked for before page 1 answered (:func:`asked_ahead`: it knew
    how many pages there were).
    """
    first: dict[str, float] = {}
    rest: dict[str, float] = {}
    for request in timeline:
        if request.page is None or request.route in ahead:
            continue
        if request.page <= 1:
            first[request.route] = min(first.get(request.route, math.inf), request.service)
        else:
            rest[request.route] = max(rest.get(request.route, 0.0), request.service)
    return {route: first[route] + rest[route] for route in rest if route in first}


def dependent_chain_seconds(
    timeline: Iterable[RequestTiming],
    listing: str,
    dependent: str,
    workers: int,
    ahead: Collection[str] = frozenset(),
    occupied: Iterable[RequestTiming] | None = None,
) -> float:
    """A listing and the requests its answers name (an item listing, then a read per listed item).

    No ``dependent`` request (a route ending so) can start before some page 1 of ``listing`` (a route
    ending so) is answered, and the dependents then need at least the larger of their summed service
    time over ``workers`` and their longest one: the shortest page 1 plus that. Where the run asked
    ahead for the listing's later pages (its route in ``ahead``), any page may be the first to name an
    item: the shortest page of the listing. 0 without both kinds.

    ``occupied``: the requests as the workers served them, where that is more than ``timeline`` (every
    first ask of a read asked for twice, :func:`asked_once` ``keep="first"``): their dependents' summed
    service is the workers' share, the longest answer stays ``timeline``'s.
    """
    first = math.inf
    services: list[float] = []
    for request in timeline:
        if request.route.endswith(listing) and (
            request.page is None or request.page <= 1 or request.route in ahead
        ):
            first = min(first, request.service)
        elif request.route.endswith(dependent):
            services.append(request.service)
    if not services or first == math.inf or workers <= 0:
        return 0.0
    chain = released_work_seconds([(first, services)], workers)
    if occupied is not None:
        busy = sum(r.service for r in occupied if r.route.endswith(dependent))
        chain = max(chain, first + busy / workers)
    return chain


def in_turn_seconds(
    timeline: Iterable[RequestTiming],
    workers: int,
    dependents: Iterable[tuple[str, str]] = (),
    released: Iterable[tuple[str, float]] = (),
    ahead: Collection[str] = frozenset(),
) -> float:
    """How long a client that asks in turn and never idles needs for a run's requests on ``workers``.

    The bounds above are those of a client that knows every answer's length before it asks; a client
    learns it when the answer comes. This is the best such a client does with the order it chose: the
    run's requests in their arrival order, each given to the first free worker as soon as it may be
    asked for, none waiting on the client itself. A paged listing's later pages may be asked for once a
    page 1 of that route has answered (at once for a route in ``ahead``: :func:`asked_ahead`);
    a ``dependent`` route's requests once a page 1 of its ``listing``
    route has (route endings, as in :func:`dependent_chain_seconds`); a route ending in ``released`` not
    before its time (what another API must answer first: the shop's pages before the Wawi reads they
    name); everything else at once. Seconds from the first arrival to the last answer; 0 without requests.
    """
    requests = sorted(timeline, key=lambda r: r.arrived)
    if not requests or workers <= 0:
        return 0.0
    pairs = tuple(dependents)
    releases = tuple(released)
    firsts = {r.route for r in requests if r.page is not None and r.page <= 1}

    def source(request: RequestTiming) -> str | None:
        """The route whose page 1 must have answered before ``request`` may be asked for."""
        if request.page is not None and request.page > 1 and request.route in firsts - set(ahead):
            return request.route
        for listing, dependent in pairs:
            if request.route.endswith(dependent):
                return next((route for route in firsts if route.endswith(listing)), None)
        return None

    first_answer: dict[str, float] = {}  # route -> when a page 1 of it first answered in this schedule
    free = [0.0] * workers
    # each request with what it waits for: a route's page 1, and a time another API sets
    waiting = [
        (r, source(r), max([0.0, *(at for ending, at in releases if r.route.endswith(ending))]))
        for r in requests
    ]
    end = 0.0
    while waiting:
        worker = min(range(workers), key=free.__getitem__)
        now = free[worker]
        chosen, release = None, math.inf
        for index, (_, needed, floor) in enumerate(waiting):  # the first in turn that may be asked for now
            ready = max(floor, 0.0 if needed is None else first_answer.get(needed, math.inf))
            if ready <= now:
                chosen, release = index, ready
                break
            release = min(release, ready)
        if chosen is None:
            if release == math.inf:  # what it waits for is never asked: ask it as if it did not
                chosen, release = 0, now
            else:
                free[worker] = release
                continue
        request = waiting.pop(chosen)[0]
        done = max(now, release) + request.service
        free[worker] = done
        end = max(end, done)
        if request.page is not None and request.page <= 1:
            first_answer[request.route] = min(first_answer.get(request.route, math.inf), done)
    return end


def released_work_seconds(groups: Sequence[tuple[float, Sequence[float]]], workers: int | None) -> float:
    """The least time on ``workers`` servers for requests that cannot start before a release time.

    ``groups``: (release, the service times of the requests released then). Every request released at
    ``r`` or later is served between ``r`` and the end, so the end is at least ``r`` plus their summed
    service over the workers, for each ``r``; and at least each request's release plus its own service
    (the classic bounds of scheduling with release times). Without ``workers`` (a server that takes any
    number at once) only the latter. 0 without requests.
    """
    jobs = [(release, service) for release, services in groups for service in services]
    if not jobs:
        return 0.0
    best = max(release + service for release, service in jobs)
    if workers:
        for release in {r for r, _ in jobs}:
            best = max(best, release + sum(p for r, p in jobs if r >= release) / workers)
    return best


def window_bound_seconds(requests: int, limit: int, interval_seconds: float) -> float:
    """The least time ``requests`` take under ``limit`` per fixed window: whole windows before the last.

    The first window's ``limit`` requests may all go at once, so ``requests <= limit`` costs nothing.
    """
    if requests <= 0 or limit <= 0:
        return 0.0
    return (math.ceil(requests / limit) - 1) * interval_seconds


def sustained_bound_seconds(requests: int, limit: int, interval_seconds: float) -> float:
    """``requests`` at the long-run rate ``limit / interval``.

    What a client that cannot see the window's alignment can safely reach; at most one window above
    :func:`window_bound_seconds`.
    """
    if requests <= 0 or limit <= 0:
        return 0.0
    return requests * interval_seconds / limit


def concurrency_bound_seconds(busy_seconds: float, capacity: int | None) -> float:
    """The least time a server serving ``capacity`` requests at once needs for ``busy_seconds`` of work."""
    if capacity is None or capacity < 1:
        return 0.0
    return busy_seconds / capacity


def safe_client_rate(
    limit: int, interval_seconds: float, *, burst_seconds: float = 1.0, jitter_seconds: float | None = None
) -> float:
    """Requests per second for a client token bucket that never exceeds ``limit`` in a fixed window.

    A bucket with rate ``r`` and a burst of ``r * burst_seconds`` requests (the clients' rule: a second's
    worth) admits at most ``r * (burst_seconds + t)`` requests in any span ``t``; requests reach the
    server up to ``jitter_seconds`` (default: a sixtieth of the window) later than the bucket let them
    go, so one window may see those of ``interval + jitter``. Hence
    ``r = limit / (interval + jitter + burst_seconds)``, whatever the window's alignment.
    """
    if limit < 1 or interval_seconds <= 0:
        raise ValueError("a rate limit needs limit >= 1 and a window > 0")
    jitter = interval_seconds / 60 if jitter_seconds is None else jitter_seconds
    return limit / (interval_seconds + jitter + burst_seconds)


def bottleneck(bounds: Mapping[str, float]) -> tuple[str, float]:
    """The largest of several bounds (name, seconds); ``("none", 0.0)`` when empty."""
    if not bounds:
        return "none", 0.0
    name = max(bounds, key=lambda k: bounds[k])
    return name, bounds[name]


__all__ = [
    "LATENCY_APIS",
    "LATENCY_PROFILES",
    "SHOP_DEFAULT",
    "SHOP_SLOW",
    "ApiLatency",
    "ApiServiceStats",
    "Excess",
    "LatencyApi",
    "LatencyProfile",
    "LatencyStats",
    "RequestTiming",
    "WorkerSchedule",
    "bottleneck",
    "charge",
    "charged_cell",
    "concurrency_bound_seconds",
    "in_turn_seconds",
    "listing_chain_seconds",
    "page_number",
    "profile_named",
    "request_rng",
    "route_of",
    "safe_client_rate",
    "stop_charging",
    "sustained_bound_seconds",
    "window_bound_seconds",
]
