"""The reports' figures: pure functions of the frames the state database and the APIs gave.

Each input frame has a pandera schema (checked where it is read, ``services/reporting/reads.py``); each
function here is ``f(frame, params)`` without I/O, tested on small literal frames against hand-computed
values and on generated data against an independent computation (``tests/transforms/test_kpis*.py``).

Definitions (docs/reporting.md explains them for the team):

- **Sales** count the orders placed in the period (Berlin days) that became an FFN outbound (they have
  recorded lines) and were not cancelled: revenue net/gross are the sums of their lines' totals after
  discount, AOV is revenue / orders, units the ordered units. Orders on hold or failed are not sales yet.
- **Margin** is net revenue minus cost at the line's purchase price; lines without a purchase price are
  left out of both sides of the margin (and counted in a note).
- **Percentiles** interpolate linearly between the closest ranks (pandas' default).
- **Return rate** is the units on the Wawi returns dated in the period (of orders the ledger knows as
  shipped) / the units of the orders first shipped in the period.
- **Days of cover** are sellable units (FFN stock level - reserved - blocked) / the average units ordered
  per day of the cover window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pandera.pandas as pa

#: The merchant's calendar (as ``jtl_automator.reports.periods``; transforms import no report module).
TIMEZONE = ZoneInfo("Europe/Berlin")

_UTC = "datetime64[us, UTC]"


def _schema(name: str, columns: dict[str, tuple[str, bool]], unique: Sequence[str] | None = None) -> Any:
    return pa.DataFrameSchema(
        {c: pa.Column(dtype, nullable=nullable) for c, (dtype, nullable) in columns.items()},
        name=name,
        unique=list(unique) if unique else None,
        strict=False,
    )


#: One row per ledger order placed in the period (``jtl_automator.store.reporting.orders_in``).
ORDERS_SCHEMA = _schema(
    "report_orders",
    {
        "order_number": ("string", False),
        "order_date": (_UTC, False),
        "status": ("string", False),
        "hold_reason": ("string", True),
        "warehouse_id": ("string", True),
        "lines": ("int64", False),
        "units": ("float64", True),
        "priced_lines": ("int64", False),
        "net": ("float64", True),
        "gross": ("float64", True),
        "costed_lines": ("int64", False),
        "cost": ("float64", True),
    },
    unique=["order_number"],
)
#: One row per SKU sold in the period (``sku_sales``).
SKU_SALES_SCHEMA = _schema(
    "report_sku_sales",
    {
        "sku": ("string", False),
        "orders": ("int64", False),
        "lines": ("int64", False),
        "units": ("float64", True),
        "priced_lines": ("int64", False),
        "net": ("float64", True),
        "gross": ("float64", True),
        "costed_lines": ("int64", False),
        "costed_net": ("float64", True),
        "cost": ("float64", True),
    },
    unique=["sku"],
)
#: Units per SKU and warehouse in the cover window, and the last day with a sale (``demand``).
DEMAND_SCHEMA = _schema(
    "report_demand",
    {
        "sku": ("string", False),
        "warehouse_id": ("string", False),
        "units": ("float64", False),
        "last_sale": ("datetime64[us]", False),
    },
    unique=["sku", "warehouse_id"],
)
#: FFN stock per SKU and warehouse.
STOCK_SCHEMA = _schema(
    "report_stock",
    {
        "sku": ("string", False),
        "warehouse_id": ("string", False),
        "stock_level": ("float64", True),
        "reserved": ("float64", True),
        "blocked": ("float64", True),
    },
)
#: Wawi items: name, first category, purchase price (net).
ITEMS_SCHEMA = _schema(
    "report_items",
    {
        "sku": ("string", False),
        "name": ("string", True),
        "category": ("string", True),
        "purchase_price_net": ("float64", True),
    },
    unique=["sku"],
)
#: Orders whose outbound was created or that shipped in the period (``fulfilment_events``).
FULFILMENT_SCHEMA = _schema(
    "report_fulfilment",
    {
        "order_number": ("string", False),
        "warehouse_id": ("string", True),
        "order_date": (_UTC, True),
        "created_at": (_UTC, True),
        "shipped_at": (_UTC, True),
    },
    unique=["order_number"],
)
#: Orders neither shipped nor cancelled (``open_orders``).
OPEN_ORDERS_SCHEMA = _schema(
    "report_open_orders",
    {
        "order_number": ("string", False),
        "status": ("string", False),
        "hold_reason": ("string", True),
        "warehouse_id": ("string", True),
        "order_date": (_UTC, True),
        "updated_at": (_UTC, False),
    },
    unique=["order_number"],
)
#: The inbound verification's results (``inbound_checks``).
INBOUND_CHECKS_SCHEMA = _schema(
    "report_inbound_checks",
    {
        "id": ("int64", False),
        "run_id": ("string", False),
        "sheet": ("string", False),
        "row_key": ("string", False),
        "sku": ("string", True),
        "inbound_ref": ("string", True),
        "units_expected": ("float64", True),
        "units_received": ("float64", True),
        "status": ("string", False),
        "checked_at": (_UTC, False),
    },
)
#: Lines of the week's restock plans (``restock_lines``).
RESTOCK_SCHEMA = _schema(
    "report_restock",
    {
        "plan_id": ("int64", False),
        "sku": ("string", False),
        "warehouse_id": ("string", False),
        "quantity": ("int64", False),
        "low_stock": ("bool", False),
        "cover_days": ("float64", True),
    },
)
#: Failed or crashed flow runs (read from the Prefect API by the shell).
FAILED_RUNS_SCHEMA = _schema(
    "report_failed_runs",
    {
        "flow": ("string", False),
        "run": ("string", False),
        "state": ("string", False),
        "started": (_UTC, True),
        "ended": (_UTC, True),
        "message": ("string", True),
    },
)
#: One row per Wawi return line dated in the period; ``order_number`` is the ledger's order of it when the
#: ledger knows that order as shipped, else empty (``services/reporting/reads.wawi_returns``).
RETURNS_SCHEMA = _schema(
    "report_returns",
    {
        "return_id": ("int64", False),
        "return_number": ("string", True),
        "return_date": (_UTC, False),
        "sales_order_id": ("Int64", True),
        "order_number": ("string", True),
        "sku": ("string", False),
        "quantity": ("float64", False),
        "reason": ("string", False),
    },
)
#: Units per SKU of the orders first shipped in the period (``shipped_units``).
SHIPPED_SCHEMA = _schema(
    "report_shipped",
    {"sku": ("string", False), "orders": ("int64", False), "units": ("float64", False)},
    unique=["sku"],
)

OUTBOUND_STATUSES = ("outbound_created", "shipped")
CANCELLED = "cancelled"
HELD = "held"
#: Inbound check statuses that are not a discrepancy.
INBOUND_OK = "MATCH"


def berlin_days(moments: pd.Series) -> pd.Series:
    """The Berlin calendar day of each UTC instant, as ``datetime64[us]`` midnights."""
    local: pd.Series = moments.dt.tz_convert(TIMEZONE).dt.tz_localize(None).dt.normalize()
    return local.astype("datetime64[us]")


def _div(numerator: float, denominator: float) -> float | None:
    """Numerator / denominator, None where the denominator is zero or either is not a number."""
    if denominator == 0 or not math.isfinite(denominator) or not math.isfinite(numerator):
        return None
    return numerator / denominator


def _sum(series: pd.Series) -> float:
    return float(series.sum()) if len(series) else 0.0


# --------------------------------------------------------------------------------------------- sales


def sold_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders that count as sales: recorded lines, not cancelled."""
    return orders[(orders["lines"] > 0) & (orders["status"] != CANCELLED)]


@dataclass(frozen=True)
class SalesTotals:
    """The sales of a set of orders, and how much of them is unknown."""

    orders: int
    units: float
    lines: int
    priced_lines: int
    net: float | None
    gross: float | None
    costed_lines: int = 0
    cost: float | None = None
    outbound_orders_without_lines: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def aov_net(self) -> float | None:
        """Net revenue per order."""
        return None if self.net is None else _div(self.net, self.orders)

    @property
    def aov_gross(self) -> float | None:
        """Gross revenue per order."""
        return None if self.gross is None else _div(self.gross, self.orders)

    @property
    def units_per_order(self) -> float | None:
        """Units per order."""
        return _div(self.units, self.orders)


def sales_totals(orders: pd.DataFrame) -> SalesTotals:
    """Revenue, orders, units of the orders placed in the period (see the module docstring).

    Revenue is None when no line of the sold orders carries an amount (lines recorded before amounts
    were kept), and a note says how many lines lack one when only some do.
    """
    sold = sold_orders(orders)
    lines, priced = int(sold["lines"].sum()), int(sold["priced_lines"].sum())
    costed = int(sold["costed_lines"].sum())
    without = int(((orders["lines"] == 0) & orders["status"].isin(OUTBOUND_STATUSES)).sum())
    notes = []
    if without:
        notes.append(
            f"{without} orders became outbounds before order processing recorded their lines: "
            "their sales are not in these figures"
        )
    if 0 < priced < lines:
        notes.append(f"{lines - priced} of {lines} order lines have no amount: revenue counts the others")
    net = _sum(sold["net"].fillna(0.0)) if priced or not lines else None
    gross = _sum(sold["gross"].fillna(0.0)) if priced or not lines else None
    return SalesTotals(
        orders=len(sold),
        units=_sum(sold["units"].fillna(0.0)),
        lines=lines,
        priced_lines=priced,
        net=net,
        gross=gross,
        costed_lines=costed,
        cost=_sum(sold["cost"].fillna(0.0)) if costed else None,
        outbound_orders_without_lines=without,
        notes=notes,
    )


def daily_sales(orders: pd.DataFrame, days: Sequence[date]) -> pd.DataFrame:
    """One row per day of ``days``: orders, units, revenue net and gross, AOV (net) of the sold orders."""
    sold = sold_orders(orders)
    grouped = (
        sold.assign(day=berlin_days(sold["order_date"]))
        .groupby("day")
        .agg(
            orders=("order_number", "size"),
            units=("units", "sum"),
            net=("net", "sum"),
            gross=("gross", "sum"),
        )
    )
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in days], name="day").astype("datetime64[us]")
    frame = grouped.reindex(index, fill_value=0).reset_index()
    frame["orders"] = frame["orders"].astype("int64")
    for column in ("units", "net", "gross"):
        frame[column] = frame[column].astype("float64")
    frame["aov_net"] = (frame["net"] / frame["orders"].where(frame["orders"] > 0)).astype("float64")
    frame["day"] = frame["day"].dt.date
    return frame


def sku_performance(sku_sales: pd.DataFrame, items: pd.DataFrame | None) -> pd.DataFrame:
    """Per SKU sold: name, category, units, revenue net, margin (where costed) and margin share.

    ``margin`` is net - cost over the SKU's lines with a purchase price; ``margin_pct`` divides it by the
    net revenue of those same lines (NaN where no line has a cost).
    """
    columns = ["sku", "orders", "units", "net", "gross", "costed_net", "cost", "lines", "costed_lines"]
    frame = sku_sales[columns].copy()
    if items is not None and len(items):
        frame = frame.merge(items[["sku", "name", "category"]], on="sku", how="left")
    else:
        frame["name"] = pd.Series(pd.NA, index=frame.index, dtype="string")
        frame["category"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    costed = frame["costed_lines"] > 0
    frame["margin"] = (frame["costed_net"] - frame["cost"]).where(costed)
    frame["margin_pct"] = (frame["margin"] / frame["costed_net"].where(frame["costed_net"] != 0)).where(
        costed
    )
    return frame.sort_values(["net", "sku"], ascending=[False, True], kind="stable").reset_index(drop=True)


def top_bottom(performance: pd.DataFrame, by: str, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` SKUs with the highest and the lowest ``by`` (SKUs without a value left out; ties by SKU)."""
    known = performance[performance[by].notna()]
    top = known.sort_values([by, "sku"], ascending=[False, True], kind="stable").head(n)
    bottom = known.sort_values([by, "sku"], ascending=[True, True], kind="stable").head(n)
    return top.reset_index(drop=True), bottom.reset_index(drop=True)


def category_mix(performance: pd.DataFrame) -> pd.DataFrame:
    """Revenue, units, margin and revenue share per category (SKUs without a Wawi category: "(none)")."""
    frame = performance.assign(category=performance["category"].fillna("(none)"))
    mix = (
        frame.groupby("category", sort=False)
        .agg(
            skus=("sku", "size"),
            units=("units", "sum"),
            net=("net", "sum"),
            margin=("margin", lambda s: s.sum(min_count=1)),
        )
        .reset_index()
    )
    total = mix["net"].sum()
    mix["share"] = mix["net"] / total if total else np.nan
    mix["category"] = mix["category"].astype("string")
    return mix.sort_values(["net", "category"], ascending=[False, True], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------- returns


@dataclass(frozen=True)
class ReturnTotals:
    """The period's returned units set against its shipped units, and what was left out."""

    returned_units: float
    returns: int
    shipped_units: float
    rate: float | None
    outside_units: float = 0.0
    outside_returns: int = 0


def counted_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """The return lines the rate counts: of orders the ledger knows as shipped."""
    return returns[returns["order_number"].notna()]


def return_totals(returns: pd.DataFrame, shipped: pd.DataFrame) -> ReturnTotals:
    """Return rate = units returned in the period / units shipped in the period (None: nothing shipped).

    Only returns of orders the ledger knows as shipped count, so both sides cover the same orders; the
    others (another sales channel, shipped before order processing recorded orders) are counted apart.
    """
    counted = counted_returns(returns)
    outside = returns[returns["order_number"].isna()]
    returned, sent = _sum(counted["quantity"]), _sum(shipped["units"])
    return ReturnTotals(
        returned_units=returned,
        returns=int(counted["return_id"].nunique()),
        shipped_units=sent,
        rate=_div(returned, sent),
        outside_units=_sum(outside["quantity"]),
        outside_returns=int(outside["return_id"].nunique()),
    )


def returns_by_reason(returns: pd.DataFrame) -> pd.DataFrame:
    """Per return reason: returns, units and the share of the returned units (counted returns only)."""
    counted = counted_returns(returns)
    frame = (
        counted.groupby("reason", sort=False)
        .agg(returns=("return_id", "nunique"), units=("quantity", "sum"))
        .reset_index()
    )
    total = frame["units"].sum()
    frame["share"] = frame["units"] / total if total else np.nan
    frame["reason"] = frame["reason"].astype("string")
    frame["returns"] = frame["returns"].astype("int64")
    return frame.sort_values(["units", "reason"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def returns_by_sku(
    returns: pd.DataFrame, shipped: pd.DataFrame, items: pd.DataFrame | None, n: int
) -> pd.DataFrame:
    """The ``n`` SKUs with the most returned units: returned, shipped in the period, their ratio, the name.

    A SKU returned but not shipped in the period has no rate of its own (NaN), its units still count.
    """
    counted = counted_returns(returns)
    frame = counted.groupby("sku", sort=False).agg(returned=("quantity", "sum")).reset_index()
    frame = frame.merge(shipped[["sku", "units"]].rename(columns={"units": "shipped"}), on="sku", how="left")
    frame["shipped"] = frame["shipped"].fillna(0.0).astype("float64")
    frame["rate"] = (frame["returned"] / frame["shipped"].where(frame["shipped"] > 0)).astype("float64")
    if items is not None and len(items):
        frame = frame.merge(items[["sku", "name"]], on="sku", how="left")
    else:
        frame["name"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame["sku"] = frame["sku"].astype("string")
    ordered = frame.sort_values(["returned", "sku"], ascending=[False, True], kind="stable").head(n)
    return ordered[["sku", "name", "returned", "shipped", "rate"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------- stock


def sellable(stock: pd.DataFrame) -> pd.Series:
    """FFN's sellable units: stock level - reserved - blocked (missing parts count as 0)."""
    return (
        stock["stock_level"].fillna(0.0) - stock["reserved"].fillna(0.0) - stock["blocked"].fillna(0.0)
    ).astype("float64")


def stock_value(stock: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Per warehouse: SKUs in stock, units (stock level) and their value at the Wawi purchase price (net).

    ``unpriced_skus`` counts SKUs with stock but no purchase price (left out of ``value``).
    """
    frame = stock.merge(items[["sku", "purchase_price_net"]], on="sku", how="left")
    level = frame["stock_level"].fillna(0.0)
    in_stock = level > 0
    priced = frame["purchase_price_net"].notna()
    frame = frame.assign(
        units=level.where(in_stock, 0.0),
        value=(level * frame["purchase_price_net"]).where(in_stock & priced, 0.0),
        skus=in_stock.astype("int64"),
        unpriced_skus=(in_stock & ~priced).astype("int64"),
    )
    result = (
        frame.groupby("warehouse_id", sort=True)[["skus", "units", "value", "unpriced_skus"]]
        .sum()
        .reset_index()
    )
    result["warehouse_id"] = result["warehouse_id"].astype("string")
    return result


#: Days-of-cover buckets: (label, lower bound inclusive, upper bound exclusive).
COVER_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("< 7 days", 0.0, 7.0),
    ("7-14 days", 7.0, 14.0),
    ("14-30 days", 14.0, 30.0),
    ("30-60 days", 30.0, 60.0),
    ("60-90 days", 60.0, 90.0),
    (">= 90 days", 90.0, math.inf),
)
STOCK_OUT = "stock-out"
NO_DEMAND = "no demand"
COVER_ORDER = (STOCK_OUT, *(label for label, _, _ in COVER_BUCKETS), NO_DEMAND)


def cover(stock: pd.DataFrame, demand: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Per SKU and warehouse in FFN's stock: sellable units, units per day, days of cover and its bucket.

    ``stock-out``: nothing sellable (whatever the demand); ``no demand``: stock but no unit ordered in the
    window (cover unbounded).
    """
    frame = stock[["sku", "warehouse_id"]].copy()
    frame["sellable"] = sellable(stock)
    frame = frame.merge(demand[["sku", "warehouse_id", "units"]], on=["sku", "warehouse_id"], how="left")
    frame["per_day"] = frame["units"].fillna(0.0) / window_days
    frame["cover_days"] = (frame["sellable"] / frame["per_day"].where(frame["per_day"] > 0)).astype("float64")
    labels = np.select(
        [frame["sellable"] <= 0, frame["per_day"] <= 0]
        + [(frame["cover_days"] >= lo) & (frame["cover_days"] < hi) for _, lo, hi in COVER_BUCKETS],
        [STOCK_OUT, NO_DEMAND, *(label for label, _, _ in COVER_BUCKETS)],
        default=NO_DEMAND,
    )
    frame["bucket"] = pd.Categorical(labels, categories=COVER_ORDER, ordered=True)
    return frame.drop(columns=["units"])


def cover_distribution(covered: pd.DataFrame) -> pd.DataFrame:
    """How many SKU-warehouse rows (and sellable units) fall into each days-of-cover bucket, every bucket."""
    counts = covered.groupby("bucket", observed=False).agg(
        rows=("sku", "size"), sellable=("sellable", lambda s: s.clip(lower=0).sum())
    )
    frame = counts.reindex(list(COVER_ORDER), fill_value=0).reset_index()
    frame["bucket"] = frame["bucket"].astype("string")
    total = frame["rows"].sum()
    frame["share"] = frame["rows"] / total if total else np.nan
    frame["rows"] = frame["rows"].astype("int64")
    frame["sellable"] = frame["sellable"].astype("float64")
    return frame


def stock_outs(covered: pd.DataFrame) -> pd.DataFrame:
    """SKU-warehouse rows with nothing sellable that sold in the window, most demand first."""
    out = covered[(covered["bucket"] == STOCK_OUT) & (covered["per_day"] > 0)]
    return out.sort_values(["per_day", "sku"], ascending=[False, True], kind="stable").reset_index(drop=True)


def dead_stock(stock: pd.DataFrame, demand: pd.DataFrame, items: pd.DataFrame | None) -> pd.DataFrame:
    """SKU-warehouse rows with stock and no sale in the demand frame's window, highest value first.

    ``demand`` must hold the lines of the whole window (see ``store.reporting.demand``); a row not in
    it had no sale then. ``value`` is the stock level at the purchase price (NaN without one).
    """
    frame = stock[stock["stock_level"].fillna(0.0) > 0][["sku", "warehouse_id", "stock_level"]]
    frame = frame.merge(demand[["sku", "warehouse_id", "last_sale"]], on=["sku", "warehouse_id"], how="left")
    frame = frame[frame["last_sale"].isna()].drop(columns=["last_sale"])
    if items is not None:
        frame = frame.merge(items[["sku", "name", "purchase_price_net"]], on="sku", how="left")
    else:
        frame = frame.assign(name=pd.Series(dtype="string"), purchase_price_net=np.nan)
    frame["value"] = frame["stock_level"] * frame["purchase_price_net"]
    return frame.sort_values(
        ["value", "sku"], ascending=[False, True], kind="stable", na_position="last"
    ).reset_index(drop=True)


# --------------------------------------------------------------------------------------------- operations


def _hours(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return ((later - earlier).dt.total_seconds() / 3600.0).astype("float64")


def fulfilment_times(events: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Per warehouse (and "all"): how long order -> outbound created -> shipped took, median and p95 hours.

    ``order_to_outbound`` over the orders whose outbound was created in ``[start, end)``;
    ``outbound_to_shipped`` and ``order_to_shipped`` over those that shipped then.
    """
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    created = events[(events["created_at"] >= lo) & (events["created_at"] < hi)]
    shipped = events[(events["shipped_at"] >= lo) & (events["shipped_at"] < hi)]
    parts = [
        created.assign(
            measure="order_to_outbound", hours=_hours(created["created_at"], created["order_date"])
        ),
        shipped.assign(
            measure="outbound_to_shipped", hours=_hours(shipped["shipped_at"], shipped["created_at"])
        ),
        shipped.assign(
            measure="order_to_shipped", hours=_hours(shipped["shipped_at"], shipped["order_date"])
        ),
    ]
    frame = pd.concat([p[["warehouse_id", "measure", "hours"]] for p in parts], ignore_index=True)
    frame = frame[frame["hours"].notna()]
    frame["warehouse_id"] = frame["warehouse_id"].fillna("(unknown)").astype("string")
    both = pd.concat([frame, frame.assign(warehouse_id="all")], ignore_index=True)
    stats = both.groupby(["warehouse_id", "measure"]).agg(
        orders=("hours", "size"), median=("hours", "median"), p95=("hours", lambda s: s.quantile(0.95))
    )
    wide = stats.unstack("measure")  # noqa: PD010 - one level of an aggregated index, not a pivot
    measures = ("order_to_outbound", "outbound_to_shipped", "order_to_shipped")
    result = pd.DataFrame(index=wide.index if len(wide) else pd.Index(["all"], name="warehouse_id"))
    for measure in measures:
        for stat in ("orders", "median", "p95"):
            column = (stat, measure)
            values = wide[column] if column in wide.columns else pd.Series(np.nan, index=result.index)
            result[f"{measure}_{stat}"] = values.reindex(result.index)
    for measure in measures:
        result[f"{measure}_orders"] = result[f"{measure}_orders"].fillna(0).astype("int64")
    result = result.reset_index()
    result["warehouse_id"] = result["warehouse_id"].astype("string")
    order = result["warehouse_id"].eq("all").astype(int)  # warehouses first, "all" last
    return (
        result.assign(_o=order)
        .sort_values(["_o", "warehouse_id"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


#: Age buckets of held orders: (label, lower bound in days inclusive, upper exclusive).
AGE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("< 1 day", 0.0, 1.0),
    ("1-3 days", 1.0, 3.0),
    ("3-7 days", 3.0, 7.0),
    ("> 7 days", 7.0, math.inf),
)


def hold_reason_code(reason: pd.Series) -> pd.Series:
    """The reason's code (``ADDRESS_INVALID: street missing`` -> ``ADDRESS_INVALID``); "(none)" if empty."""
    code = reason.fillna("").astype("string").str.split(":", n=1).str[0].str.strip()
    return code.mask(code == "", "(none)").astype("string")


def holds_by_reason(open_orders: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Held orders per reason code, split by the order's age: one column per age bucket and a total."""
    held = open_orders[open_orders["status"] == HELD]
    age = (pd.Timestamp(as_of) - held["order_date"]).dt.total_seconds() / 86400.0
    labels = [label for label, _, _ in AGE_BUCKETS]
    bucket = pd.Series(
        np.select([(age >= lo) & (age < hi) for _, lo, hi in AGE_BUCKETS], labels, default=labels[0]),
        index=held.index,
    )
    frame = pd.DataFrame({"reason": hold_reason_code(held["hold_reason"]), "age": bucket})
    table = pd.crosstab(frame["reason"], frame["age"]).reindex(columns=labels, fill_value=0)
    table = table.astype("int64")
    table["total"] = table.sum(axis=1)
    table = table.reset_index().rename_axis(columns=None)
    table["reason"] = table["reason"].astype("string")
    return table.sort_values(["total", "reason"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def backlog(open_orders: pd.DataFrame, as_of: datetime, cutoff_hours: float) -> pd.DataFrame:
    """Open orders placed more than ``cutoff_hours`` before ``as_of``: where each is stuck and for how long.

    ``stage``: ``not an outbound yet`` (imported, held, failed …) or ``outbound not shipped``.
    """
    cutoff = pd.Timestamp(as_of) - pd.Timedelta(hours=cutoff_hours)
    late = open_orders[open_orders["order_date"].notna() & (open_orders["order_date"] < cutoff)]
    stage = np.where(late["status"] == "outbound_created", "outbound not shipped", "not an outbound yet")
    frame = late.assign(
        stage=pd.Series(stage, index=late.index, dtype="string"),
        age_hours=_hours(pd.Series(pd.Timestamp(as_of), index=late.index), late["order_date"]),
    )
    columns = ["order_number", "stage", "status", "hold_reason", "warehouse_id", "order_date", "age_hours"]
    return (
        frame[columns]
        .sort_values(["age_hours", "order_number"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )


def flow_counts(orders: pd.DataFrame, events: pd.DataFrame, start: datetime, end: datetime) -> dict[str, int]:
    """Orders placed, outbounds created and orders shipped in ``[start, end)``."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    placed = orders[(orders["order_date"] >= lo) & (orders["order_date"] < hi)]
    return {
        "orders_in": len(placed),
        "outbounds_created": int(((events["created_at"] >= lo) & (events["created_at"] < hi)).sum()),
        "shipped": int(((events["shipped_at"] >= lo) & (events["shipped_at"] < hi)).sum()),
    }


def first_time_right(orders: pd.DataFrame, troubled: pd.Series) -> tuple[float | None, int, int]:
    """Share of the period's decided orders that became an outbound without ever being held or failing.

    Decided: an outbound was created, or the order is held or failed now. ``troubled``: order numbers with
    a ``held`` or ``failed`` journal entry. Returns (share, clean orders, decided orders).
    """
    outbound = orders["status"].isin(OUTBOUND_STATUSES)
    decided = outbound | orders["status"].isin((HELD, "failed"))
    clean = outbound & ~orders["order_number"].isin(troubled)
    n_decided, n_clean = int(decided.sum()), int(clean.sum())
    return _div(n_clean, n_decided), n_clean, n_decided


def open_discrepancies(checks: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """The rows of each sheet's latest inbound verification whose status is not MATCH, oldest first.

    ``missing_since``: when the row's current run of non-MATCH results began (its first check if it was
    never MATCH); ``days_open`` from then to ``as_of``.
    """
    if checks.empty:
        return pd.DataFrame(
            {
                "sheet": pd.Series(dtype="string"),
                "sku": pd.Series(dtype="string"),
                "inbound_ref": pd.Series(dtype="string"),
                "status": pd.Series(dtype="string"),
                "units_expected": pd.Series(dtype="float64"),
                "units_received": pd.Series(dtype="float64"),
                "missing_since": pd.Series(dtype=_UTC),
                "days_open": pd.Series(dtype="float64"),
            }
        )
    ordered = checks.sort_values(["checked_at", "id"], kind="stable")
    latest_run = ordered.groupby("sheet")["run_id"].last()
    last = ordered.groupby(["sheet", "row_key"], sort=False).tail(1)
    last = last[last["run_id"].to_numpy() == latest_run.reindex(last["sheet"]).to_numpy()]
    open_rows = last[last["status"] != INBOUND_OK]
    # the start of the current non-MATCH streak: the first check after the row's last MATCH
    ok = ordered[ordered["status"] == INBOUND_OK].groupby(["sheet", "row_key"])["checked_at"].max()
    history = ordered.merge(ok.rename("last_ok").reset_index(), on=["sheet", "row_key"], how="left")
    after_ok = history[history["last_ok"].isna() | (history["checked_at"] > history["last_ok"])]
    since = after_ok.groupby(["sheet", "row_key"])["checked_at"].min().rename("missing_since").reset_index()
    frame = open_rows.merge(since, on=["sheet", "row_key"], how="left")
    frame["days_open"] = ((pd.Timestamp(as_of) - frame["missing_since"]).dt.total_seconds() / 86400.0).astype(
        "float64"
    )
    columns = [
        "sheet",
        "sku",
        "inbound_ref",
        "status",
        "units_expected",
        "units_received",
        "missing_since",
        "days_open",
    ]
    result: pd.DataFrame = frame[columns].sort_values(["missing_since", "sku"], kind="stable")
    return result.reset_index(drop=True)


def reorder_summary(restock: pd.DataFrame) -> dict[str, int]:
    """Lines of the week's restock plans: below the reorder point (every line) and low stock among them."""
    return {"below_reorder_point": len(restock), "low_stock": int(restock["low_stock"].sum())}


def days_between(first: date, last: date) -> int:
    """Days from ``first`` to ``last`` inclusive."""
    return (last - first).days + 1


def window_start(end: date, days: int) -> date:
    """The first day of the ``days`` days ending with ``end``."""
    return end - timedelta(days=days - 1)
