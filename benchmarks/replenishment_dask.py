"""Issue 15: the 5,000,000-line replenishment on one machine vs in SKU parts on a local Dask cluster.

The frames are ``replenishment_5m``'s (5,000,000 order lines over 365 days, 100,000 SKUs, 3 warehouses),
built in the parent and pickled. A freshly spawned process loads them and measures, ``repeats`` times each:

- **one machine**: ``demand_frame`` then ``replenishment_lines`` in that process (the flow without a
  cluster);
- **cluster**: a ``distributed.LocalCluster`` of ``workers`` worker processes (one thread each) on this
  machine: split the inputs by SKU (one part per worker), scatter the parts to the workers, run
  ``replenishment_part_lines`` on each, gather the results and join them; timed per phase, plus each part's
  own compute time on its worker;
- **through Prefect** (``prefect=True``): the flow path itself, a flow whose task runner is prefect-dask's
  ``DaskTaskRunner`` on the same cluster running ``tasks.replenishment.replenishment_compute_on_cluster``
  (one Prefect task run per part), under Prefect's test server (its start-up is not timed).

Every cluster result is compared with the one-machine lines (``pandas.testing.assert_frame_equal``, exact).
The cluster's start-up and the workers' first imports are reported apart: a standing cluster pays them once.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks._common import Metric, Result, fmt_s
from benchmarks.replenishment_5m import WAREHOUSES, build_frames

NAME = "replenishment_dask"
TITLE = (
    "replenishment_dask: the 5,000,000-line replenishment on one machine vs in SKU parts on a local Dask "
    "cluster (issue 15)"
)


def _in_fresh_process(*args: Any) -> dict[str, Any]:
    """``_measure(*args)`` in a freshly spawned process that may start processes of its own (the cluster's
    workers): ``_common.in_subprocess``'s pool process is a daemon, which may not."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measure, *args).result()


def _timed_part(part: Any) -> tuple[pd.DataFrame, float, int]:
    """Runs on a worker: the part's lines, its compute time there and the worker's pid."""
    from jtl_automator.transforms.partitions import replenishment_part_lines

    begin = time.perf_counter()
    lines = replenishment_part_lines(part)
    return lines, time.perf_counter() - begin, os.getpid()


def _warm_up() -> int:
    """Runs on a worker: the imports a standing cluster did long ago (pandas, pandera, the project)."""
    import jtl_automator.transforms.partitions  # noqa: F401

    return os.getpid()


def _measure(path: str, repeats: int, workers: int, prefect: bool) -> dict[str, Any]:
    """Fresh process: one machine and the cluster alternately, then the cluster through Prefect."""
    import logging

    from distributed import Client, LocalCluster
    from pandas.testing import assert_frame_equal

    from jtl_automator.transforms.partitions import join_replenishment_lines, split_replenishment
    from jtl_automator.transforms.replenishment import (
        DemandParams,
        ReplenishmentParams,
        demand_frame,
        replenishment_lines,
    )

    logging.getLogger("distributed").setLevel(logging.ERROR)
    frames = pickle.loads(Path(path).read_bytes())
    window = DemandParams(start=frames["window"][0], end=frames["window"][1])
    params = ReplenishmentParams()
    inputs: Frames = (
        frames["lines"],
        frames["stockouts"],
        frames["stock"],
        frames["on_order"],
        frames["suppliers"],
    )
    out: dict[str, Any] = {"one_machine_s": [], "cluster_s": [], "phases": [], "parts_s": [], "equal": []}

    begin = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit="6GiB",
        ) as cluster,
        Client(cluster) as client,
    ):
        cluster.wait_for_workers(workers)
        out["cluster_start_s"] = time.perf_counter() - begin
        begin = time.perf_counter()
        out["worker_pids"] = sorted(client.run(_warm_up).values())
        out["warm_up_s"] = time.perf_counter() - begin
        out["client_pid"] = os.getpid()
        small = _small(inputs)
        begin = time.perf_counter()
        client.gather(
            client.map(_timed_part, split_replenishment(*small, window, params, workers), pure=False)
        )
        out["warm_up_s"] += time.perf_counter() - begin  # the workers' first pandera checks, not the work
        one = pd.DataFrame()
        for _ in range(repeats):  # one machine, then the cluster, alternately
            gc.collect()
            begin = time.perf_counter()
            one = replenishment_lines(demand_frame(inputs[0], inputs[1], window), *inputs[2:], params)
            out["one_machine_s"].append(time.perf_counter() - begin)
            out["lines_out"] = len(one)
            gc.collect()
            t0 = time.perf_counter()
            parts = split_replenishment(*inputs, window, params, workers)
            t1 = time.perf_counter()
            scattered = client.scatter(parts, hash=False)
            t2 = time.perf_counter()
            done = client.gather(client.map(_timed_part, scattered, pure=False))
            t3 = time.perf_counter()
            joined = join_replenishment_lines([lines for lines, _, _ in done])
            t4 = time.perf_counter()
            out["cluster_s"].append(t4 - t0)
            out["phases"].append({"split": t1 - t0, "scatter": t2 - t1, "compute": t3 - t2, "join": t4 - t3})
            out["parts_s"].append(sorted(seconds for _, seconds, _ in done))
            out["part_pids"] = sorted({pid for _, _, pid in done})
            assert_frame_equal(joined, one, check_exact=True)
            out["equal"].append(True)
            out["part_rows"] = [p.rows for p in parts]
            del parts, scattered, done, joined
        out["sent_mb"] = len(pickle.dumps(split_replenishment(*inputs, window, params, workers))) / 2**20
        if prefect:
            out["prefect_s"] = _through_prefect(cluster.scheduler_address, frames, repeats, one)
            out["equal"].append(True)
    return out


def _through_prefect(address: str, frames: dict[str, Any], repeats: int, one: pd.DataFrame) -> list[float]:
    """The flow's own code path: a DaskTaskRunner flow running ``replenishment_compute_on_cluster``."""
    import logging

    from pandas.testing import assert_frame_equal
    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness
    from prefect_dask.task_runners import DaskTaskRunner

    from jtl_automator.services.replenishment import ReplenishmentInputs, ReplenishmentRunParams
    from jtl_automator.transforms.replenishment import DemandParams
    from tasks.cluster import stage_runner
    from tasks.replenishment import replenishment_compute_on_cluster

    for name in ("prefect", "distributed"):
        logging.getLogger(name).setLevel(logging.ERROR)
    window = DemandParams(start=frames["window"][0], end=frames["window"][1])
    inputs: Frames = (
        frames["lines"],
        frames["stockouts"],
        frames["stock"],
        frames["on_order"],
        frames["suppliers"],
    )
    full, small = ReplenishmentInputs(window, *inputs), ReplenishmentInputs(window, *_small(inputs))
    params = ReplenishmentRunParams()
    seconds: list[float] = []

    @flow(name="replenishment-compute-on-dask")
    def heavy(big: bool) -> tuple[pd.DataFrame, float]:
        with stage_runner(None) as runner:
            assert runner is not None
            begin = time.perf_counter()
            lines = replenishment_compute_on_cluster(runner, full if big else small, params)
            return lines, time.perf_counter() - begin

    with prefect_test_harness(server_startup_timeout=180):
        on_dask = heavy.with_options(task_runner=DaskTaskRunner(address=address))  # type: ignore[arg-type]
        on_dask(False)  # the workers' first Prefect task runs import the task engine: not the work
        for _ in range(repeats):
            gc.collect()
            lines, took = on_dask(True)
            seconds.append(took)
            assert_frame_equal(lines, one, check_exact=True)
    return seconds


Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]


def _small(inputs: Frames) -> Frames:
    """A slice of the inputs for warming the workers up (every frame, a few thousand rows)."""
    lines, stockouts, stock, on_order, suppliers = (frame.head(5_000) for frame in inputs)
    return lines, stockouts, stock, on_order, suppliers


def run(
    lines: int = 5_000_000,
    skus: int = 100_000,
    days: int = 365,
    repeats: int = 3,
    workers: int = 2,
    seed: int = 42,
    prefect: bool = True,
) -> Result:
    """Build and pickle the frames here, measure in a fresh process."""
    begin = time.perf_counter()
    frames = build_frames(lines, skus, days, seed)
    built = time.perf_counter() - begin
    with tempfile.TemporaryDirectory(prefix="bench-replenishment-dask-") as folder:
        path = str(Path(folder) / "frames.pkl")
        Path(path).write_bytes(pickle.dumps(frames, protocol=pickle.HIGHEST_PROTOCOL))
        del frames
        gc.collect()
        out = _in_fresh_process(path, repeats, workers, prefect)

    one, cluster = min(out["one_machine_s"]), min(out["cluster_s"])
    best = out["phases"][out["cluster_s"].index(cluster)]
    parts = out["parts_s"][out["cluster_s"].index(cluster)]
    metrics = [
        Metric("lines out (one line per SKU and warehouse)", f"{out['lines_out']:,}"),
        Metric(f"one machine: demand_frame + replenishment_lines, best of {repeats}", fmt_s(one)),
        Metric(
            f"cluster ({workers} worker processes x 1 thread, {workers} parts): split + scatter + compute + "
            f"gather + join, best of {repeats}",
            fmt_s(cluster),
        ),
        Metric(
            "  phases of that run: split / scatter / compute and gather / join",
            " / ".join(fmt_s(best[k]) for k in ("split", "scatter", "compute", "join")),
        ),
        Metric("  each part's own compute time on its worker", " / ".join(fmt_s(s) for s in parts)),
        Metric("cluster / one machine", f"{cluster / one:.2f}x"),
        Metric(
            "cluster results = one-machine results (assert_frame_equal, exact), every run",
            "yes" if out["equal"] and all(out["equal"]) else "no",
            "yes",
            bool(out["equal"]) and all(out["equal"]),
        ),
    ]
    if out.get("prefect_s"):
        through = min(out["prefect_s"])
        metrics.insert(
            6,
            Metric(
                "through Prefect: a DaskTaskRunner flow running replenishment_compute_on_cluster, "
                f"best of {repeats}",
                fmt_s(through),
            ),
        )
        metrics.insert(7, Metric("through Prefect / one machine", f"{through / one:.2f}x"))
    pids = ", ".join(map(str, out["worker_pids"]))
    ran_in = ", ".join(map(str, out["part_pids"]))
    notes = [
        f"Frames built in {fmt_s(built)} (seed {seed}) by benchmarks/replenishment_5m.py and pickled; a "
        "freshly spawned process loads them and runs everything. The cluster: a distributed.LocalCluster on "
        f"this machine (its scheduler in the measuring process, pid {out['client_pid']}; worker pids {pids}; "
        f"the parts ran in {ran_in}).",
        f"Not in the figures: the cluster's start-up ({fmt_s(out['cluster_start_s'])}) and the workers' "
        f"first imports and checks on a slice of 5,000 rows ({fmt_s(out['warm_up_s'])}; through Prefect also "
        "one such run, and the test server's start): a standing cluster pays them once.",
        f"What travels: the parts pickle to {out['sent_mb']:,.0f} MB (input rows per part: "
        f"{', '.join(f'{n:,}' for n in out['part_rows'])}), sent to the workers over loopback TCP, and the "
        "lines come back the same way.",
        "All runs: one machine "
        + ", ".join(fmt_s(s) for s in out["one_machine_s"])
        + "; cluster "
        + ", ".join(fmt_s(s) for s in out["cluster_s"])
        + (
            ("; through Prefect " + ", ".join(fmt_s(s) for s in out["prefect_s"]))
            if out.get("prefect_s")
            else ""
        )
        + ".",
    ]
    raw = {**out, "best_one_machine": one, "best_cluster": cluster}
    sizes = {"lines": lines, "skus": skus, "days": days, "warehouses": len(WAREHOUSES)}
    return Result(NAME, TITLE, {**sizes, "repeats": repeats, "workers": workers}, metrics, notes, raw)
