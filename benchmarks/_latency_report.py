"""The rows every sync benchmark's latency mode reports for one measured run, and its stage timer.

Stock, product and pricing syncs each measure several runs (full, incremental, ...) against the same
bound (``benchmarks._latency``); these helpers keep their tables alike: requests, the limits' bound, the
bottleneck, achieved against bound throughput and the ratio against the 90% target, wall time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from benchmarks._common import Metric, fmt_s, peak_rss_mb, reset_peak_rss, rss_mb
from benchmarks._latency import RATIO_TARGET, Bound
from jtl_automator.runtime import freeze_startup_objects


def time_stages(cls: type, names: Iterable[str]) -> dict[str, float]:
    """Wrap ``cls``'s stage methods so each one's seconds add up in the returned dict.

    Only for a spawned client process (the class is patched for the rest of that process): it tells
    where a run's wall time went (reads or writes) without changing the service.
    """
    seconds: dict[str, float] = {}
    for name in names:
        original: Callable[..., Any] = getattr(cls, name)

        def timed(
            self: Any, *args: Any, _original: Callable[..., Any] = original, _name: str = name, **kwargs: Any
        ) -> Any:
            start = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                seconds[_name] = seconds.get(_name, 0.0) + time.perf_counter() - start

        setattr(cls, name, timed)
    return seconds


def measured_client_run(
    env: Mapping[str, str],
    stages_of: type,
    stages: Mapping[str, str],
    run: Callable[[Any, Any, Any], dict[str, Any]],
    *,
    ffn: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """In a spawned client process: one service run as the schedule starts it, timed and measured.

    ``env`` (the ``JTL_*`` settings) is applied first; ``stages`` maps the wall-time split's names to
    ``stages_of``'s methods (``{"reads": "load", "writes": "apply"}``); a stage the run did not call is left
    out (a pipelined run calls its overlapped stage instead of the two). The Wawi client, the FFN client
    (unless ``ffn`` is false) and the state store are built from the settings before the clock starts;
    ``run(wawi, ffn, store)`` is the timed service run. Returns its result and the measurements every
    latency table reports (:func:`run_metrics`, :func:`peaks`).
    """
    os.environ.update(env)
    from jtl_automator.clients.ffn.client import FfnClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore

    seconds = time_stages(stages_of, stages.values())
    settings = Settings(_env_file=None)
    store = StateStore(settings.database_url)
    wawi = WawiClient.from_settings(settings)
    ffn_client = FfnClient.from_settings(settings, store) if ffn else None
    rss_before = rss_mb()
    freeze_startup_objects()  # as a flow's run starts (its on_running hook)
    reset_peak_rss()
    cpu = time.process_time()
    start = time.perf_counter()
    result = run(wawi, ffn_client, store)
    elapsed = time.perf_counter() - start
    return result, {
        "seconds": elapsed,
        "stages": {label: seconds[method] for label, method in stages.items() if method in seconds},
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        **client_stats(wawi, ffn_client, cpu),
    }


def client_stats(wawi: Any, ffn: Any | None = None, cpu_start: float = 0.0) -> dict[str, Any]:
    """429 answers the clients met, the most requests each had on the wire at once, and the client
    process's CPU seconds since ``cpu_start`` (``time.process_time()``): work a time scale does not
    shorten, so it weighs ``time_scale`` times more in a scaled run than in real time."""
    clients = [c for c in (wawi, ffn) if c is not None]
    return {
        "cpu_seconds": time.process_time() - cpu_start,
        "client_429": sum(c.stats.rate_limited for c in clients),
        "wawi_in_flight_peak": wawi.core.in_flight.peak if wawi.core.in_flight else None,
        "ffn_in_flight_peak": ffn.core.in_flight.peak if ffn is not None and ffn.core.in_flight else None,
    }


def run_metrics(label: str, run: dict[str, Any], time_scale: float) -> list[Metric]:
    """One measured run's rows; ``run`` holds ``seconds``, ``bound`` (a :class:`Bound`) and ``stages``."""
    bound: Bound = run["bound"]
    real = lambda s: s * time_scale  # noqa: E731 - scaled seconds to real ones
    achieved, possible = bound.throughput()
    stages = run.get("stages") or {}
    apis = {k: s for k, s in bound.stats.items() if isinstance(s, dict) and "requests" in s}
    late = sum(float(s.get("late_seconds", 0.0)) for s in apis.values())
    second = int(bound.stats.get("wawi", {}).get("second_asks", 0))
    rows = [
        Metric(
            f"{label}: requests (sandbox count)",
            f"{bound.total_requests:,} ("
            + ", ".join(f"{k} {v:,}" for k, v in sorted(bound.requests.items()) if v)
            + ")"
            + (
                f"; {second} of them Wawi reads asked for a second time (counted once in the bound)"
                if second
                else ""
            ),
        ),
        Metric(
            f"{label}: the limits' bound (real seconds)",
            "; ".join(f"{k}: {fmt_s(real(v))}" for k, v in bound.bounds.items()) or "no limit met",
        ),
        *(
            [
                Metric(
                    f"{label}: for reference, at the long-run rate (real seconds)",
                    "; ".join(f"{k}: {fmt_s(real(v))}" for k, v in bound.sustained.items()),
                )
            ]
            if bound.sustained
            else []
        ),
        Metric(f"{label}: bottleneck", f"{bound.bottleneck}: {fmt_s(real(bound.seconds))}"),
        Metric(
            f"{label}: wall time (real seconds)",
            fmt_s(real(run["seconds"]))
            + (" (" + ", ".join(f"{k} {fmt_s(real(v))}" for k, v in stages.items()) + ")" if stages else ""),
        ),
        Metric(
            f"{label}: client CPU / sandbox answering late (unscaled seconds)",
            f"{fmt_s(run['cpu_seconds'])} / {fmt_s(late)}" if "cpu_seconds" in run else "n/a",
        ),
        Metric(
            f"{label}: longest answer incl. queueing for a worker (real seconds), stalls",
            "; ".join(
                f"{api} {fmt_s(real(float(s['max_seconds'])))}, {s['stalls']} stalls"
                for api, s in apis.items()
            ),
        ),
        Metric(
            f"{label}: achieved / bound throughput (requests per real second)",
            f"{achieved / time_scale:,.2f} / {possible / time_scale:,.2f}",
        ),
        Metric(
            f"{label}: ratio",
            f"{bound.ratio:.1%}",
            f">= {RATIO_TARGET:.0%}",
            bound.ratio >= RATIO_TARGET,
        ),
        in_turn_metric(label, bound, time_scale),
    ]
    return rows


def in_turn_metric(label: str, bound: Bound, time_scale: float, least: float | None = None) -> Metric:
    """The row of a client that asks in turn (``benchmarks._latency``): its time and the run's ratio to it.

    ``least``: the run's bound where the benchmark computes its own (the report's CPU floor beside it).
    """
    seconds = max(bound.in_turn_seconds, least or 0.0)
    ratio = seconds / bound.achieved_seconds if bound.achieved_seconds > 0 else 0.0
    return Metric(
        f"{label}: a client asking in turn (the Wawi PC's requests in the run's order, none waiting on the "
        "client), its least time (real seconds) / the wall time",
        f"{fmt_s(seconds * time_scale)}: {ratio:.1%}",
    )


def refusals_metric(runs: Iterable[dict[str, Any]]) -> Metric:
    """429 answers and 503 busy refusals over all runs: the client limits kept under the server's."""
    bounds: list[Bound] = [r["bound"] for r in runs]
    return Metric(
        "429 answers (sandbox) / 503 busy refusals, all runs",
        f"{sum(b.rate_limited for b in bounds)} / {sum(b.refused for b in bounds)}",
        "0 / 0",
        all(b.rate_limited == 0 and b.refused == 0 for b in bounds),
    )


def peaks(run: dict[str, Any]) -> str:
    """Peak memory of the client process and its most requests in flight, as one cell."""
    memory = (
        f"{run['peak_rss_mb']:,.0f} MB ({run['peak_rss_mb'] - run['rss_before_mb']:,.0f} MB the run)"
        if "peak_rss_mb" in run
        else "n/a"
    )
    return (
        f"{memory}; in flight at most: Wawi {run.get('wawi_in_flight_peak')}, "
        f"FFN {run.get('ffn_in_flight_peak')}"
    )


def scale_note(world: str, time_scale: float) -> str:
    """What was scaled, and what a time scale does to the ratio."""
    if time_scale == 1:
        return f"World: {world}; real time (time scale 1)."
    return (
        f"World: {world}; time {time_scale:g}x faster. The APIs' latencies and windows shrink with the "
        "scale, the client's and the sandbox's own CPU time does not (the CPU row, in unscaled seconds): "
        f"in real time it weighs {time_scale:g}x less, so CPU-heavy runs (listing every item, small runs) "
        "come out lower here than they would against a real Wawi."
    )


def median_run(runs: Mapping[str, dict[str, Any]], names: Iterable[str]) -> str:
    """Of the repeated runs ``names``, the one whose ratio is the median (the upper one of an even count).

    A run of a few seconds meets a few dozen draws of Wawi's long tail, and one draw decides where its
    last answer falls: one run is one sample of its ratio, the median of several the figure to judge.
    """
    ordered = sorted(names, key=lambda name: runs[name]["bound"].ratio)
    return ordered[len(ordered) // 2]


def each_ratio_metric(label: str, runs: Iterable[dict[str, Any]], time_scale: float) -> Metric:
    """Every repeated run's ratio, with its wall time against its bound (real seconds)."""
    return Metric(
        f"{label}: each run's ratio (wall time against its bound, real seconds)",
        ", ".join(
            f"{run['bound'].ratio:.1%} ({fmt_s(run['seconds'] * time_scale)} / "
            f"{fmt_s(run['bound'].seconds * time_scale)})"
            for run in runs
        ),
    )
