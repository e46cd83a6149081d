"""Tasks of the replenishment flow, and ``TaskStages``: the run's stages as these tasks.

The sequence lives once in ``jtl_automator.services.replenishment.pipeline.run_stages``; every task here
is a thin call into the service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.notify.errors import NotifyError
from jtl_automator.notify.mail import AttachmentMailer
from jtl_automator.plans import PlanStore
from jtl_automator.services import replenishment as svc
from jtl_automator.services.replenishment.mail import mail_purchasing
from jtl_automator.services.replenishment.sheet import write_sheet
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.transforms.partitions import join_replenishment_lines, split_replenishment
from tasks.cluster import partitions, replenishment_compute_part, run_parts, stage_runner
from tasks.resources import RunClients, as_is, correlated
from tasks.retry import retry_transient

if TYPE_CHECKING:
    from prefect_dask.task_runners import DaskTaskRunner

_RETRYING: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 30,
    "retry_condition_fn": retry_transient,
}


@task(name="replenishment-load", **_RETRYING)
def replenishment_load(
    clients: RunClients, params: svc.ReplenishmentRunParams, now: datetime
) -> svc.ReplenishmentInputs:
    """Outbounds and stock changes of the window, stock, inbounds, items and their suppliers (reads only)."""
    with correlated():
        inputs = svc.load_inputs(clients.ffn, clients.wawi, params, now=now, store=clients.store)
    get_run_logger().info("read %s for %s..%s", inputs.counts, inputs.window.start, inputs.window.end)
    return inputs


@task(name="replenishment-compute", cache_policy=NO_CACHE)
def replenishment_compute(
    inputs: svc.ReplenishmentInputs, params: svc.ReplenishmentRunParams
) -> pd.DataFrame:
    """Demand and one decision per (SKU, warehouse) (pure)."""
    lines = svc.compute_lines(inputs, params)
    get_run_logger().info("decisions: %s", lines["status"].value_counts().to_dict())
    return lines


def replenishment_compute_on_cluster(
    runner: DaskTaskRunner, inputs: svc.ReplenishmentInputs, params: svc.ReplenishmentRunParams
) -> pd.DataFrame:
    """The same lines as ``replenishment_compute``, computed in SKU parts on the Dask cluster."""
    begin = time.perf_counter()
    parts = split_replenishment(
        inputs.order_lines,
        inputs.stockouts,
        inputs.stock,
        inputs.on_order,
        inputs.suppliers,
        inputs.window,
        params.formula,
        partitions(runner),
    )
    lines = join_replenishment_lines(run_parts(runner, replenishment_compute_part, parts))
    get_run_logger().info(
        "decisions: %s (%d part(s) on the Dask cluster in %.2f s)",
        lines["status"].value_counts().to_dict(),
        len(parts),
        time.perf_counter() - begin,
    )
    return lines


@task(name="replenishment-propose-plans", cache_policy=NO_CACHE)
def replenishment_propose_plans(
    clients: RunClients, lines: pd.DataFrame, period: str, run_id: str
) -> list[svc.ProposedPlan]:
    """One draft restock plan per supplier; a rerun updates the draft, an approved plan is left alone."""
    proposed = svc.propose_restock_plans(lines, PlanStore(clients.store), period, created_by=run_id)
    for plan in proposed:
        if plan.skipped:
            get_run_logger().warning(
                "plan %d (%s) left alone: %s", plan.plan_id, plan.supplier_name, plan.skipped
            )
    return proposed


@task(name="replenishment-write-workbook", cache_policy=NO_CACHE)
def replenishment_write_workbook(lines: pd.DataFrame, path: Path, proposed: list[svc.ProposedPlan]) -> Path:
    """The Bestellvorschlag workbook: low stock first, a tab per supplier, what cannot be ordered."""
    return svc.write_workbook(lines, path, proposed)


@task(name="replenishment-write-sheet", **_RETRYING)
def replenishment_write_sheet(
    sheet: GoogleSheetsBackend, lines: pd.DataFrame, proposed: list[svc.ProposedPlan]
) -> str:
    """The same tabs in the Google Sheet "Bestellvorschlag" (a few requests whatever the suppliers)."""
    requests = write_sheet(sheet, svc.workbook_tabs(lines, proposed))
    get_run_logger().info("wrote the Bestellvorschlag sheet in %d request(s)", requests)
    return sheet.spreadsheet_id


@task(name="replenishment-mail-purchasing", cache_policy=NO_CACHE)
def replenishment_mail_purchasing(
    clients: RunClients, mailer: AttachmentMailer, to: str, result: dict[str, Any], run_id: str
) -> dict[str, Any]:
    """The workbook to purchasing, once per week and version of the proposal.

    The plans and the workbook are written by now, so a mail server that refuses or stays away is
    reported in the result (by error type: the message may name addresses) instead of failing the run;
    the next run with the same proposal sends it then.
    """
    try:
        with correlated():
            outcome = mail_purchasing(clients.store, mailer, to, result, run_id=run_id)
    except NotifyError as exc:
        get_run_logger().warning("the Bestellvorschlag e-mail was not sent: %s", type(exc).__name__)
        return {"sent": False, "error": type(exc).__name__}
    get_run_logger().info("Bestellvorschlag e-mail: %s", "sent" if outcome["sent"] else outcome.get("reason"))
    return outcome


@task(name="replenishment-publish-artifacts", cache_policy=NO_CACHE)
def replenishment_publish_artifacts(result: dict[str, Any]) -> None:
    """The summary as markdown and the lines to look at (low stock first, capped) as a table."""
    create_markdown_artifact(key="replenishment-summary", markdown=svc.summary_markdown(result))
    create_table_artifact(
        key="replenishment-lines",
        table=result["table"] or [{"merchant_sku": "nothing to order, nothing low"}],
        description=f"Low stock first, then orders and lines that cannot be ordered; at most "
        f"{len(result['table'])} rows" + (" (dry run)" if result["dry_run"] else ""),
    )


@dataclass
class TaskStages:
    """The stages of one flow run as Prefect tasks (see ``svc.Stages``)."""

    clients: RunClients
    params: svc.ReplenishmentRunParams
    period: str
    now: datetime
    output: Path
    run_id: str
    sheet: GoogleSheetsBackend | None = None
    cluster: str | None = None  # a Dask scheduler address for the compute stage (tasks/cluster.py)

    def load(self) -> svc.ReplenishmentInputs:
        """See ``svc.Stages``."""
        return replenishment_load(as_is(self.clients), self.params, self.now)

    def compute(self, inputs: svc.ReplenishmentInputs) -> pd.DataFrame:
        """See ``svc.Stages``; on a Dask cluster when one is configured (same lines)."""
        with stage_runner(self.cluster) as runner:
            if runner is None:
                return replenishment_compute(as_is(inputs), self.params)
            return replenishment_compute_on_cluster(runner, inputs, self.params)

    def propose(self, lines: pd.DataFrame) -> list[svc.ProposedPlan]:
        """See ``svc.Stages``."""
        return replenishment_propose_plans(as_is(self.clients), as_is(lines), self.period, self.run_id)

    def write(self, lines: pd.DataFrame, proposed: list[svc.ProposedPlan]) -> Path:
        """See ``svc.Stages``."""
        return replenishment_write_workbook(as_is(lines), self.output, proposed)

    def write_sheet(self, lines: pd.DataFrame, proposed: list[svc.ProposedPlan]) -> str | None:
        """See ``svc.Stages``."""
        if self.sheet is None:
            return None
        return replenishment_write_sheet(as_is(self.sheet), as_is(lines), proposed)
