"""SLA check: the business-hours and deadline SLAs Prefect's automations cannot express on their own.

Runs every five minutes (deployment ``sla-check``) and ad hoc (``jtl-automator run sla-check``). For every
``no-success`` and ``done-by`` alert in ``config/automations`` it reads the deployment's last Completed
run from Prefect, decides (``jtl_automator.alerts.sla``) and emits ``jtl-automator.sla.breached``; the
alert's automation (``jtl-automator automations apply``) sends the e-mail and the webhook. See
docs/alerts.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow

from flows import ON_RUNNING
from jtl_automator.alerts.overrun import find_overruns, overruns_markdown
from jtl_automator.alerts.sla import evaluate, report_markdown
from tasks.sla_check import (
    sla_artifact,
    sla_emit,
    sla_last_successes,
    sla_load_config,
    sla_log_overruns,
    sla_recent_runs,
)


@flow(name="sla-check", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def sla_check(
    config_dir: str | None = None,
    dry_run: bool = False,
    at: datetime | None = None,
    overrun_lookback_minutes: int = 60,
) -> dict[str, Any]:
    """Evaluate the SLA alerts now (or ``at``) and emit an event per breach; name runs over their schedule.

    Args:
        config_dir: Folder of the alert files (default: config/automations of the project).
        dry_run: Evaluate and report; emit nothing.
        at: The moment to judge (default: now); runs that ended later are not counted.
        overrun_lookback_minutes: Runs due this far back are checked for outlasting their schedule.
    """
    now = at or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    config = sla_load_config(config_dir)
    alerts = config.sla_alerts()
    last = sla_last_successes([a.deployment for a in alerts], now) if alerts else {}
    results = evaluate(alerts, config.business_hours, last, now)
    emitted = 0 if dry_run else sla_emit(results)
    overruns = find_overruns(sla_recent_runs(overrun_lookback_minutes, now), now)
    sla_log_overruns(overruns)
    sla_artifact(
        report_markdown(results, now, dry_run=dry_run) + overruns_markdown(overruns, overrun_lookback_minutes)
    )
    return {
        "at": now.isoformat(),
        "dry_run": dry_run,
        "emitted": emitted,
        "results": [
            {"alert": r.alert, "deployment": r.deployment, "status": r.status, "message": r.message}
            for r in results
        ],
        "overruns": [
            {"deployment": o.deployment, "run": o.name, "kind": o.kind, "message": o.message}
            for o in overruns
        ],
    }
