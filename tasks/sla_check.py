"""Tasks of the SLA check: read each deployment's last success from Prefect, emit breaches, the artifact."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events import emit_event

from jtl_automator.alerts.config import AlertsConfig, load_project_alerts
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
