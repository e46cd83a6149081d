"""The heavy transforms in SKU parts on a real Dask cluster (two worker processes) equal the one-machine run.

The parts travel to other processes and back (pickled, over TCP), so this also proves that nothing in the
frames (string dtypes, categoricals, nullable integers) changes on the way. The Prefect path (prefect-dask's
task runner) is tested in tests/flows/test_dask_flows.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pandas as pd
import pytest
from distributed import Client
from pandas.testing import assert_frame_equal

from benchmarks import reconcile_1m, replenishment_5m
from jtl_automator.transforms.inbound import ReconcileParams, reconcile
from jtl_automator.transforms.partitions import (
    inbound_part_results,
    join_inbound_results,
    join_replenishment_lines,
    replenishment_part_lines,
    split_inbound,
    split_replenishment,
)
from jtl_automator.transforms.replenishment import (
    DemandParams,
    ReplenishmentParams,
    demand_frame,
    replenishment_lines,
)
from tests.support.dask_cluster import local_cluster

pytestmark = pytest.mark.slow  # a cluster of two processes starts in seconds, more on a busy machine


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with local_cluster() as cluster, Client(cluster) as connected:
        yield connected


def test_the_workers_are_two_other_processes(client: Client) -> None:
    pids = client.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values() and len(set(pids.values())) == 2


def test_replenishment_on_the_cluster_equals_one_machine(client: Client) -> None:
    frames = replenishment_5m.build_frames(lines=60_000, skus=3_000, days=90, seed=3)
    window = DemandParams(start=frames["window"][0], end=frames["window"][1])
    params = ReplenishmentParams()
    one_machine = replenishment_lines(
        demand_frame(frames["lines"], frames["stockouts"], window),
        frames["stock"],
        frames["on_order"],
        frames["suppliers"],
        params,
    )
    parts = split_replenishment(
        frames["lines"],
        frames["stockouts"],
        frames["stock"],
        frames["on_order"],
        frames["suppliers"],
        window,
        params,
        4,
    )
    futures = client.map(replenishment_part_lines, client.scatter(parts, hash=False), pure=False)
    results = client.gather(futures)
    assert len(results) == 4 and all(isinstance(r, pd.DataFrame) and len(r) for r in results)
    assert_frame_equal(join_replenishment_lines(results), one_machine, check_exact=True)


def test_reconciliation_on_the_cluster_equals_one_machine(client: Client) -> None:
    products, items, sheet = reconcile_1m.build_frames(products=4_000, rows=30_000, seed=8)
    params = ReconcileParams()
    one_machine = reconcile(sheet, products, items, None, params)
    parts = split_inbound(sheet, products, items, None, params, 3)
    futures = client.map(inbound_part_results, client.scatter(parts, hash=False), pure=False)
    joined = join_inbound_results(sheet, client.gather(futures))
    assert_frame_equal(joined, one_machine, check_exact=True)
