"""Heavy pandas stages on a Dask cluster through prefect-dask's ``DaskTaskRunner``, or on this machine.

A stage's inputs are split by SKU (replenishment, the inbound reconciliation:
``jtl_automator.transforms.partitions``) or its work by section (the weekly and monthly reports:
``jtl_automator.reports.parts``); each part is one Prefect task run submitted to the Dask task runner (its
state, duration and failure show in the flow run like any task's), and the parts' results are joined in
the whole run's order: equal to the one-machine result.

Which runner a stage uses, first match:

1. the flow's own task runner, when it is a ``DaskTaskRunner`` (a caller that ran the flow
   ``with_options(task_runner=DaskTaskRunner(...))``);
2. a ``DaskTaskRunner`` connected to the address the flow parameter ``dask_address`` or
   ``JTL_DASK_ADDRESS`` names, for the duration of the stage;
3. none: the stage runs in one piece in the flow's process, as it always did.

prefect-dask is the optional extra ``jtl-automator[dask]``; it is imported only when a cluster is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from jtl_automator.reports.parts import section_part
from jtl_automator.settings import get_settings
from jtl_automator.transforms.partitions import inbound_part_results, replenishment_part_lines

if TYPE_CHECKING:
    from prefect.tasks import Task
    from prefect_dask.task_runners import DaskTaskRunner

R = TypeVar("R")

# The parts' tasks are the core functions themselves (pickled by reference): a Dask worker needs the
# installed jtl_automator package and Prefect, not this project folder. NO_CACHE: a cache key would hash
# every frame of the part.
replenishment_compute_part = task(name="replenishment-compute-part", cache_policy=NO_CACHE)(
    replenishment_part_lines
)
inbound_reconcile_part = task(name="inbound-reconcile-part", cache_policy=NO_CACHE)(inbound_part_results)
report_section = task(
    name="report-section", task_run_name="report-section-{section.__name__}", cache_policy=NO_CACHE
)(section_part)


class ClusterUnavailable(ConnectionError):
    """A Dask cluster is configured but cannot be used (unreachable, or prefect-dask not installed)."""


def cluster_address(explicit: str | None = None) -> str | None:
    """The flow parameter's address, else ``JTL_DASK_ADDRESS``, else None (one machine)."""
    return explicit or get_settings().dask_address


def _dask_runner_type() -> type[DaskTaskRunner]:
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError as exc:
        raise ClusterUnavailable(
            "a Dask cluster is configured but prefect-dask is not installed "
            "(pip install 'jtl-automator[dask]')"
        ) from exc
    return DaskTaskRunner


def _own_dask_runner() -> DaskTaskRunner | None:
    """The running flow's task runner if it is a DaskTaskRunner (without importing prefect-dask)."""
    context = FlowRunContext.get()
    runner = context.task_runner if context is not None else None
    if runner is None or type(runner).__module__.split(".")[0] != "prefect_dask":
        return None
    return runner  # type: ignore[return-value]


@contextmanager
def stage_runner(address: str | None) -> Iterator[DaskTaskRunner | None]:
    """The Dask task runner a heavy stage submits its parts to, or None: run it here in one piece."""
    own = _own_dask_runner()
    if own is not None:
        yield own
        return
    if not address:
        yield None
        return
    timeout = get_settings().dask_connect_timeout_seconds
    runner = _dask_runner_type()(address=address, client_kwargs={"timeout": timeout})
    with runner:
        try:
            runner.client  # noqa: B018 - connect now: an unreachable scheduler fails here, in one line
        except (OSError, TimeoutError) as exc:
            raise ClusterUnavailable(
                f"the Dask scheduler at {address} did not answer within {timeout:g} s ({type(exc).__name__})"
            ) from exc
        yield runner


def partitions(runner: DaskTaskRunner) -> int:
    """``JTL_DASK_PARTITIONS``, or one part per worker thread of the cluster (at least one)."""
    wanted = get_settings().dask_partitions
    if wanted:
        return wanted
    return max(1, sum(runner.client.nthreads().values()))  # type: ignore[no-untyped-call]


def run_parts(runner: DaskTaskRunner, part_task: Task[..., R], parts: Sequence[Any]) -> list[R]:
    """One task run per part on the cluster, results in the parts' order.

    The parts are scattered first (``hash=False``) and the tasks get their futures: submitted directly,
    Dask would tokenise every frame to name the task, which costs as much as sending it.
    """
    scattered = runner.client.scatter(list(parts), hash=False)  # type: ignore[no-untyped-call]
    submitted = [runner.submit(part_task, parameters={"part": future}) for future in scattered]
    return [future.result() for future in submitted]
