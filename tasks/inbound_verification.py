"""Tasks of the inbound verification flow; each calls jtl_automator.services.inbound_verification."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from blocks import InboundControlSheet
from jtl_automator.services import inbound_verification as svc
from jtl_automator.transforms.inbound import ReconcileParams
from jtl_automator.transforms.partitions import join_inbound_results, split_inbound
from tasks.cluster import inbound_reconcile_part, partitions, run_parts, stage_runner
from tasks.resources import correlated, ffn_client, load_block, sheet_backend, state_store
from tasks.retry import retry_transient


@dataclass(frozen=True)
class Booked:
    """What FFN booked, in frames."""

    mode: Literal["inbound", "stock"]
    products: pd.DataFrame
    inbound_items: pd.DataFrame | None
    stocks: pd.DataFrame | None
    requests: int


@dataclass(frozen=True)
class SheetTarget:
    """Which sheet to verify and how: explicit flow parameters win over the sheet settings block."""

    sheet: str
    worksheet: str | None
    mode: Literal["inbound", "stock"] | None
    columns: svc.SheetColumns


@task(name="inbound-resolve-sheet", cache_policy=NO_CACHE)
def inbound_resolve_sheet(
    sheet: str | None,
    worksheet: str | None,
    mode: Literal["inbound", "stock"] | None,
    columns: svc.SheetColumns | None,
    sheet_block: str | None,
) -> SheetTarget:
    """Merge the flow's parameters with an InboundControlSheet block (parameters win)."""
    if sheet_block:
        settings = load_block(InboundControlSheet, sheet_block)
        return SheetTarget(
            sheet or settings.sheet,
            worksheet or settings.worksheet,
            mode or settings.mode,
            columns or settings.columns(),
        )
    if not sheet:
        raise ValueError("give the sheet (a spreadsheet id or an .xlsx path) or a sheet settings block")
    return SheetTarget(sheet, worksheet, mode, columns or svc.SheetColumns())


@task(
    name="sheet-read-inbound-control",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=retry_transient,
)
def sheet_read_inbound_control(
    sheet: str, worksheet: str | None, columns: svc.SheetColumns, sheets_block: str | None
) -> svc.InboundSheet:
    """Read the worksheet; a missing worksheet or header fails here, before anything is written."""
    with correlated():
        data = svc.read_inbound_sheet(sheet_backend(sheet, sheets_block), worksheet, columns)
    get_run_logger().info(
        "read %d rows from %r (header in row %d)", len(data.rows), data.worksheet, data.header_row
    )
    return data


@task(
    name="ffn-load-booked",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_transient,
)
def ffn_load_booked(
    data: svc.InboundSheet,
    mode: Literal["inbound", "stock"] | None,
    ffn_block: str | None,
    database_block: str | None,
) -> Booked:
    """The catalogue once, then the referenced inbounds or the stocks, all as paged bulk reads."""
    logger = get_run_logger()
    chosen = svc.decide_mode(data, mode)
    with correlated(), ffn_client(state_store(database_block), ffn_block) as ffn:
        items = stocks = None
        if chosen == "inbound":
            products, items = svc.load_products_and_inbound_items(ffn, data.rows["inbound"].tolist())
        else:
            products = svc.load_products(ffn)
            stocks = svc.load_stocks(ffn, svc.jfskus_of(data, products))
    requests = ffn.stats.requests
    logger.info("mode %s: %d products, %d FFN requests", chosen, len(products), requests)
    return Booked(chosen, products, items, stocks, requests)


def inbound_reconcile_on_cluster(
    data: svc.InboundSheet, booked: Booked, address: str | None
) -> pd.DataFrame | None:
    """The reconciliation in SKU parts on a Dask cluster (see tasks/cluster.py); None without one."""
    with stage_runner(address) as runner:
        if runner is None:
            return None
        begin = time.perf_counter()
        parts = split_inbound(
            data.rows,
            booked.products,
            booked.inbound_items,
            booked.stocks,
            ReconcileParams(mode=booked.mode),
            partitions(runner),
        )
        results = join_inbound_results(data.rows, run_parts(runner, inbound_reconcile_part, parts))
    get_run_logger().info(
        "reconciled %d rows in %d part(s) on the Dask cluster in %.2f s",
        len(results),
        len(parts),
        time.perf_counter() - begin,
    )
    return results


@task(name="inbound-reconcile", cache_policy=NO_CACHE)
def inbound_reconcile(
    data: svc.InboundSheet,
    booked: Booked,
    sheet: str,
    database_block: str | None,
    reconciled: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Statuses per row, with "since" dates from the stored history (``reconciled``: done on a cluster)."""
    store = state_store(database_block)
    return svc.verify(
        data,
        booked.products,
        booked.inbound_items,
        booked.stocks,
        booked.mode,
        history=lambda keys: store.inbound_history(sheet, keys),
        reconciled=reconciled,
    )


@task(
    name="sheet-write-statuses",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=retry_transient,
)
def sheet_write_statuses(
    sheet: str, data: svc.InboundSheet, results: pd.DataFrame, checked_at: datetime, sheets_block: str | None
) -> svc.WriteOutcome:
    """Re-read the key columns, then write status, note and checked-at where each row now is.

    One batched write; a retry re-reads first, so it writes the same values to the same rows.
    """
    with correlated():
        outcome = svc.write_results(sheet_backend(sheet, sheets_block), data, results, checked_at)
    logger = get_run_logger()
    logger.info(
        "wrote %d cells to %d rows of %r (%d moved during the run)",
        outcome.cells,
        outcome.in_place + outcome.moved,
        data.worksheet,
        outcome.moved,
    )
    if len(outcome.skipped):
        logger.warning(
            "%d rows changed or vanished during the run and were not written (listed in the summary)",
            len(outcome.skipped),
        )
    return outcome


@task(name="store-record-inbound-checks", cache_policy=NO_CACHE)
def store_record_inbound_checks(
    sheet: str, results: pd.DataFrame, checked_at: datetime, database_block: str | None
) -> int:
    """Keep this run's results so a later run can say since when a row is missing (in batches)."""
    with correlated() as run_id:
        store = state_store(database_block)
        return sum(
            store.record_inbound_checks(run_id, sheet, batch)
            for batch in svc.history_batches(results, checked_at)
        )


@task(name="inbound-publish-artifacts", cache_policy=NO_CACHE)
def inbound_publish_artifacts(
    title: str,
    results: pd.DataFrame,
    dry_run: bool,
    outcome: svc.WriteOutcome | None = None,
    repeated_headers: tuple[int, ...] = (),
) -> dict[str, int]:
    """Markdown summary (counts, what the write did) and a table of the first rows that need a look.

    Both stay small however large the sheet, and say where the full list is.
    """
    counts = svc.status_counts(results)
    with correlated() as run_id:
        create_markdown_artifact(
            key="inbound-verification-summary",
            markdown=svc.summary_markdown(
                title,
                counts,
                results,
                dry_run=dry_run,
                outcome=outcome,
                repeated_headers=repeated_headers,
                run_id=run_id,
            ),
            description="Inbound verification: counts per status",
        )
        attention = sum(n for status, n in counts.items() if status != "MATCH")
        create_table_artifact(
            key="inbound-verification-exceptions",
            table=svc.artifact_table(results),
            description=svc.where_the_full_list_is(attention, dry_run=dry_run, run_id=run_id),
        )
    return counts
