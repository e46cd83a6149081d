"""The daily operations report's "Shop sync" tab: the shop sync check's incidents when the report runs.

Open incidents (raised ones first, each with its "since" and hours open) and those cleared during the
period. A snapshot of the moment the report runs, like the holds: a report run later for an earlier day
states it as missing. Where the check never ran, the tab says so instead of showing an empty list.
"""

from __future__ import annotations

import pandas as pd

from jtl_automator.reports import sections as s
from jtl_automator.reports.data import SHOP_SYNC, ReportData, ReportParams
from jtl_automator.reports.model import Column, Report, Table, missing_table

LABELS = {
    "stuck_order": "stuck order",
    "cancelled_open": "cancelled in shop, open in Wawi",
    "stale_stock": "stale stock",
    "price_drift": "price drift",
}
COLUMNS = (
    Column("what", "Incident", "text", 30),
    Column("key", "Order / SKU", "text", 24),
    Column("state", "State", "text", 10),
    Column("since", "Since", "datetime"),
    Column("hours_open", "Hours open", "hours"),
    Column("shop", "Shop", "number"),
    Column("wawi", "Wawi", "number"),
    Column("detail", "What", "text", 60),
)
_ORDER = {"raised": 0, "watching": 1, "cleared": 2}


def add_shop_sync(report: Report, data: ReportData, params: ReportParams) -> None:
    """A headline figure (incidents raised now) and the tab of incidents."""
    frame = data.frame(SHOP_SYNC)
    title = "Shop sync"
    why = data.why(SHOP_SYNC) if frame is None else (None if s.is_current(data) else s.snapshot_missing(data))
    if frame is None or why is not None:
        report.kpis.append(
            s.kpi(data, "shop_sync_incidents", "Shop sync incidents", "count", None, missing=why)
        )
        report.tables.append(missing_table("shop_sync", title, COLUMNS, why or "", sheet=title))
        return
    raised = int((frame["state"] == "raised").sum())
    report.kpis.append(s.kpi(data, "shop_sync_incidents", "Shop sync incidents", "count", float(raised)))
    as_of = pd.Timestamp(data.as_of).tz_convert("UTC")
    shown = frame.assign(
        what=frame["kind"].map(LABELS).fillna(frame["kind"]).astype("string"),
        hours_open=((frame["cleared_at"].fillna(as_of) - frame["since"]).dt.total_seconds() / 3600).round(1),
        since=frame["since"].dt.tz_convert("Europe/Berlin").dt.tz_localize(None),
        _order=frame["state"].map(_ORDER).fillna(3),
    ).sort_values(["_order", "since"], kind="stable")
    limited = shown.head(params.detail_rows)
    note = (
        f"the first {params.detail_rows:,} of {len(shown):,} rows"
        if len(shown) > params.detail_rows
        else None
    )
    counts = frame.loc[frame["state"] == "raised", "kind"].map(LABELS).value_counts().to_dict()
    summary = ", ".join(f"{n} {label}" for label, n in sorted(counts.items())) or "nothing raised"
    report.tables.append(
        Table(
            "shop_sync",
            title,
            COLUMNS,
            limited.reset_index(drop=True),
            note=f"{summary}; incidents cleared since the day began are listed last"
            + (f"; {note}" if note else ""),
            sheet=title,
        )
    )
