"""Replenishment (Bestellvorschlag): what to reorder from which supplier, how much and why.

Runs daily at 06:00 Europe/Berlin (deployment ``replenishment``) and ad hoc
(``jtl-automator run replenishment [--dry-run] [--output FILE]``). Writes one draft restock plan per
supplier for the ISO week and the workbook; see docs/replenishment.md for the rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from blocks import SmtpServer
from flows import ON_RUNNING
from jtl_automator.plans import iso_week
from jtl_automator.services.replenishment import (
    ReplenishmentRunParams,
    local_today,
    run_stages,
    workbook_path,
)
from jtl_automator.services.replenishment.reads import TIMEZONE
from jtl_automator.settings import get_settings
from tasks.cluster import cluster_address
from tasks.replenishment import TaskStages, replenishment_mail_purchasing, replenishment_publish_artifacts
from tasks.resources import RunBlocks, google_sheet, load_block, run_clients


@flow(name="replenishment", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def replenishment(
    dry_run: bool = False,
    output: str | None = None,
    as_of: date | None = None,
    params: ReplenishmentRunParams | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    bestellvorschlag_sheet: str | None = None,
    sheets_block: str | None = None,
    purchasing_email: str | None = None,
    email_block: str | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Propose this week's restock plans and write the Bestellvorschlag workbook.

    Args:
        dry_run: Compute and write the workbook; create or change no plan.
        output: The workbook's path (default: ``<params.output_dir>/bestellvorschlag-<date>.xlsx``).
        as_of: Run as if on this day (demand ends the day before; default: today in Berlin).
        params: History window, formula parameters, rows of the table artifact.
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        bestellvorschlag_sheet: Google spreadsheet id to write the same tabs into (default:
            JTL_BESTELLVORSCHLAG_SHEET; none: the workbook only).
        sheets_block: GoogleSheetsCredentials block (default: the JTL_GOOGLE_* environment).
        purchasing_email: Where the workbook goes, once per week and version of the proposal (needs
            ``email_block``; none: no e-mail).
        email_block: SmtpServer block the e-mail goes through.
        dask_address: Dask scheduler to compute the lines on, in SKU parts (default: JTL_DASK_ADDRESS;
            none: this machine). The same lines either way; see docs/production.md.
    """
    params = params or ReplenishmentRunParams()
    run_id = str(flow_run.get_id() or "local")
    now = datetime.now(UTC) if as_of is None else datetime.combine(as_of, time(6), TIMEZONE)
    period = iso_week(local_today(now))
    path: Path = workbook_path(params, period, now, output)
    sheet_id = bestellvorschlag_sheet or get_settings().bestellvorschlag_sheet
    sheet = google_sheet(sheet_id, sheets_block) if sheet_id else None
    with run_clients(RunBlocks(ffn_block, wawi_block, database_block), run_id) as clients:
        stages = TaskStages(clients, params, period, now, path, run_id, sheet, cluster_address(dask_address))
        result = run_stages(stages, params, dry_run=dry_run, period=period)
        if purchasing_email and email_block and not dry_run:
            mailer = load_block(SmtpServer, email_block).get_client()
            result["mail"] = replenishment_mail_purchasing(clients, mailer, purchasing_email, result, run_id)
    replenishment_publish_artifacts(result)
    return result
