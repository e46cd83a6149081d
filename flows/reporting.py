"""Scheduled KPI reports: daily operations, weekly KPIs, monthly; one flow, three deployments.

``report-daily`` at 07:00 (yesterday), ``report-weekly`` on Monday 07:00 (last week), ``report-monthly`` on
the 1st at 07:00 (last month), Europe/Berlin; ad hoc ``jtl-automator run report NAME [--period …]
[--until …] [--dry-run]``. Each run writes the workbook, keeps the figures in the KPI history, writes the
report's Google Sheet tab and e-mails it where configured, and publishes the artifacts; see
docs/reporting.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from blocks import SmtpServer
from flows import ON_RUNNING
from jtl_automator.reports import data as d
from jtl_automator.reports import report_definition
from jtl_automator.reports.data import ReportParams
from jtl_automator.reports.excel import workbook_path
from jtl_automator.services.reporting import Sources, resolve_periods, run_stages
from tasks.cluster import cluster_address
from tasks.reporting import (
    TaskStages,
    report_clients,
    report_failed_runs,
    report_publish_artifacts,
    resolve_delivery,
)
from tasks.resources import google_sheet, load_block, state_store


@flow(name="report", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def report(
    name: str = "daily",
    period: str | None = None,
    until: str | None = None,
    dry_run: bool = False,
    params: ReportParams | None = None,
    delivery_block: str | None = None,
    output_dir: str | None = None,
    spreadsheet: str | None = None,
    recipients: list[str] | None = None,
    email_block: str | None = None,
    sheets_block: str | None = None,
    storage_block: str | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    as_of: datetime | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Make one report for one period (or each period of a backfill) and deliver it.

    Args:
        name: ``daily``, ``weekly`` or ``monthly``.
        period: ``2026-11-24``, ``2026-W47`` or ``2026-11`` (the report's kind; default: the last complete).
        until: Backfill: every period from ``period`` to this one, oldest first.
        dry_run: Write the workbook only: no KPI history, no Google Sheet, no e-mail.
        params: Targets (red/amber/green), list lengths, windows (docs/reporting.md).
        delivery_block: ReportDelivery block (default: the JTL_REPORTS_* environment).
        output_dir: Folder of the workbooks (over the block's).
        spreadsheet: Google spreadsheet id of the report tabs (over the block's).
        recipients: E-mail addresses (over the block's; needs an SmtpServer block).
        email_block: SmtpServer block the e-mail goes through (over the block's).
        sheets_block: GoogleSheetsCredentials block (over the block's).
        storage_block: A Prefect file system block, as ``slug/name`` (``local-file-system/reports``), the
            workbook is also written to as ``<report>/<period>.xlsx`` (over the block's).
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        as_of: Run as if at this moment (default: now): the default period, the snapshots' moment.
        dask_address: Dask scheduler to build the weekly and monthly reports' sections on (default:
            JTL_DASK_ADDRESS; none: this machine). The same report either way; see docs/production.md.
    """
    definition = report_definition(name)
    params = params or ReportParams()
    run_id = str(flow_run.get_id() or "local")
    now = (
        as_of.astimezone(UTC) if as_of and as_of.tzinfo else (as_of or datetime.now(UTC)).replace(tzinfo=UTC)
    )
    periods = resolve_periods(definition, now, period, until)
    where = resolve_delivery(
        delivery_block,
        output_dir=output_dir,
        spreadsheet_id=spreadsheet,
        recipients=recipients,
        email_block=email_block,
        sheets_block=sheets_block,
        storage_block=storage_block,
    )
    sheet = (
        google_sheet(where.spreadsheet_id, where.sheets_block)
        if where.spreadsheet_id and not dry_run
        else None
    )
    send = where.email_block and where.recipients and not dry_run
    mailer = load_block(SmtpServer, where.email_block).get_client() if send and where.email_block else None
    store = state_store(database_block)
    runs: list[dict[str, Any]] = []
    with report_clients(definition, store, ffn_block, wawi_block) as (ffn, wawi, reasons):
        for target in periods:
            failed, why = (
                report_failed_runs(*target.utc_bounds())
                if d.FAILED_RUNS in definition.needs
                else (None, None)
            )
            sources = Sources(
                store, ffn, wawi, failed, why, **{f"{k}_missing": v for k, v in reasons.items()}
            )
            path: Path = workbook_path(where.output_dir, name, target.label)
            stages = TaskStages(
                definition,
                target,
                params,
                sources,
                path,
                now,
                run_id,
                sheet,
                mailer,
                where.recipients,
                where.storage_block,
                cluster_address(dask_address),
            )
            outcome = run_stages(stages, dry_run=dry_run)
            report_publish_artifacts(outcome.report, outcome.summary, params.artifact_rows)
            runs.append(outcome.summary)
    if len(runs) == 1:
        return runs[0]
    return {"report": name, "periods": [r["period"] for r in runs], "dry_run": dry_run, "runs": runs}
