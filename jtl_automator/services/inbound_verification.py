"""Inbound verification as plain functions: read the sheet, load FFN in bulk, reconcile, write back.

The Prefect flow wires these as tasks; tests and the benchmark call them directly. Every FFN read is
a paged bulk read (the product list once; inbounds and stocks by ``$filter`` on many ids or one full
listing), never a request per row; the catalogue's pages are read several at a time and the inbounds
alongside the catalogue, within the client's rate and in-flight limits. The sheet side
(:mod:`jtl_automator.services.inbound_sheet`) reads only the key columns and writes status, note and
checked-at cells in one batched write after re-checking where each row now is, so other columns edited
meanwhile are never touched.

Sizes stay bounded however large the sheet: a note lists at most ten rows, the artifacts show the first
rows that need a look plus counts and say where the full list is (the sheet itself and the state
database's ``inbound_checks``), and the history is stored in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.pagination import flatten
from jtl_automator.correlation import in_context
from jtl_automator.limits import FFN_TEXT_MAX
from jtl_automator.services.inbound_sheet import (
    DEFAULT_WORKSHEET,
    InboundSheet,
    SheetChanged,
    SheetColumns,
    WriteOutcome,
    decide_mode,
    read_inbound_sheet,
    write_results,
)
from jtl_automator.transforms.ffn_frames import inbound_items_frame, products_frame, stocks_frame
from jtl_automator.transforms.inbound import (
    ReconcileParams,
    RowStatus,
    annotate_since,
    reconcile,
    row_keys,
    status_counts,
)

#: Rows of the table artifact (the first that need a look); the rest is counted, not listed.
TABLE_ROWS = 1_000
#: Rows that need a look listed in the markdown summary.
SUMMARY_ROWS = 50
#: Rows not written (moved away or edited during the run) listed by name in the summary.
SKIPPED_LISTED = 50
#: Characters of a note shown in the artifacts.
ARTIFACT_NOTE_CHARS = 300
#: Results stored in the history per insert, so a million rows never become a million dicts at once.
HISTORY_BATCH = 20_000
TABLE_COLUMNS = ["row_number", "sku", "inbound_ref", "status", "units_expected", "units_received", "note"]
CHASED = (RowStatus.MISMATCH.value, RowStatus.PENDING.value)


def load_products(ffn: FfnClient) -> pd.DataFrame:
    """The whole catalogue's merchantSku -> jfsku map in one paged read."""
    return products_frame(flatten(ffn.products.iter_pages(parallel=ffn.read_parallelism)))


def load_inbound_items(ffn: FfnClient, references: Iterable[str]) -> pd.DataFrame:
    """Items of the inbounds the sheet references (by id or merchant number), in the fewest requests.

    Converted page by page: a million items never exist as a million dicts at once.
    """
    return inbound_items_frame(ffn.inbounds.iter_by_references(references))


def load_products_and_inbound_items(
    ffn: FfnClient, references: Iterable[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The catalogue and the referenced inbounds' items at the same time: neither read needs the other.

    Both go through the one client, so they share its rate and in-flight limits.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="ffn-inbounds") as pool:
        items = pool.submit(in_context(load_inbound_items), ffn, list(references))
        products = load_products(ffn)
        return products, items.result()


def load_stocks(ffn: FfnClient, jfskus: Iterable[str]) -> pd.DataFrame:
    """Stocks of the given jfskus from one paged listing of all stocks.

    FFN's ``$filter`` on stocks does not offer ``jfsku`` (only levels and warehouse paths), so the
    alternative would be one ``/stocks/{jfsku}`` call per SKU, which is exactly what not to do.
    """
    keep = set(jfskus)
    pages = ffn.stocks.iter_pages(parallel=ffn.read_parallelism)
    return stocks_frame(s for s in flatten(pages) if s.get("jfsku") in keep)


def verify(
    sheet: InboundSheet,
    products: pd.DataFrame,
    inbound_items: pd.DataFrame | None,
    stocks: pd.DataFrame | None,
    mode: Literal["inbound", "stock"],
    history: Callable[[list[str]], Mapping[str, list[tuple[datetime, str]]]] | None = None,
    reconciled: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Reconcile and, given a history lookup (the store), say since when a row has been missing.

    Only the rows being chased (MISMATCH, PENDING) are looked up in the history. ``reconciled``: the
    reconciliation already done elsewhere (in SKU parts on a Dask cluster: the same frame).
    """
    if reconciled is None:
        reconciled = reconcile(sheet.rows, products, inbound_items, stocks, ReconcileParams(mode=mode))
    results = reconciled.copy()
    results["row_key"] = row_keys(results)
    if history is not None:
        chased = results["status"].isin(CHASED).to_numpy()
        if chased.any():
            keys = pd.unique(results["row_key"].to_numpy(dtype=object)[chased]).tolist()
            results = annotate_since(results, history(keys))
    return results


def jfskus_of(sheet: InboundSheet, products: pd.DataFrame) -> list[str]:
    """The jfskus the sheet's SKUs map to (for the stock lookup)."""
    skus = set(sheet.rows["sku"].astype(str).str.strip())
    matched = products.loc[products["merchant_sku"].isin(skus), "jfsku"]
    return sorted(set(matched.astype(str)))


def exceptions(results: pd.DataFrame) -> pd.DataFrame:
    """Every row that is not a MATCH, in sheet order."""
    return results.loc[results["status"] != RowStatus.MATCH.value].sort_values("row_number")


def _cut(text: Any, limit: int = ARTIFACT_NOTE_CHARS) -> str:
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def artifact_table(results: pd.DataFrame, limit: int = TABLE_ROWS) -> list[dict[str, Any]]:
    """The first ``limit`` rows that need a look, as table-artifact records (notes shortened)."""
    attention = np.flatnonzero(results["status"].to_numpy(dtype=object) != RowStatus.MATCH.value)
    rows = results.iloc[attention][TABLE_COLUMNS].sort_values("row_number").head(limit)
    records = table_records(rows)
    for record in records:
        record["note"] = _cut(record["note"])
    return records


def where_the_full_list_is(total: int, *, dry_run: bool, run_id: str | None) -> str:
    """One sentence for the artifacts: how many rows are shown and where all of them are."""
    shown = f"the first {min(total, TABLE_ROWS):,} of {total:,} rows that are not MATCH"
    if dry_run:
        return f"Shows {shown}. Dry run: nothing was written or stored, so these are all there is to see."
    run = f" (run_id {run_id!r})" if run_id else ""
    return (
        f"Shows {shown}. Every row's status and note is in the sheet's Status and Note columns, and every "
        f"result of this run is in the state database table inbound_checks{run}."
    )


def summary_markdown(
    title: str,
    counts: dict[str, int],
    results: pd.DataFrame,
    *,
    dry_run: bool,
    outcome: WriteOutcome | None = None,
    repeated_headers: tuple[int, ...] = (),
    run_id: str | None = None,
) -> str:
    """The run's markdown summary: counts, what the write did, the first rows that need a look."""
    lines = [f"# Inbound verification: {title}", ""]
    if dry_run:
        lines += ["_Dry run: nothing was written._", ""]
    lines += ["| status | rows |", "|---|---:|"]
    lines += [f"| {status} | {count:,} |" for status, count in counts.items()]
    if repeated_headers:
        listed = ", ".join(str(r) for r in repeated_headers[:10])
        more = f" and {len(repeated_headers) - 10:,} more" if len(repeated_headers) > 10 else ""
        lines += ["", f"Repeated header rows skipped (never written): {listed}{more}."]
    if outcome is not None:
        lines += ["", _write_summary(outcome)]
        if len(outcome.skipped):
            lines += [
                "",
                f"## Rows not written ({len(outcome.skipped):,}); the next run checks them again",
                "",
                "| row (as read) | SKU | inbound | why |",
                "|---:|---|---|---|",
            ]
            for r in outcome.skipped.head(SKIPPED_LISTED).itertuples():
                lines.append(f"| {r.row_number} | {_md(r.sku)} | {_md(r.inbound_ref)} | {r.reason} |")
            if len(outcome.skipped) > SKIPPED_LISTED:
                lines.append(f"| … | | | {len(outcome.skipped) - SKIPPED_LISTED:,} more |")
    attention = results["status"].to_numpy(dtype=object) != RowStatus.MATCH.value
    total = int(attention.sum())
    if total:
        first = results.iloc[np.flatnonzero(attention)].sort_values("row_number").head(SUMMARY_ROWS)
        lines += [
            "",
            f"## Rows that need a look ({total:,})",
            "",
            "| row | SKU | status | note |",
            "|---:|---|---|---|",
        ]
        for r in first.itertuples():
            lines.append(f"| {r.row_number} | {_md(r.sku)} | {r.status} | {_md(_cut(r.note))} |")
        if total > SUMMARY_ROWS:
            lines.append(f"| … | | | {total - SUMMARY_ROWS:,} more |")
        lines += ["", where_the_full_list_is(total, dry_run=dry_run, run_id=run_id)]
    return "\n".join(lines)


def _md(text: Any) -> str:
    return _cut(text, 80).replace("|", "/").replace("\n", " ")


def _write_summary(outcome: WriteOutcome) -> str:
    parts = [f"Wrote {outcome.cells:,} cells to {outcome.in_place + outcome.moved:,} rows"]
    if outcome.moved:
        parts.append(f"{outcome.moved:,} of them moved during the run and were written where they are now")
    if len(outcome.skipped):
        parts.append(f"{len(outcome.skipped):,} rows changed or vanished during the run and were not written")
    if outcome.added:
        parts.append(f"{outcome.added:,} rows added during the run are checked by the next run")
    return "; ".join(parts) + "."


def history_batches(
    results: pd.DataFrame, checked_at: datetime, size: int = HISTORY_BATCH
) -> Iterator[list[dict[str, Any]]]:
    """Rows for the store's check history in batches (plain Python values, None for unknown units).

    Rows whose SKU or reference is longer than FFN takes (INVALID_ROW) are left out: their key does not
    fit the history's columns, and an invalid row has no "since" to remember.
    """
    columns = ["row_key", "sku", "inbound_ref", "units_expected", "units_received", "status", "note"]
    fits = results["sku"].astype(str).str.len().le(FFN_TEXT_MAX) & results["inbound_ref"].astype(
        str
    ).str.len().le(FFN_TEXT_MAX)
    results = results.loc[fits]
    for start in range(0, len(results), size):
        records = table_records(results.iloc[start : start + size][columns])
        for record in records:
            record["inbound_ref"] = record["inbound_ref"] or None
            record["checked_at"] = checked_at
        yield records


def history_records(results: pd.DataFrame, checked_at: datetime) -> list[dict[str, Any]]:
    """Every history row at once (small sheets and tests; the flow stores :func:`history_batches`)."""
    return [record for batch in history_batches(results, checked_at) for record in batch]


def table_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-friendly records: <NA> becomes None, numpy scalars become Python numbers."""
    plain = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in plain.to_dict("records")
    ]


__all__ = [
    "DEFAULT_WORKSHEET",
    "TABLE_ROWS",
    "InboundSheet",
    "SheetChanged",
    "SheetColumns",
    "WriteOutcome",
    "artifact_table",
    "decide_mode",
    "exceptions",
    "history_batches",
    "history_records",
    "jfskus_of",
    "load_inbound_items",
    "load_products",
    "load_products_and_inbound_items",
    "load_stocks",
    "read_inbound_sheet",
    "status_counts",
    "summary_markdown",
    "table_records",
    "verify",
    "where_the_full_list_is",
    "write_results",
]
