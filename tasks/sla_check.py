"""Tasks of the SLA check: read each deployment's last success from Prefect, emit breaches, the artifact."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events import emit_event
from prefect.server.schemas import schedules as server_schedules
from prefect.utilities.asyncutils import run_coro_as_sync

from jtl_automator.alerts.config import AlertsConfig, load_project_alerts
from jtl_automator.alerts.overrun import Overrun, RunView
from jtl_automator.alerts.sla import BREACHED_EVENT, SlaResult
from jtl_automator.project import project_root


@task(name="sla-load-config", cache_policy=NO_CACHE)
def sla_load_config(config_dir: str | None) -> AlertsConfig:
    """The alert files as the deployment's working directory has them (a mistake fails the run, named)."""
    return load_project_alerts(project_root(), Path(config_dir) if config_dir else None)


@task(name="sla-last-successes", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def sla_last_successes(deployments: list[str], at: datetime) -> dict[str, datetime | None]:
    """When each deployment's newest Completed run (up to ``at``) ended; None if it never completed."""
    found: dict[str, datetime | None] = {}
    with get_client(sync_client=True) as client:
        for name in sorted(set(deployments)):
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])),
                    end_time=FlowRunFilterEndTime(before_=at),
                ),
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[name])),
                sort=FlowRunSort.END_TIME_DESC,
                limit=1,
            )
            found[name] = runs[0].end_time if runs and runs[0].end_time else None
    return found


@task(name="sla-emit", cache_policy=NO_CACHE)
def sla_emit(results: list[SlaResult]) -> int:
    """One ``jtl-automator.sla.breached`` event per breached SLA (its automation sends the alert)."""
    logger = get_run_logger()
    emitted = 0
    for result in results:
        logger.info("%s (%s): %s, %s", result.alert, result.deployment, result.status, result.message)
        if result.status != "breached":
            continue
        emit_event(
            event=BREACHED_EVENT,
            resource={
                "prefect.resource.id": result.resource_id,
                "prefect.resource.name": result.alert,
                "jtl-automator.deployment": result.deployment,
            },
            payload={
                "alert": result.alert,
                "kind": result.kind,
                "deployment": result.deployment,
                "message": result.message,
                "last_success": result.last_success.isoformat() if result.last_success else None,
            },
        )
        emitted += 1
    return emitted


@task(name="sla-artifact", cache_policy=NO_CACHE)
def sla_artifact(markdown: str) -> None:
    """Each SLA's state at a glance, in the run's artifacts."""
    create_markdown_artifact(markdown, key="sla-check", description="SLA check")


#: The most recent runs the overrun check reads (a 5-minute schedule has 12 in an hour per deployment).
_RECENT_RUNS = 1000
_PAGE = 200


def _next_due(schedules: list[Any], after: datetime) -> datetime | None:
    """The first time any active schedule is due after ``after``, by Prefect's own schedule logic."""
    due: list[datetime] = []
    for item in schedules:
        if not item.active:
            continue
        kind = type(item.schedule).__name__
        server_kind = getattr(server_schedules, kind, None)
        if server_kind is None:
            continue  # a schedule type this Prefect does not know: not judged
        schedule = server_kind.model_validate(item.schedule.model_dump())
        dates: list[datetime] | None = run_coro_as_sync(
            schedule.get_dates(n=1, start=after + timedelta(seconds=1))
        )
        if dates:
            due.append(dates[0])
    return min(due) if due else None


@task(name="sla-recent-runs", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def sla_recent_runs(lookback_minutes: int, at: datetime) -> list[RunView]:
    """The runs of scheduled deployments due in the last ``lookback_minutes``, with their next due time."""
    with get_client(sync_client=True) as client:
        deployments = {d.id: d for d in client.read_deployments() if any(s.active for s in d.schedules)}
        if not deployments:
            return []
        recent = FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=list(deployments)),
            expected_start_time=FlowRunFilterExpectedStartTime(
                after_=at - timedelta(minutes=lookback_minutes), before_=at
            ),
        )
        runs: list[FlowRun] = []
        while len(runs) < _RECENT_RUNS:  # the server answers at most 200 per call
            page = client.read_flow_runs(
                flow_run_filter=recent,
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=_PAGE,
                offset=len(runs),
            )
            runs.extend(page)
            if len(page) < _PAGE:
                break
    views = []
    for run in runs:
        deployment = deployments.get(run.deployment_id) if run.deployment_id else None
        if deployment is None or run.state is None:
            continue
        views.append(
            RunView(
                deployment=deployment.name,
                run_id=str(run.id),
                name=run.name,
                state_type=run.state.type.value,
                state_message=run.state.message,
                expected_start=run.expected_start_time,
                start=run.start_time,
                end=run.end_time,
                next_due=_next_due(deployment.schedules, run.expected_start_time)
                if run.expected_start_time
                else None,
            )
        )
    return views


@task(name="sla-log-overruns", cache_policy=NO_CACHE)
def sla_log_overruns(overruns: list[Overrun]) -> None:
    """One warning per run over its schedule (the artifact lists them too)."""
    logger = get_run_logger()
    for o in overruns:
        logger.warning("%s run %s %s: %s", o.deployment, o.name, o.kind, o.message)
