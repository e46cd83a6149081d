"""Latency mode of the benchmarks: the sandbox with a latency profile, clients set to its limits, the bound.

A flow's run is measured against the least time the APIs' limits allow for the requests it made
(docs/latency.md, "The bound"):

- the on-premise Wawi serves ``wawi_onprem_concurrency`` requests at once: its busy time (the sum of the
  service times the sandbox measured) divided by that number;
- FFN's fixed windows (per endpoint): whole windows before the last, for the busiest endpoint;
- Google's per-minute quotas (reads and writes apart): the same;
- a Sheets chain: the requests of the Sheets backend depend on each other (header, key columns, write), so
  their service times add up;
- the longest single Wawi answer: no schedule ends before its slowest request is served (the makespan
  bound ``max(sum / m, max p)``: the workers' term is the first half, this the second); and the m-th plus
  the (m+1)-th longest answers, two of which one of the m workers serves one after the other;
- a Wawi listing's chain: a paged listing must have page 1's answer before it knows how many pages follow,
  so its later pages start after a page 1 at the earliest (``listing_chain_seconds``: the shortest page 1
  of the route plus its longest later page; the longest such route);
- a listing and the per-item requests its answers name (the changed items, then each one's suppliers): the
  shortest page 1 of the listing, then those requests' busy time over the workers or the longest of them
  (``dependent_chain_seconds``; each benchmark names the pairs its flow has);
- requests that wait for another API's answers (Wawi's reads chosen from what the shop said): from the
  moment those answers can be there, their busy time over the workers (``released_work_seconds``).

The largest of these is the bound; achieved throughput / bound throughput = bound / wall time.

Every term counts the run's requests as a client that knew each answer's length before asking could
order them. Beside the bound, each run also reports the time of a client that asks in turn
(``in_turn_seconds``): the run's Wawi requests in the order the run sent them, each on the first free
worker as soon as what it needs has answered, none waiting on the client. The gap between the two is
the order's luck (a long answer asked for last), which no client can see in advance; the gap between
that and the wall time is the client's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from jtl_automator.sandbox import latency
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.latency_model import (
    LATENCY_APIS,
    LatencyProfile,
    asked_ahead,
    asked_once,
    bottleneck,
    concurrency_bound_seconds,
    dependent_chain_seconds,
    in_turn_seconds,
    listing_chain_seconds,
    safe_client_rate,
    sustained_bound_seconds,
    window_bound_seconds,
)
from jtl_automator.sandbox.sheets import QUOTA_WINDOW_SECONDS

#: The client's own Wawi and FFN rate limits (``JTL_*_RATE_PER_SECOND``) when no server limit is known.
CLIENT_DEFAULT_RATE = 20.0
#: Shop requests on the wire at once in latency mode (the client's default, ``JTL_SHOP_MAX_IN_FLIGHT``).
SHOP_MAX_IN_FLIGHT = 4
#: What throughput / bound must reach (issue 17).
RATIO_TARGET = 0.90


def profile_config(profile: str | LatencyProfile, time_scale: float, seed: int = 42) -> SandboxConfig:
    """The lenient sandbox with ``profile``'s latencies and limits, ``time_scale`` times faster."""
    return SandboxConfig(seed=seed).with_latency(profile, time_scale=time_scale)


def client_limits(config: SandboxConfig) -> dict[str, str]:
    """``JTL_*`` client settings matching the server's limits, as a merchant would set them.

    FFN: the rate that never exceeds its fixed window (:func:`safe_client_rate`); Wawi: no more requests
    on the wire than the on-premise server serves at once, its rate the default (the on-premise API has
    no rate limit); Sheets: the per-minute rate whose burst (a tenth of a minute) stays under the quota.
    Everything in the sandbox's (scaled) time.
    """
    scale = config.time_scale
    profile = config.latency_profile()
    env: dict[str, str] = {
        "JTL_WAWI_RATE_PER_SECOND": str(CLIENT_DEFAULT_RATE * scale),
        "JTL_FFN_MAX_IN_FLIGHT": "8",
        # the Shop documents no rate limit: the client's default pace, its own in-flight limit
        "JTL_SHOP_RATE_PER_SECOND": str(CLIENT_DEFAULT_RATE * scale),
        "JTL_SHOP_MAX_IN_FLIGHT": str(SHOP_MAX_IN_FLIGHT),
    }
    if config.wawi_onprem_concurrency is not None:
        env["JTL_WAWI_MAX_IN_FLIGHT"] = str(config.wawi_onprem_concurrency)
    if config.ffn_rate_limit is not None:
        window = config.scaled(config.ffn_rate_interval_seconds)
        env["JTL_FFN_RATE_PER_SECOND"] = str(safe_client_rate(config.ffn_rate_limit, window))
    else:
        env["JTL_FFN_RATE_PER_SECOND"] = str(CLIENT_DEFAULT_RATE * scale)
    quota = min(profile.sheets_read_requests_per_minute, profile.sheets_write_requests_per_minute)
    window = config.scaled(QUOTA_WINDOW_SECONDS)
    per_second = safe_client_rate(quota, window, burst_seconds=window / 6)
    env["JTL_SHEETS_REQUESTS_PER_MINUTE"] = str(max(1, int(per_second * 60)))
    return env


def reset(state: SandboxState) -> dict[str, Any]:
    """Start a measured run: forget the latency stats and FFN's per-endpoint counts; the request counters
    as they are now (``measure`` subtracts them)."""
    latency.reset_stats(state)
    if state.runtime.ffn is not None:
        state.runtime.ffn.rate_counts.clear()
    return {
        "by_status": dict(state.runtime.requests["by_status"]),
        "by_api": dict(state.runtime.requests["by_api"]),
        "sheets": dict(state.runtime.sheets.requests),
    }


def fastest_of(state: SandboxState, repeats: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The fastest of ``repeats`` measured runs (``run()``: one, with its ``seconds``) of a run that
    changes nothing (a rerun, a warm sync), each meeting the same latency draws.

    So the repeats differ only by the client machine's own noise (a shared machine's neighbours, its
    scheduler), which for a run of about a second is as large as what is measured; the loopback runs
    that give the run's own-work term are repeated alike. ``repeats`` is recorded in the result.
    """
    position = latency.draw_position(state)
    best: dict[str, Any] | None = None
    for _ in range(max(1, repeats)):
        latency.rewind_draws(state, position)
        out = run()
        if best is None or out["seconds"] < best["seconds"]:
            best = out
    assert best is not None
    best["repeats"] = max(1, repeats)
    return best


@dataclass
class Bound:
    """What the limits allow for one run's requests, and how close the run came."""

    requests: dict[str, int]
    bounds: dict[str, float]  # name of the limit -> least seconds
    bottleneck: str
    seconds: float  # the bound
    achieved_seconds: float
    rate_limited: int  # 429 answers the sandbox gave
    refused: int  # 503 answers of a busy on-premise Wawi
    sustained: dict[str, float]  # FFN and Sheets at the long-run rate, for reference
    stats: dict[str, Any]
    wawi_in_turn: float = 0.0  # the Wawi PC's requests asked for in the run's order (module docstring)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def ratio(self) -> float:
        """Achieved throughput / the bound's throughput (= bound seconds / wall seconds)."""
        return self.seconds / self.achieved_seconds if self.achieved_seconds > 0 else 0.0

    @property
    def in_turn_seconds(self) -> float:
        """The bound of a client that asks in turn: the Wawi PC's in-turn schedule beside every term."""
        return max(self.seconds, self.wawi_in_turn)

    def throughput(self) -> tuple[float, float]:
        """(achieved, bound) requests per second."""
        total = self.total_requests
        achieved = total / self.achieved_seconds if self.achieved_seconds > 0 else 0.0
        bound = total / self.seconds if self.seconds > 0 else float("inf")
        return achieved, bound


#: The bound term of a run's own work: the same run against the sandbox without latency.
OWN_WORK = "own work (the same run on loopback)"


def with_floor(bound: Bound, floor_seconds: float) -> Bound:
    """``bound`` with the run's own work as one more term: the same run, same world and same client
    limits, against the sandbox without latency (measured in the same benchmark).

    Latency can only add to what the client and the sandbox compute and to the clients' own rate limits,
    so a run that lists every item (a warm sync, a rerun that writes nothing) can take no less than that;
    the ratio then says how much of the latency the run hid. The APIs' terms stay as they are.
    """
    bounds = {**bound.bounds, OWN_WORK: floor_seconds}
    name, seconds = bottleneck(bounds)
    return replace(bound, bounds=bounds, bottleneck=name, seconds=seconds)


def _since(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}


#: (listing, dependent) route endings: a listing whose answers name the per-item requests that follow.
Dependents = tuple[tuple[str, str], ...]


def wawi_chain_bounds(
    wawi: dict[str, Any], workers: int | None = None, dependents: Dependents = ()
) -> dict[str, float]:
    """What single requests and listings force on Wawi (module docstring).

    ``wawi`` is ``latency.stats(state)["wawi"]``: its longest pure service time (``max_service_seconds``,
    without the wait for a worker) and its timeline (each request's route, page and service time). With
    ``workers`` (m), also the m-th plus the (m+1)-th longest service times: of the m + 1 longest requests
    two are served by the same worker one after the other (the classic pigeonhole bound of scheduling on
    m machines). With ``dependents``, each listing's page 1 and then its dependent requests on the m
    workers (``dependent_chain_seconds``): the run learns which items to read from the listing.
    """
    bounds: dict[str, float] = {}
    longest = float(wawi.get("max_service_seconds", 0.0))
    if longest > 0:
        bounds["Wawi's longest answer"] = longest
    timeline = wawi.get("timeline", [])
    if workers and len(timeline) > workers:
        services = sorted((r.service for r in timeline), reverse=True)
        bounds[f"Wawi's {workers}th + {workers + 1}th longest answers (two on one worker)"] = (
            services[workers - 1] + services[workers]
        )
    ahead = wawi.get("asked_ahead", frozenset())
    chains = listing_chain_seconds(timeline, ahead)
    if chains:
        route = max(chains, key=lambda r: chains[r])
        bounds[f"Wawi listing chain ({route.rsplit('/', 1)[-1]}: page 1, then its longest later page)"] = (
            chains[route]
        )
    occupied = wawi.get("asked_in_turn")  # every first ask (the timeline itself when none was asked twice)
    for listing, dependent in dependents if workers else ():
        seconds = dependent_chain_seconds(timeline, listing, dependent, workers or 0, ahead, occupied)
        if seconds > 0:
            chain = f"{listing.rsplit('/', 1)[-1]} page 1, then its {dependent.rsplit('/', 1)[-1]} reads"
            bounds[f"Wawi chain ({chain} on {workers} workers)"] = seconds
    return bounds


#: How long :func:`measure` waits for the requests a run left behind (in the sandbox's unscaled seconds:
#: longer than a stall).
QUIET_SECONDS = 30.0


def reads_needed(api: dict[str, Any]) -> dict[str, Any]:
    """One API's ``latency.stats`` with each read asked for twice (hedged) counted once.

    The run needed one answer of such a read: the timeline and longest answer the bounds use keep its
    ask served fastest (``asked_once``: a client that asks twice may have an answer that soon);
    ``asked_in_turn`` keeps the first ask (a client that asks in turn, never twice). The busy time is
    the first asks': the sandbox draws a request's latency by its key and how often it came before, so
    any client's first ask of each read it needs occupies a worker that long (a stalled first ask that
    a second one beat still held its worker); the second asks' time is left out. ``second_asks`` counts
    the asks dropped; ``asked_ahead`` names the listings whose later pages the run asked for before
    page 1 answered (their chain binds nothing).
    """
    asked = api.get("timeline", [])
    needed = asked_once(asked)
    ahead = asked_ahead(asked)
    if len(needed) == len(asked):
        return {**api, "asked_in_turn": asked, "second_asks": 0, "asked_ahead": ahead}
    first = asked_once(asked, keep="first")
    return {
        **api,
        "asked_ahead": ahead,
        "timeline": needed,
        "asked_in_turn": first,
        "second_asks": len(asked) - len(needed),
        "busy_seconds": sum(r.service for r in first),
        "max_service_seconds": max(r.service for r in needed),
    }


def measure(
    state: SandboxState, before: dict[str, Any], achieved_seconds: float, dependents: Dependents = ()
) -> Bound:
    """The bound of the requests served since :func:`reset` (``before``), against ``achieved_seconds``
    (``dependents``: see :func:`wawi_chain_bounds`).

    Waits first for the requests the run left behind (the slower asks of hedged reads), so they count
    with this run and not the next; Wawi's reads asked for twice count once (:func:`reads_needed`).
    """
    config = state.config
    quiet = latency.wait_quiet(state, config.scaled(QUIET_SECONDS))
    stats = latency.stats(state)
    if "wawi" in stats:
        stats["wawi"] = reads_needed(stats["wawi"])
    by_api = _since(dict(state.runtime.requests["by_api"]), before["by_api"])
    by_status = _since(dict(state.runtime.requests["by_status"]), before["by_status"])
    bounds: dict[str, float] = {}
    sustained: dict[str, float] = {}
    wawi = stats.get("wawi")
    if wawi and config.wawi_onprem_concurrency:
        bounds["Wawi workers (busy time / concurrency)"] = concurrency_bound_seconds(
            wawi["busy_seconds"], config.wawi_onprem_concurrency
        )
    if wawi:
        bounds.update(wawi_chain_bounds(wawi, config.wawi_onprem_concurrency, dependents))
    ffn_counts = dict(state.runtime.ffn.rate_counts) if state.runtime.ffn is not None else {}
    if config.ffn_rate_limit and ffn_counts:
        window = config.scaled(config.ffn_rate_interval_seconds)
        busiest = max(ffn_counts, key=lambda k: ffn_counts[k])
        bounds[f"FFN rate limit ({busiest})"] = window_bound_seconds(
            ffn_counts[busiest], config.ffn_rate_limit, window
        )
        sustained["FFN"] = sustained_bound_seconds(ffn_counts[busiest], config.ffn_rate_limit, window)
    sheets = stats.get("sheets")
    if sheets:
        methods = sheets["by_method"]
        reads = methods.get("GET", 0)
        writes = sum(n for m, n in methods.items() if m != "GET")
        window = config.scaled(QUOTA_WINDOW_SECONDS)
        bounds["Sheets read quota"] = window_bound_seconds(reads, config.sheets_quota("read"), window)
        bounds["Sheets write quota"] = window_bound_seconds(writes, config.sheets_quota("write"), window)
        bounds["Sheets chain (dependent requests' service times)"] = sheets["busy_seconds"]
        sustained["Sheets"] = sustained_bound_seconds(reads, config.sheets_quota("read"), window)
    name, seconds = bottleneck(bounds)
    return Bound(
        requests={k: v for k, v in by_api.items() if k != "oauth"} | {"oauth": by_api.get("oauth", 0)},
        bounds=bounds,
        bottleneck=name,
        seconds=seconds,
        achieved_seconds=achieved_seconds,
        rate_limited=by_status.get("429", 0),
        refused=wawi["refused"] if wawi else 0,
        sustained=sustained,
        stats={**stats, "quiet": quiet},
        wawi_in_turn=(
            in_turn_seconds(
                wawi["asked_in_turn"], config.wawi_onprem_concurrency, dependents, ahead=wawi["asked_ahead"]
            )
            if wawi and config.wawi_onprem_concurrency
            else 0.0
        ),
    )


def profile_notes(config: SandboxConfig) -> list[str]:
    """The profile's parameters, for the results (in real seconds; the run was ``time_scale`` faster)."""
    profile = config.latency_profile()
    parts = []
    for api in LATENCY_APIS:
        dist = profile.for_api(api)
        if dist is None:
            continue
        stall = (
            f", stalls {dist.stall_probability:.1%} x {dist.stall_seconds:g} s"
            if dist.stall_probability
            else ""
        )
        parts.append(
            f"{api} median {dist.median_ms:g} ms, sigma {dist.sigma:g} (p99 {dist.quantile(0.99):.2f} s, "
            f"mean {dist.mean() * 1000:.0f} ms{stall})"
        )
    workers = config.wawi_onprem_concurrency
    limits = [
        f"on-premise Wawi serves {workers} at once ({config.wawi_onprem_excess} the rest)"
        if workers
        else "on-premise Wawi unlimited",
        f"FFN {config.ffn_rate_limit} requests per {config.ffn_rate_interval_seconds} s per endpoint"
        if config.ffn_rate_limit
        else "FFN no rate limit",
        f"Sheets {config.sheets_quota('read')} reads and {config.sheets_quota('write')} writes per minute",
    ]
    scale = (
        f"time scale {config.time_scale:g} (every latency and window {config.time_scale:g}x shorter; figures "
        "in the table are in the sandbox's scaled seconds, multiply by the scale for real time)"
        if config.time_scale != 1
        else "time scale 1 (real time)"
    )
    return [
        f"Profile `{profile.name}`: " + "; ".join(parts) + ".",
        "Limits: " + "; ".join(limits) + f"; {scale}.",
    ]
