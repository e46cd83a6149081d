"""Replenishment: daily demand per (SKU, warehouse), and what to reorder from which supplier and why.

The rule, in full (see docs/replenishment.md):

1. Demand is the mean and standard deviation of units shipped per day over the history window. A day on
   which the SKU was out of stock in that warehouse and nothing was shipped is *not observed*: it is
   left out of the mean, because a day nobody could buy says nothing about how much they would have.
2. available = stockLevel - reserved - blocked; on order = max(open inbounds' ``quantityOpen``,
   ``stockLevelAnnounced``) (FFN announces an inbound's open units, so the two usually count the same
   goods; the larger is taken, never the sum); position = available + on order.
3. Lead time L: the standard supplier's ``DeliveryTime``, else the item's ``ProcurementTime``, else
   ``default_lead_time_days`` (none: the line is ``no_lead_time``). Review period R (days between runs).
4. safety stock SS = z(service level) * sigma_d * sqrt(L + R); reorder point ROP = d * (L + R) + SS.
5. position <= ROP: order up to S = d * (L + target_cover_days) + SS; quantity = S - position, raised to
   the supplier's ``MinimumPurchaseQuantity`` and rounded up to a multiple of ``PermissibleOrderQuantity``
   and of the packaging unit (``AmountPackagingUnit``).
6. Low stock: available units cover fewer days than the lead time, so they run out before an order
   placed today can arrive.
7. Bad input never stops the batch: a negative or absurd level, no supplier, no lead time, a lead time
   out of range; each is a status with a reason on its own line.

Everything is column arithmetic on whole frames (no per-row Python), so it scales to millions of lines.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from statistics import NormalDist

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

ORDER = "order"
SUFFICIENT = "sufficient"
NO_SUPPLIER = "no_supplier"
NO_LEAD_TIME = "no_lead_time"
INVALID_INPUT = "invalid_input"
_EPS = 1e-9
_KEY = ["merchant_sku", "warehouse_id"]

ORDER_LINES_SCHEMA = pa.DataFrameSchema(
    {
        "merchant_sku": pa.Column("string"),
        "warehouse_id": pa.Column("string"),
        "day": pa.Column("datetime64[us]"),
        "quantity": pa.Column("float64"),
    },
    name="order_lines",
    coerce=True,
)
STOCKOUT_SCHEMA = pa.DataFrameSchema(
    {
        "merchant_sku": pa.Column("string"),
        "warehouse_id": pa.Column("string"),
        "day": pa.Column("datetime64[us]"),
    },
    name="stockout_days",
    coerce=True,
)
DEMAND_SCHEMA = pa.DataFrameSchema(
    {
        "merchant_sku": pa.Column("string"),
        "warehouse_id": pa.Column("string"),
        "units": pa.Column("float64", pa.Check.ge(0)),
        "observed_days": pa.Column("int64", pa.Check.ge(0)),
        "daily_demand": pa.Column("float64", pa.Check.ge(0)),
        "demand_std": pa.Column("float64", pa.Check.ge(0)),
    },
    name="demand",
    coerce=True,
)
STOCK_SCHEMA = pa.DataFrameSchema(
    {
        "merchant_sku": pa.Column("string"),
        "warehouse_id": pa.Column("string"),
        "stock_level": pa.Column("float64", nullable=True),
        "reserved": pa.Column("float64", nullable=True),
        "blocked": pa.Column("float64", nullable=True),
        "announced": pa.Column("float64", nullable=True),
    },
    name="stock",
    coerce=True,
)
ON_ORDER_SCHEMA = pa.DataFrameSchema(
    {
        "merchant_sku": pa.Column("string"),
        "warehouse_id": pa.Column("string"),
        "quantity_open": pa.Column("float64"),
    },
    name="on_order",
    coerce=True,
)
SUPPLIER_SCHEMA = pa.DataFrameSchema(
    {
        "merchant_sku": pa.Column("string", unique=True),
        "supplier_id": pa.Column("Int64", nullable=True),
        "supplier_name": pa.Column("string", nullable=True),
        "delivery_time": pa.Column("float64", nullable=True),
        "procurement_time": pa.Column("float64", nullable=True),
        "minimum_purchase": pa.Column("float64", nullable=True),
        "permissible_quantity": pa.Column("float64", nullable=True),
        "packaging_amount": pa.Column("float64", nullable=True),
    },
    name="suppliers",
    coerce=True,
)
LINE_COLUMNS: dict[str, str] = {
    "supplier_id": "Int64",
    "supplier_name": "string",
    "merchant_sku": "string",
    "warehouse_id": "string",
    "status": "string",
    "reason": "string",
    "low_stock": "bool",
    "daily_demand": "float64",
    "demand_std": "float64",
    "stock_level": "float64",
    "available": "float64",
    "on_order": "float64",
    "lead_time_days": "float64",
    "lead_time_source": "string",
    "cover_days": "float64",
    "safety_stock": "float64",
    "reorder_point": "float64",
    "order_up_to": "float64",
    "order_quantity": "float64",
    "score": "float64",
}
LINES_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(dtype, nullable=dtype != "bool" and name not in ("merchant_sku", "status", "reason"))
        for name, dtype in LINE_COLUMNS.items()
    },
    checks=[
        pa.Check(
            lambda df: ((df["status"] != ORDER) | (df["order_quantity"] > 0)).all(),
            error="an order line without a quantity",
        ),
        pa.Check(
            lambda df: ((df["status"] == ORDER) | df["order_quantity"].isna()).all(),
            error="a quantity on a line that is not ordered",
        ),
    ],
    name="replenishment_lines",
)


#: Frames up to this many rows are validated in full; larger ones by columns, dtypes and nulls on every
#: row, and the schema's value checks on the first :data:`VALIDATION_SAMPLE_ROWS` rows (see
#: docs/replenishment.md: full validation cost more than the transform itself at 5 million lines).
FULL_VALIDATION_ROWS = 100_000
VALIDATION_SAMPLE_ROWS = 10_000


def validate_frame(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """``schema.validate(frame)``, in full for small frames, by sample for the value checks of large ones.

    A large frame is still refused for a missing column, a value that does not coerce to the column's
    dtype, or a null in a column that takes none (every row); only the value checks (``ge(0)``, the
    frame-wide checks) run on a sample of rows.
    """
    if len(frame) <= FULL_VALIDATION_ROWS:
        return schema.validate(frame)
    schema.validate(frame.head(VALIDATION_SAMPLE_ROWS))  # columns, dtypes, checks: the same errors
    wanted = {name: column.dtype.type for name, column in schema.columns.items()}
    changed = {name: dtype for name, dtype in wanted.items() if frame[name].dtype != dtype}
    frame = frame.astype(changed) if changed else frame
    for name, column in schema.columns.items():
        if not column.nullable and frame[name].isna().any():
            return schema.validate(frame)  # the full validation's report of the nulls
        if column.unique and frame[name].duplicated().any():
            return schema.validate(frame)
    return frame


class DemandParams(BaseModel):
    """The history window the demand is measured over (both days included)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date = Field(description="First day of the window.")
    end: date = Field(description="Last day of the window.")

    @model_validator(mode="after")
    def _ordered(self) -> DemandParams:
        if self.end < self.start:
            raise ValueError(f"the window ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def days(self) -> int:
        """Days in the window."""
        return (self.end - self.start).days + 1


class ReplenishmentParams(BaseModel):
    """What the merchant tunes: review period, cover target, service level, defaults and sanity bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    review_period_days: float = Field(default=7, ge=0, description="Days until the next run can order again.")
    target_cover_days: float = Field(
        default=30, gt=0, description="Days of demand an order should cover after it arrives."
    )
    service_level: float = Field(
        default=0.95, gt=0.5, lt=1, description="Chance of no stock-out within one replenishment cycle."
    )
    default_lead_time_days: float | None = Field(
        default=14, gt=0, description="Lead time when neither supplier nor item has one; None: refuse."
    )
    max_lead_time_days: float = Field(default=365, gt=0, description="A longer lead time is refused.")
    max_stock_level: float = Field(default=1_000_000, gt=0, description="A higher level is refused.")

    @property
    def z(self) -> float:
        """The standard-normal quantile of the service level (1.645 at 95 %)."""
        return NormalDist().inv_cdf(self.service_level)


def demand_frame(lines: pd.DataFrame, stockouts: pd.DataFrame, params: DemandParams) -> pd.DataFrame:
    """Units per day per (SKU, warehouse): mean and standard deviation over the observed days.

    A day is observed unless the SKU was out of stock there that day *and* nothing shipped: the days
    without sales and with stock count as zero demand, the days without stock do not count at all.
    Lines outside the window are ignored. Groups with no shipped unit are left out (demand 0).

    Computed on integer codes: SKUs and warehouses are factorised once, a (key, day) cell is one int64,
    the daily sums, their squares and the per-key counts are ``np.bincount``s, and the stock-out days
    only need a count per key (no grid of days).
    """
    lines = validate_frame(ORDER_LINES_SCHEMA, lines)
    stockouts = validate_frame(STOCKOUT_SCHEMA, stockouts)
    start = np.datetime64(params.start.isoformat(), "us")
    n_days = params.days
    one_day = np.timedelta64(1, "D")
    day = lines["day"].to_numpy(dtype="datetime64[us]")
    quantity = lines["quantity"].to_numpy(dtype="float64")
    offset = (day - start) // one_day
    keep = (offset >= 0) & (offset < n_days) & (quantity > 0)
    sku_codes, skus = pd.factorize(lines["merchant_sku"].array[keep])
    wh_codes, warehouses = pd.factorize(lines["warehouse_id"].array[keep])
    n_wh = max(len(warehouses), 1)
    n_keys = len(skus) * n_wh
    key = sku_codes.astype("int64") * n_wh + wh_codes
    cell_codes, cells = pd.factorize(key * n_days + offset[keep])
    daily = np.bincount(cell_codes, weights=quantity[keep], minlength=len(cells))
    cell_key = cells // n_days
    q = np.bincount(cell_key, weights=daily, minlength=n_keys)
    q2 = np.bincount(cell_key, weights=daily * daily, minlength=n_keys)
    sale_days = np.bincount(cell_key, minlength=n_keys)

    out_day = (stockouts["day"].to_numpy(dtype="datetime64[us]") - start) // one_day
    out_sku = pd.Index(skus).get_indexer(stockouts["merchant_sku"].array)
    out_wh = pd.Index(warehouses).get_indexer(stockouts["warehouse_id"].array)
    known = (out_day >= 0) & (out_day < n_days) & (out_sku >= 0) & (out_wh >= 0)
    out_cells = (out_sku[known].astype("int64") * n_wh + out_wh[known]) * n_days + out_day[known]
    # factorising the sale cells first numbers them 0..len(cells)-1 (they are distinct): the uniques after
    # them are the distinct stock-out cells without a sale (a day that shipped something was observed)
    _, both = pd.factorize(np.concatenate([cells, out_cells]))
    out_cells = both[len(cells) :]
    lost = np.bincount(out_cells // n_days, minlength=n_keys)

    present = np.flatnonzero(sale_days)
    sku_of, wh_of = present // n_wh, present % n_wh
    sku_rank = np.argsort(np.argsort(np.asarray(skus, dtype=object), kind="stable"), kind="stable")
    wh_rank = np.argsort(np.argsort(np.asarray(warehouses, dtype=object), kind="stable"), kind="stable")
    order = np.lexsort((wh_rank[wh_of], sku_rank[sku_of]))
    present, sku_of, wh_of = present[order], sku_of[order], wh_of[order]
    n = (n_days - lost[present]).astype("int64")
    total = q[present]
    mean = total / np.maximum(n, 1)
    var = (q2[present] - n * mean * mean) / np.maximum(n - 1, 1)
    out = pd.DataFrame(
        {
            "merchant_sku": pd.array(skus.take(sku_of), dtype="string"),
            "warehouse_id": pd.array(warehouses.take(wh_of), dtype="string"),
            "units": total,
            "observed_days": n,
            "daily_demand": np.where(n > 0, mean, 0.0),
            "demand_std": np.where(n > 1, np.sqrt(np.maximum(var, 0.0)), 0.0),
        }
    )
    return DEMAND_SCHEMA.validate(out)


def _step(permissible: pd.Series, packaging: pd.Series) -> pd.Series:
    """The order increment: a multiple of both the permissible quantity and the packaging unit.

    Whole numbers combine by their least common multiple (2 and 3 -> 6); fractional ones (1.5 kg) by the
    larger, which is the best that can be honoured without a common multiple.
    """
    perm = permissible.where(permissible > _EPS, 1.0).fillna(1.0)
    pack = packaging.where(packaging > _EPS, 1.0).fillna(1.0)
    whole = (perm.round() - perm).abs().lt(_EPS) & (pack.round() - pack).abs().lt(_EPS)
    lcm = np.lcm(perm.round().clip(upper=1e9).astype("int64"), pack.round().clip(upper=1e9).astype("int64"))
    return pd.Series(np.where(whole, lcm.astype("float64"), np.maximum(perm, pack)), index=perm.index)


def round_order_quantity(
    raw: pd.Series, minimum: pd.Series, permissible: pd.Series, packaging: pd.Series
) -> pd.Series:
    """``raw`` raised to the minimum purchase quantity, then up to a multiple of the order increment."""
    step = _step(permissible, packaging)
    wanted = raw.where(raw >= minimum.fillna(0.0), minimum)
    return pd.Series(np.ceil(wanted / step - _EPS) * step, index=raw.index, dtype="float64")


def _texts(value: pd.Series, decimals: int | None = None, missing: str = "<NA>") -> list[str]:
    """``value`` (rounded to ``decimals``) as the text pandas' string dtype gives a float (``str``)."""
    rounded = value.round(decimals) if decimals is not None else value
    return [missing if x != x else str(x) for x in rounded.to_numpy(dtype="float64").tolist()]


def _labelled(prefix: str, values: pd.Series) -> Callable[[np.ndarray], list[str]]:
    """The reasons ``prefix`` + value for the rows at the given positions."""

    def texts(at: np.ndarray) -> list[str]:
        return [prefix + x for x in _texts(values.iloc[at])]

    return texts


def replenishment_lines(
    demand: pd.DataFrame,
    stock: pd.DataFrame,
    on_order: pd.DataFrame,
    suppliers: pd.DataFrame,
    params: ReplenishmentParams,
) -> pd.DataFrame:
    """One line per (SKU, warehouse) that has stock, demand or goods on order, with its decision.

    ``status`` is ``order`` (``order_quantity`` to buy from ``supplier_id``), ``sufficient``, or why no
    order can be proposed (``no_supplier``, ``no_lead_time``, ``invalid_input``); ``reason`` says why in
    words. ``low_stock`` marks lines whose available units run out before a delivery can arrive; ``score``
    is the shortfall below the reorder point in days of demand (larger is more urgent). Sorted by
    supplier, then most urgent first.
    """
    demand = DEMAND_SCHEMA.validate(demand)
    stock = STOCK_SCHEMA.validate(stock)
    on_order = ON_ORDER_SCHEMA.validate(on_order)
    suppliers = SUPPLIER_SCHEMA.validate(suppliers)

    stock = stock.groupby(_KEY, sort=False, observed=True, dropna=False).sum(min_count=1).reset_index()
    inbound = (
        on_order[on_order["quantity_open"] > 0]
        .groupby(_KEY, sort=False, observed=True)["quantity_open"]
        .sum()
        .reset_index()
    )
    frame = stock.merge(demand[[*_KEY, "daily_demand", "demand_std"]], how="outer", on=_KEY)
    frame = frame.merge(inbound, how="outer", on=_KEY).merge(suppliers, how="left", on="merchant_sku")

    d = frame["daily_demand"].fillna(0.0)
    sigma = frame["demand_std"].fillna(0.0)
    level = frame["stock_level"].fillna(0.0)
    reserved = frame["reserved"].fillna(0.0)
    blocked = frame["blocked"].fillna(0.0)
    announced = frame["announced"].fillna(0.0)
    available = (level - reserved - blocked).clip(lower=0)
    ordered = pd.Series(
        np.maximum(frame["quantity_open"].fillna(0.0).to_numpy(), announced.clip(lower=0).to_numpy()),
        index=frame.index,
    )
    position = available + ordered

    lead = frame["delivery_time"].where(frame["delivery_time"] > 0)
    source = pd.Series(pd.NA, index=frame.index, dtype="string").mask(lead.notna(), "supplier")
    procurement = frame["procurement_time"].where(frame["procurement_time"] > 0)
    source = source.mask(lead.isna() & procurement.notna(), "item")
    lead = lead.fillna(procurement)
    if params.default_lead_time_days is not None:
        source = source.mask(lead.isna(), "default")
        lead = lead.fillna(params.default_lead_time_days)

    horizon = lead + params.review_period_days
    safety = params.z * sigma * np.sqrt(horizon)
    rop = d * horizon + safety
    up_to = d * (lead + params.target_cover_days) + safety
    cover = (available / d.where(d > 0)).fillna(np.inf)
    low = (cover < lead).fillna(False).astype("bool")
    needs = (position <= rop) & (d > 0)
    score = ((rop - position) / d.where(d > 0)).clip(lower=0)
    raw = (up_to - position).clip(lower=0)
    quantity = round_order_quantity(
        raw, frame["minimum_purchase"], frame["permissible_quantity"], frame["packaging_amount"]
    )

    # status and reason as object arrays, the reason text by one pass of f-strings: pandas string
    # columns (Python storage) cost several times as much per operation on 300,000 lines
    needs_ = needs.to_numpy(dtype=bool)
    status_ = np.where(needs_, ORDER, SUFFICIENT).astype(object)
    source_ = source.fillna("none").to_numpy(dtype=object)
    reason_ = np.array(
        [
            f"cover {c} d, demand {dd}/d, available {a}, on order {o}, lead time {lt} d ({src})"
            for c, dd, a, o, lt, src in zip(
                _texts(cover, 1, "?"),
                _texts(d, 2),
                _texts(available, 2),
                _texts(ordered, 2),
                _texts(lead, 1, "?"),
                source_,
                strict=True,
            )
        ],
        dtype=object,
    )
    undecided = np.ones(len(status_), dtype=bool)  # still order or sufficient
    at = np.flatnonzero(needs_)
    reason_[at] = [
        f"position below reorder point {r}; {text}"
        for r, text in zip(_texts(rop.iloc[at], 1), reason_[at].tolist(), strict=True)
    ]

    def mark(mask: pd.Series, code: str, text: Callable[[np.ndarray], list[str]] | str) -> None:
        todo = np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool) & undecided)
        if not len(todo):
            return
        status_[todo] = code
        undecided[todo] = False
        reason_[todo] = text if isinstance(text, str) else text(todo)

    for column, field in (
        ("stock_level", "stockLevel"),
        ("reserved", "stockLevelReserved"),
        ("blocked", "stockLevelBlocked"),
        ("announced", "stockLevelAnnounced"),
    ):
        values = frame[column]
        mark(values < 0, INVALID_INPUT, _labelled(f"{field} is negative: ", values))
        mark(
            values > params.max_stock_level,
            INVALID_INPUT,
            _labelled(f"{field} is above the bound of {params.max_stock_level:g}: ", values),
        )
    mark(
        (reserved + blocked) > level + _EPS,
        INVALID_INPUT,
        "reserved and blocked exceed the stock level",
    )
    mark(frame["supplier_id"].isna(), NO_SUPPLIER, "no standard supplier for this item")
    mark(lead.isna(), NO_LEAD_TIME, "no DeliveryTime, no ProcurementTime and no default lead time")
    mark(
        lead > params.max_lead_time_days,
        INVALID_INPUT,
        lambda at: [
            f"lead time {x} d is above the bound of {params.max_lead_time_days:g} d"
            for x in _texts(lead.iloc[at], 1, "?")
        ],
    )
    status = pd.Series(status_, index=frame.index, dtype="string")
    reason = pd.Series(reason_, index=frame.index, dtype="string")
    bad = pd.Series(status_ == INVALID_INPUT, index=frame.index)
    ordering = pd.Series(status_ == ORDER, index=frame.index)
    low = low & ~bad

    out = pd.DataFrame(
        {
            "supplier_id": frame["supplier_id"],
            "supplier_name": frame["supplier_name"],
            "merchant_sku": frame["merchant_sku"],
            "warehouse_id": frame["warehouse_id"],
            "status": status,
            "reason": reason,
            "low_stock": low,
            "daily_demand": d,
            "demand_std": sigma,
            "stock_level": frame["stock_level"],
            "available": available.mask(bad),
            "on_order": ordered.mask(bad),
            "lead_time_days": lead,
            "lead_time_source": source,
            "cover_days": cover.mask(bad),
            "safety_stock": safety,
            "reorder_point": rop,
            "order_up_to": up_to,
            "order_quantity": quantity.where(ordering),
            "score": score.where(ordering),
        }
    ).astype(LINE_COLUMNS)
    out = out.sort_values(
        ["supplier_id", "score", "merchant_sku", "warehouse_id"],
        ascending=[True, False, True, True],
        na_position="last",
        kind="stable",
        ignore_index=True,
    )
    return LINES_SCHEMA.validate(out)


def low_stock_alerts(lines: pd.DataFrame) -> pd.DataFrame:
    """The lines that run out before any delivery can arrive, fewest days of cover first."""
    alerts = lines[lines["low_stock"]]
    return alerts.sort_values(["cover_days", "merchant_sku"], kind="stable", ignore_index=True)
