"""Tasks of the workflow flows: evaluate the triggers, begin a run, one task run per step, finish, publish.

The work lives in ``jtl_automator.workflows.runner`` and ``.batch``; a step's task run is named after its
node, so the Prefect UI shows a run's steps by the names the workflow gives them. In a batch one task run
per node runs that node for every run of the batch (a task run per step of every run would cost the
server 35-40 ms of CPU each: docs/workflow-runs.md). Steps are not retried by Prefect: an action
retries its own transient failures (the one retry policy), and a failed run is resumed by running it
again (its succeeded steps are reused, its side effects keyed).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.workflows.batch import (
    DEFAULT_STALE_AFTER,
    Batch,
    BatchOutcome,
    BatchRunner,
    NodeReport,
    batch_markdown,
    plan_batches,
    tick_summary,
    with_stalled,
)
from jtl_automator.workflows.entities import EntitySource
from jtl_automator.workflows.runner import Runner, Started, StepOutcome, evaluate_active, run_markdown
from jtl_automator.workflows.store import Run, WorkflowStore
from jtl_automator.workflows.triggers import EventFeed
from tasks.resources import correlated


@task(name="workflows-evaluate", cache_policy=NO_CACHE)
def workflows_evaluate(
    workflows: WorkflowStore,
    source: EntitySource,
    events: EventFeed | None,
    names: Sequence[str] | None = None,
    stale_after: timedelta | None = None,
) -> list[Started]:
    """Every active workflow's trigger (or only ``names``): the runs it makes, watermarks moved after.

    Also the runs a stopped process left: pending ones, and running ones whose flow run is over in
    Prefect or that nothing touched for ``stale_after`` (default: an hour).
    """
    now = datetime.now(UTC)
    with correlated():
        started = evaluate_active(workflows, source, events=events, now=now, names=names)
        started = with_stalled(
            workflows, started, finished_flow_runs, now=now, stale_after=stale_after or DEFAULT_STALE_AFTER
        )
    logger = get_run_logger()
    for item in started:
        logger.info(
            "%s: %d new runs, %d seen before%s",
            item.workflow,
            len(item.created),
            len(item.existing),
            f" ({item.note})" if item.note else "",
        )
    return started


@task(name="workflow-begin", cache_policy=NO_CACHE)
def workflow_begin(runner: Runner, run_id: str, flow_run_id: str | None) -> list[str]:
    """Start (or resume) the run: its nodes in the order they run."""
    return runner.begin(run_id, flow_run_id=flow_run_id)


@task(name="workflow-step", cache_policy=NO_CACHE, task_run_name="{node}")
def workflow_step(runner: Runner, run_id: str, node: str) -> StepOutcome:
    """One node of the run (its record says what happened; a failure is recorded, not raised)."""
    from prefect.runtime import task_run

    with correlated():
        outcome = runner.step(run_id, node, task_run_id=str(task_run.get_id() or "") or None)
    logger = get_run_logger()
    if outcome.error:
        logger.warning("%s: %s: %s", node, outcome.status.value, outcome.error)
    else:
        logger.info("%s: %s", node, outcome.status.value)
    return outcome


@task(name="workflow-finish", cache_policy=NO_CACHE)
def workflow_finish(runner: Runner, run_id: str) -> Run:
    """Completed, or failed with its first failed step's error."""
    return runner.finish(run_id)


@task(name="workflow-publish", cache_policy=NO_CACHE)
def workflow_publish(run: Run) -> None:
    """The run's markdown artifact: per step its status, resolved inputs and output."""
    create_markdown_artifact(
        key=f"workflow-run-{run.id[:12]}",
        markdown=run_markdown(run),
        description=f"{run.workflow} v{run.version}: {run.status.value}",
    )


def finished_flow_runs(flow_run_ids: Collection[str]) -> set[str]:
    """Of these flow runs, the ones Prefect has in a final state or does not know (none if it is away)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    ids: dict[str, uuid.UUID] = {}
    for text in flow_run_ids:
        try:
            ids[text] = uuid.UUID(text)
        except ValueError:
            continue  # not a Prefect flow run (a shell's run): the staleness rule decides
    final: dict[str, bool] = {}
    wanted = list(ids.values())
    try:
        with get_client(sync_client=True) as client:
            for start in range(0, len(wanted), 200):
                chunk = wanted[start : start + 200]
                found = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=len(chunk)
                )
                final.update({str(r.id): bool(r.state is None or r.state.is_final()) for r in found})
    except Exception as exc:  # Prefect away: only the staleness rule resumes runs this tick
        get_run_logger().warning("cannot read flow run states: %s", type(exc).__name__)
        return set()
    return {text for text, key in ids.items() if final.get(str(key), True)}


@task(name="workflows-plan-batches", cache_policy=NO_CACHE)
def workflows_plan_batches(workflows: WorkflowStore, started: Sequence[Started], size: int) -> list[Batch]:
    """The runs to run, grouped by workflow version into batches of at most ``size``."""
    refs = workflows.refs([run_id for item in started for run_id in item.to_run])
    batches = plan_batches(refs, size)
    if batches:
        get_run_logger().info(
            "%d runs in %d batches: %s",
            sum(len(b.run_ids) for b in batches),
            len(batches),
            "; ".join(b.label for b in batches[:10]) + (" …" if len(batches) > 10 else ""),
        )
    return batches


@task(name="workflow-batch-begin", cache_policy=NO_CACHE)
def workflow_batch_begin(batch: BatchRunner, flow_run_id: str | None) -> list[str]:
    """Start (or resume) every run of the batch: the nodes in the order they run."""
    nodes = batch.begin(flow_run_id)
    logger = get_run_logger()
    logger.info("%d runs started or resumed, %d not run", len(batch.live), len(batch.not_run))
    for run_id, why in list(batch.not_run.items())[:20]:
        logger.warning("run %s not run: %s", run_id, why)
    return nodes


@task(name="workflow-batch-step", cache_policy=NO_CACHE, task_run_name="{node}")
def workflow_batch_step(batch: BatchRunner, node: str) -> NodeReport:
    """One node for every run of the batch (each run's step recorded; failures counted, not raised)."""
    from prefect.runtime import task_run

    with correlated():
        report = batch.step(node, task_run_id=str(task_run.get_id() or "") or None)
    logger = get_run_logger()
    logger.info("%s", report.line())
    for run_id, error in [*report.failures, *report.broken][:20]:
        logger.warning("run %s: %s", run_id, error)
    return report


@task(name="workflow-batch-finish", cache_policy=NO_CACHE)
def workflow_batch_finish(batch: BatchRunner, flow_run_id: str | None) -> BatchOutcome:
    """Each run completed, or failed with its first failed step's error."""
    return batch.finish(flow_run_id)


@task(name="workflow-batch-publish", cache_policy=NO_CACHE)
def workflow_batch_publish(outcome: BatchOutcome) -> None:
    """The batch's markdown artifact: every run's outcome, the first failed runs step by step."""
    counts = outcome.counts()
    key = f"workflow-batch-{(outcome.flow_run_id or uuid.uuid4().hex).replace('-', '')[:12]}"
    create_markdown_artifact(
        key=key,
        markdown=batch_markdown(outcome),
        description=f"{outcome.workflow} v{outcome.version}: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
    )


def batch_results(batches: Sequence[Batch], states: Sequence[Any]) -> list[dict[str, Any]]:
    """Each batch flow run's summary, or for one that did not finish, what stopped it."""
    results: list[dict[str, Any]] = []
    for batch, state in zip(batches, states, strict=True):
        if state.is_completed():
            results.append(dict(state.result()))
            continue
        results.append(
            {
                "batch": batch.label,
                "workflow": batch.workflow,
                "version": batch.version,
                "runs": len(batch.run_ids),
                "error": f"{state.type.value.lower()}: {state.message or 'no message'}"[:500],
            }
        )
    return results


@task(name="workflows-tick-report", cache_policy=NO_CACHE)
def workflows_tick_report(started: Sequence[Started], results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The tick's summary; the tick fails when a batch did not finish (its runs are resumed later)."""
    summary = tick_summary(started, results)
    logger = get_run_logger()
    logger.info(
        "%d runs in %d batches: %d completed, %d failed",
        summary["runs"],
        len(results),
        summary["completed"],
        summary["failed"],
    )
    for item in summary["failed_runs"]:
        logger.warning("run %s failed: %s", item["run_id"], item["error"])
    if summary["batches_not_finished"]:
        broken = [r for r in results if r.get("error")]
        raise RuntimeError(
            f"{len(broken)} of {len(results)} batches did not finish ({broken[0]['batch']}: "
            f"{broken[0]['error']}); their runs are resumed by a later tick"
        )
    return summary
