"""A small report built by hand (no store): what the output renderers are checked on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from jtl_automator.reports.model import Chart, Column, Comparison, Kpi, Report, Table, Target
from jtl_automator.reports.periods import parse_period


def literal_report(rows: int = 3) -> Report:
    """Weekly KPIs 2026-W47: revenue +25 % (target on the change), margin 40 % (+2 points), one missing."""
    report = Report("weekly", "Weekly KPIs", parse_period("2026-W47"), datetime(2026, 11, 23, 6, tzinfo=UTC))
    report.kpis = [
        Kpi(
            "revenue_net",
            "Revenue net",
            "eur",
            1250.0,
            previous=Comparison("2026-W46", 1000.0),
            last_year=Comparison("2025-W47", None, "no history: the order ledger starts on 2026-10-01"),
            target=Target(green=0.0, red=-0.1),
            target_on_change=True,
        ),
        Kpi(
            "margin_pct",
            "Margin %",
            "pct",
            0.40,
            previous=Comparison("2026-W46", 0.38),
            target=Target(green=0.35, red=0.2),
        ),
        Kpi("return_rate", "Return rate", "pct", None, missing="no source yet"),
    ]
    frame = pd.DataFrame(
        {
            "day": [date(2026, 11, 16 + n) for n in range(rows)],
            "orders": pd.Series(range(1, rows + 1), dtype="int64"),
            "net": pd.Series([100.0 * (n + 1) for n in range(rows)], dtype="float64"),
            "late": pd.Series([10.0 * n for n in range(rows)], dtype="float64"),
        }
    )
    columns = (
        Column("day", "Day", "date"),
        Column("orders", "Orders", "count"),
        Column("net", "Revenue net", "eur"),
        Column("late", "Late (h)", "hours"),
    )
    report.tables = [
        Table(
            "sales_by_day",
            "Sales by day",
            columns,
            frame,
            {"late": Target(green=5, red=15, higher_is_better=False)},
        ),
        Table("dead_stock", "Dead stock", (Column("sku", "SKU"),), pd.DataFrame(), missing="needs 90 days"),
    ]
    report.charts = [
        Chart(
            "revenue", "Revenue", "line", "sales_by_day", "day", ("net", "orders"), ("orders",), picture=True
        )
    ]
    return report
