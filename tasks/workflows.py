"""Tasks of the workflow flows: evaluate the triggers, begin a run, one task run per step, finish, publish.

The work lives in ``jtl_automator.workflows.runner``; a step's task run is named after its node, so the
Prefect UI shows a run's steps by the names the workflow gives them. Steps are not retried by Prefect:
an action retries its own transient failures (the one retry policy), and a failed run is resumed by
running it again (its succeeded steps are reused, its side effects keyed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

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
) -> list[Started]:
    """Every active workflow's trigger (or only ``names``): the runs it makes, watermarks moved after."""
    with correlated():
        started = evaluate_active(workflows, source, events=events, now=datetime.now(UTC), names=names)
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
