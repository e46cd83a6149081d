"""A local Dask cluster of two worker processes on loopback, for the tests of the heavy stages on Dask."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from distributed import LocalCluster


@contextmanager
def local_cluster() -> Iterator[LocalCluster]:
    """Two worker processes, one thread each, no dashboard (no fixed port to collide with)."""
    with LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit="2GiB",
    ) as cluster:
        cluster.wait_for_workers(2, timeout=120)
        yield cluster
