"""What a report reads, by name, and the parameters every report shares.

A report module declares the datasets it needs (:data:`DATASETS`); the reporting service reads exactly
those (``services/reporting/reads.py``: one SQL query or API read each) into a :class:`ReportData`. A
dataset that could not be read (an API down, a source the flows do not record yet) is absent from
``frames`` and ``missing`` says why: the report states it instead of showing a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from jtl_automator.reports.model import Report, Target
from jtl_automator.reports.periods import Period, PeriodKind
from jtl_automator.store import KpiRecord

# Datasets: the state database's (orders, lines, journal, checks, plans) ...
ORDERS = "orders"  # orders placed in the period, with their lines' sums
SKU_SALES = "sku_sales"  # per SKU sold in the period
TROUBLED = "troubled"  # order numbers of the period with a held or failed journal entry
DEMAND = "demand"  # units per SKU and warehouse in the cover window, last sale in the dead-stock window
FULFILMENT = "fulfilment"  # orders whose outbound was created or that shipped in the period
OPEN_ORDERS = "open_orders"  # orders not shipped or cancelled, now
INBOUND_CHECKS = "inbound_checks"  # the inbound verification's recent results
RESTOCK = "restock"  # lines of the current week's restock plans
# ... the APIs' ...
STOCK = "stock"  # FFN stock per SKU and warehouse (at the period's end)
ITEMS = "items"  # Wawi items: name, category, purchase price
FAILED_RUNS = "failed_runs"  # Prefect flow runs that failed or crashed in the period
RETURNS = "returns"  # Wawi return lines dated in the period, matched to the ledger's shipped orders
SHIPPED = "shipped"  # units per SKU of the orders first shipped in the period (the returns' base)
PRICE_CHANGES = "price_changes"  # the prices the pricing flow wrote in the period
SHOP_SYNC = "shop_sync"  # the shop sync check's incidents open now and cleared in the period

DATASETS = (
    ORDERS,
    SKU_SALES,
    TROUBLED,
    DEMAND,
    FULFILMENT,
    OPEN_ORDERS,
    INBOUND_CHECKS,
    RESTOCK,
    STOCK,
    ITEMS,
    FAILED_RUNS,
    RETURNS,
    SHIPPED,
    PRICE_CHANGES,
    SHOP_SYNC,
)
#: Why a source no flow records yet is missing (the text every output shows); none today: a new
#: dataset without a reader goes here until its query exists.
NOT_RECORDED: dict[str, str] = {}


class ReportTargets(BaseModel):
    """Red/amber/green thresholds of the figures that have a target (per deployment in ``params``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_to_outbound_p95_hours: Target = Field(
        default=Target(green=24, red=48, higher_is_better=False),
        description="95th percentile hours from the order to its FFN outbound.",
    )
    outbound_to_shipped_p95_hours: Target = Field(
        default=Target(green=24, red=48, higher_is_better=False),
        description="95th percentile hours from the outbound to its shipping.",
    )
    order_to_shipped_p95_hours: Target = Field(
        default=Target(green=48, red=96, higher_is_better=False),
        description="95th percentile hours from the order to its shipping.",
    )
    held_orders: Target = Field(
        default=Target(green=5, red=25, higher_is_better=False), description="Orders on hold now."
    )
    backlog_orders: Target = Field(
        default=Target(green=0, red=20, higher_is_better=False),
        description="Open orders older than the cut-off.",
    )
    backlog_age_hours: Target = Field(
        default=Target(green=24, red=72, higher_is_better=False), description="Age of one backlog order."
    )
    discrepancy_days_open: Target = Field(
        default=Target(green=2, red=7, higher_is_better=False),
        description="Days an inbound discrepancy has been open.",
    )
    open_discrepancies: Target = Field(
        default=Target(green=0, red=10, higher_is_better=False), description="Open inbound discrepancies."
    )
    stock_outs: Target = Field(
        default=Target(green=0, red=10, higher_is_better=False),
        description="SKU-warehouse rows sold out that sold in the cover window.",
    )
    failed_runs: Target = Field(
        default=Target(green=0, red=2, higher_is_better=False), description="Failed flow runs in the period."
    )
    first_time_right: Target = Field(
        default=Target(green=0.98, red=0.95),
        description="Share of orders that became an outbound without a hold or failure.",
    )
    margin_pct: Target = Field(
        default=Target(green=0.35, red=0.2), description="Margin share of net revenue."
    )
    return_rate: Target = Field(
        default=Target(green=0.05, red=0.1, higher_is_better=False),
        description="Units returned / units shipped in the period.",
    )
    revenue_change: Target = Field(
        default=Target(green=0.0, red=-0.1), description="Net revenue change against the previous period."
    )


class ReportParams(BaseModel):
    """What a merchant tunes per report deployment (``params``); every field has a default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    top_n: int = Field(default=20, ge=1, le=1000, description="SKUs in each top and bottom list.")
    cover_window_days: int = Field(
        default=28, ge=1, le=365, description="Days of orders the days of cover are measured over."
    )
    dead_stock_days: int = Field(
        default=90, ge=7, le=730, description="No sale in this many days: dead stock."
    )
    backlog_cutoff_hours: float = Field(
        default=24, gt=0, description="An open order older than this is backlog."
    )
    trend_periods: int = Field(
        default=12, ge=1, le=104, description="Earlier periods in the trend tables (from the KPI history)."
    )
    inbound_history_days: int = Field(
        default=90, ge=1, description="Days of inbound verification results read for 'missing since'."
    )
    detail_rows: int = Field(
        default=500, ge=1, description="Rows of the long lists (backlog, dead stock) in the outputs."
    )
    artifact_rows: int = Field(default=50, ge=1, description="Rows of each table artifact in the Prefect UI.")
    targets: ReportTargets = Field(default_factory=ReportTargets)


@dataclass
class ReportData:
    """The datasets of one report run, read once: frames by name, or why one is missing."""

    period: Period
    as_of: datetime
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    history: list[KpiRecord] = field(default_factory=list)

    def frame(self, name: str) -> pd.DataFrame | None:
        """The dataset ``name``, or None when it is missing (see :meth:`why`)."""
        return self.frames.get(name)

    def why(self, name: str) -> str:
        """Why ``name`` is missing."""
        return self.missing.get(name) or f"{name} was not read"

    def stored(self, kpi: str, period: str, dimension: str = "") -> KpiRecord | None:
        """The KPI history's figure of ``period`` (None: not kept)."""
        return next(
            (r for r in self.history if r.kpi == kpi and r.period == period and r.dimension == dimension),
            None,
        )


@dataclass(frozen=True)
class ReportDefinition:
    """A report, defined once: its name, period kind, the datasets it reads and how it is built from them.

    ``history`` names the KPIs whose earlier periods the build reads from the KPI history (trends and
    comparisons); the service reads them for ``trend_periods`` periods and last year's.
    """

    name: str
    title: str
    period_kind: PeriodKind
    needs: frozenset[str]
    build: Callable[[ReportData, ReportParams], Report]
    history: tuple[str, ...] = ()
    description: str = ""
    # Reports built section by section (``reports/parts.py``): the sections, and the build from their parts
    # (the same report as ``build``); a cluster runs the sections apart. Empty: built in one piece.
    sections: tuple[Callable[[Report, ReportData, ReportParams], None], ...] = ()
    build_from_parts: Callable[[ReportData, ReportParams, Sequence[Report]], Report] | None = None
