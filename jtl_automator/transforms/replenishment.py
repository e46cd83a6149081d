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

from collections.abc import Callable, Sequence
from datetime import date
from statistics import NormalDist

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.transforms.validation import validate_frame

ORDER = "order"
SUFFICIENT = "sufficient"
NO_SUPPLIER = "no_supplier"
NO_LEAD_TIME = "no_lead_time"
INVALID_INPUT = "invalid_input"
_EPS = 1e-9
#: The reason of a line that needs nothing (the figures are spelt out only on the lines a person reads).
ABOVE_REORDER_POINT = "position above the reorder point"

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
        # categorical: the demand's keys come out of the lines' factorisation, and the plan lines join on
        # the codes instead of hashing 250,000 strings again
        "merchant_sku": pa.Column("category"),
        "warehouse_id": pa.Column("category"),
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


#: Rows whose labels are hashed the usual way before the rest are looked up among them (see ``_codes``).
LABEL_PREFIX_ROWS = 262_144


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and their labels (code -1 for a null): a categorical's own, else by lookup.

    Labels recur (100,000 SKUs on 5,000,000 lines): the labels of the first rows are factorised, every
    row is then looked up among them (an ``Index`` lookup hashes by Python's cached string hash, about
    twice as fast as ``factorize``'s re-hash of each string's bytes), and only the rows not found are
    factorised. Codes number the labels in order of first appearance in prefix, then the rest.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype="int64"), pd.Index(values.cat.categories, dtype=object)
    rows = values.array
    _, first = pd.factorize(rows[:LABEL_PREFIX_ROWS])
    labels = pd.Index(np.asarray(first, dtype=object), dtype=object)
    codes = labels.get_indexer(rows).astype("int64", copy=False)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        rest_codes, rest = pd.factorize(rows[missing])
        found = rest_codes >= 0  # still -1: a null
        codes[missing[found]] = rest_codes[found] + len(labels)
        labels = labels.append(pd.Index(np.asarray(rest, dtype=object), dtype=object))
    return codes, labels


def _ranks(labels: pd.Index) -> np.ndarray:
    """Each label's position in sorted order (for sorting rows by label without comparing strings again)."""
    order = np.argsort(labels.to_numpy(dtype=object), kind="stable")
    ranks = np.empty(len(order), dtype="int64")
    ranks[order] = np.arange(len(order))
    return ranks


def demand_frame(lines: pd.DataFrame, stockouts: pd.DataFrame, params: DemandParams) -> pd.DataFrame:
    """Units per day per (SKU, warehouse): mean and standard deviation over the observed days.

    A day is observed unless the SKU was out of stock there that day *and* nothing shipped: the days
    without sales and with stock count as zero demand, the days without stock do not count at all.
    Lines outside the window are ignored. Groups with no shipped unit are left out (demand 0).

    Computed on integer codes: SKUs and warehouses are factorised once, a (key, day) cell is one integer,
    the daily sums, their squares and the per-key counts are ``np.bincount``s, and the stock-out days
    only need a count per key (no grid of days).
    """
    if not {"merchant_sku", "warehouse_id"} <= set(lines.columns):
        ORDER_LINES_SCHEMA.validate(lines)  # its report of the missing column
    sku_codes, skus = _codes(lines["merchant_sku"])
    wh_codes, warehouses = _codes(lines["warehouse_id"])
    null_free = [
        name
        for name, codes in (("merchant_sku", sku_codes), ("warehouse_id", wh_codes))
        if codes.min(initial=0) >= 0
    ]
    lines = validate_frame(ORDER_LINES_SCHEMA, lines, null_free=null_free)
    stockouts = validate_frame(STOCKOUT_SCHEMA, stockouts)
    start = np.datetime64(params.start.isoformat(), "us")
    n_days = params.days
    one_day = np.timedelta64(1, "D")
    offset = (lines["day"].to_numpy(dtype="datetime64[us]") - start) // one_day
    quantity = lines["quantity"].to_numpy(dtype="float64")
    keep = (offset >= 0) & (offset < n_days) & (quantity > 0)
    n_wh = max(len(warehouses), 1)
    n_keys = len(skus) * n_wh
    # a cell number fits 32 bits for any real catalogue and year: hashing int32 is a third cheaper
    cell_type = "int32" if n_keys * n_days < 2**31 else "int64"
    key = sku_codes[keep] * n_wh + wh_codes[keep]
    cell_codes, cells = pd.factorize((key * n_days + offset[keep]).astype(cell_type))
    cells = cells.astype("int64")
    daily = np.bincount(cell_codes, weights=quantity[keep], minlength=len(cells))
    cell_key = cells // n_days
    q = np.bincount(cell_key, weights=daily, minlength=n_keys)
    q2 = np.bincount(cell_key, weights=daily * daily, minlength=n_keys)
    sale_days = np.bincount(cell_key, minlength=n_keys)

    out_day = (stockouts["day"].to_numpy(dtype="datetime64[us]") - start) // one_day
    out_sku_codes, out_skus = _codes(stockouts["merchant_sku"])
    out_wh_codes, out_whs = _codes(stockouts["warehouse_id"])
    out_sku = skus.get_indexer(out_skus)[out_sku_codes] if len(out_skus) else out_sku_codes
    out_wh = warehouses.get_indexer(out_whs)[out_wh_codes] if len(out_whs) else out_wh_codes
    known = (out_day >= 0) & (out_day < n_days) & (out_sku >= 0) & (out_wh >= 0)
    out_cells = (out_sku[known] * n_wh + out_wh[known]) * n_days + out_day[known]
    # only the sale cells of keys that had a stock-out can meet one: factorising those first numbers them
    # 0..k-1 (they are distinct), so the uniques after them are the distinct stock-out cells without a
    # sale (a day that shipped something was observed)
    had_out = np.zeros(n_keys, dtype=bool)
    had_out[out_cells // n_days] = True
    near = cells[had_out[cell_key]]
    _, both = pd.factorize(np.concatenate([near, out_cells]))
    out_cells = both[len(near) :]
    lost = np.bincount(out_cells // n_days, minlength=n_keys)

    present = np.flatnonzero(sale_days)
    sku_of, wh_of = present // n_wh, present % n_wh
    order = np.lexsort((_ranks(warehouses)[wh_of], _ranks(skus)[sku_of]))
    present, sku_of, wh_of = present[order], sku_of[order], wh_of[order]
    n = (n_days - lost[present]).astype("int64")
    total = q[present]
    mean = total / np.maximum(n, 1)
    var = (q2[present] - n * mean * mean) / np.maximum(n - 1, 1)
    out = pd.DataFrame(
        {
            "merchant_sku": pd.Categorical.from_codes(sku_of, categories=skus),
            "warehouse_id": pd.Categorical.from_codes(wh_of, categories=warehouses),
            "units": total,
            "observed_days": n,
            "daily_demand": np.where(n > 0, mean, 0.0),
            "demand_std": np.where(n > 1, np.sqrt(np.maximum(var, 0.0)), 0.0),
        }
    )
    return validate_frame(DEMAND_SCHEMA, out)


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


class _Keys:
    """One integer per (SKU, warehouse) across the input frames: SKUs and warehouses factorised once each.

    Joining frames on these integers (a mask over the dense keys + ``searchsorted``) instead of ``merge``
    on string columns is what keeps a 300,000-line run a fraction of a second.
    """

    def __init__(self, frames: Sequence[pd.DataFrame], sku_only: Sequence[pd.DataFrame] = ()) -> None:
        self._sku_codes, self.skus = _shared_codes([_codes(f["merchant_sku"]) for f in (*frames, *sku_only)])
        self._wh_codes, self.warehouses = _shared_codes([_codes(f["warehouse_id"]) for f in frames])
        self.n_wh = max(len(self.warehouses), 1)

    def of(self, position: int) -> np.ndarray:
        """The keys of the rows of the ``position``-th frame given with warehouses."""
        keys: np.ndarray = self._sku_codes[position] * self.n_wh + self._wh_codes[position]
        return keys

    def sku_codes(self, position: int) -> np.ndarray:
        """The SKU codes of the rows of the ``position``-th frame overall (``sku_only`` frames last)."""
        return self._sku_codes[position]


def _shared_codes(parts: Sequence[tuple[np.ndarray, pd.Index]]) -> tuple[list[np.ndarray], pd.Index]:
    """The codes of several factorisations renumbered against one set of labels.

    Only the distinct labels are hashed again (one pass over their concatenation), never the rows.
    Rows must have no null (code -1): the frames are validated before.
    """
    labels = [part_labels.to_numpy(dtype=object) for _, part_labels in parts]
    if not labels:
        return [], pd.Index([], dtype=object)
    joint, uniques = pd.factorize(np.concatenate(labels))
    renumbered: list[np.ndarray] = []
    start = 0
    for (codes, _), part_labels in zip(parts, labels, strict=True):
        renumbered.append(joint[start : start + len(part_labels)].astype("int64")[codes])
        start += len(part_labels)
    return renumbered, pd.Index(np.asarray(uniques, dtype=object), dtype=object)


def _spread(values: pd.Series | np.ndarray, at: np.ndarray, size: int) -> np.ndarray:
    """A float array of ``size`` NaNs with ``values`` written at the positions ``at``."""
    out = np.full(size, np.nan)
    out[at] = np.asarray(values, dtype="float64")
    return out


def _take(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """``column``'s values at ``rows``; -1 is a missing value of the column's own kind."""
    return pd.Series(pd.api.extensions.take(column.array, rows, allow_fill=True))


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
    demand = validate_frame(DEMAND_SCHEMA, demand)
    stock = validate_frame(STOCK_SCHEMA, stock)
    on_order = validate_frame(ON_ORDER_SCHEMA, on_order)
    suppliers = validate_frame(SUPPLIER_SCHEMA, suppliers)
    on_order = on_order[on_order["quantity_open"].to_numpy() > 0]

    keys = _Keys([stock, demand, on_order], sku_only=[suppliers])
    stock_keys, demand_keys, inbound_keys = keys.of(0), keys.of(1), keys.of(2)
    seen = np.zeros(len(keys.skus) * keys.n_wh, dtype=bool)  # keys are dense: a mask sorts them in O(n)
    for part in (stock_keys, demand_keys, inbound_keys):
        seen[part] = True
    all_keys = np.flatnonzero(seen)
    size = len(all_keys)
    # several stock rows of one (SKU, warehouse) add up; all missing stays missing (min_count=1)
    levels = stock[["stock_level", "reserved", "blocked", "announced"]].groupby(stock_keys, sort=False)
    summed = levels.sum(min_count=1)
    at_stock = np.searchsorted(all_keys, summed.index.to_numpy(dtype="int64"))
    at_demand = np.searchsorted(all_keys, demand_keys)
    open_units = np.bincount(
        np.searchsorted(all_keys, inbound_keys),
        weights=on_order["quantity_open"].to_numpy(dtype="float64"),
        minlength=size,
    )
    supplier_row = np.full(len(keys.skus), -1, dtype="int64")
    supplier_row[keys.sku_codes(3)] = np.arange(len(suppliers))
    row = supplier_row[all_keys // keys.n_wh]
    frame = pd.DataFrame(
        {
            **{name: _spread(summed[name], at_stock, size) for name in summed.columns},
            "daily_demand": _spread(demand["daily_demand"], at_demand, size),
            "demand_std": _spread(demand["demand_std"], at_demand, size),
            "quantity_open": open_units,
            **{name: _take(suppliers[name], row) for name in suppliers.columns if name != "merchant_sku"},
        }
    )

    d = frame["daily_demand"].fillna(0.0)
    sigma = frame["demand_std"].fillna(0.0)
    level = frame["stock_level"].fillna(0.0)
    reserved = frame["reserved"].fillna(0.0)
    blocked = frame["blocked"].fillna(0.0)
    announced = frame["announced"].fillna(0.0)
    available = (level - reserved - blocked).clip(lower=0)
    ordered = pd.Series(
        np.maximum(frame["quantity_open"].to_numpy(), announced.clip(lower=0).to_numpy()),
        index=frame.index,
    )
    position = available + ordered

    lead = frame["delivery_time"].where(frame["delivery_time"] > 0)
    source_ = np.full(size, "none", dtype=object)
    source_[lead.notna().to_numpy()] = "supplier"
    procurement = frame["procurement_time"].where(frame["procurement_time"] > 0)
    source_[(lead.isna() & procurement.notna()).to_numpy()] = "item"
    lead = lead.fillna(procurement)
    if params.default_lead_time_days is not None:
        source_[lead.isna().to_numpy()] = "default"
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

    # status and reason as object arrays: pandas string columns (Python storage) cost several times as
    # much per operation on 300,000 lines
    needs_ = needs.to_numpy(dtype=bool)
    status_ = np.where(needs_, ORDER, SUFFICIENT).astype(object)
    reason_ = np.full(size, ABOVE_REORDER_POINT, dtype=object)
    undecided = np.ones(size, dtype=bool)  # still order or sufficient

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
    bad_ = status_ == INVALID_INPUT
    low = low & ~bad_
    # the figures in words, for the lines a person reads: orders and low stock (their reason is the numbers)
    told = np.flatnonzero(undecided & (needs_ | low.to_numpy(dtype=bool)))
    figures = [
        f"cover {c} d, demand {dd}/d, available {a}, on order {o}, lead time {lt} d ({src})"
        for c, dd, a, o, lt, src in zip(
            _texts(cover.iloc[told], 1, "?"),
            _texts(d.iloc[told], 2),
            _texts(available.iloc[told], 2),
            _texts(ordered.iloc[told], 2),
            _texts(lead.iloc[told], 1, "?"),
            source_[told].tolist(),
            strict=True,
        )
    ]
    reorder = _texts(rop.iloc[told], 1)
    reason_[told] = [
        f"position below reorder point {r}; {text}" if needs_[i] else text
        for i, r, text in zip(told.tolist(), reorder, figures, strict=True)
    ]
    ordering = status_ == ORDER
    out = pd.DataFrame(
        {
            "supplier_id": frame["supplier_id"],
            "supplier_name": frame["supplier_name"],
            "merchant_sku": pd.array(keys.skus.to_numpy()[all_keys // keys.n_wh], dtype="string"),
            "warehouse_id": pd.array(keys.warehouses.to_numpy()[all_keys % keys.n_wh], dtype="string"),
            "status": pd.array(status_, dtype="string"),
            "reason": pd.array(reason_, dtype="string"),
            "low_stock": low,
            "daily_demand": d,
            "demand_std": sigma,
            "stock_level": frame["stock_level"],
            "available": available.mask(bad_),
            "on_order": ordered.mask(bad_),
            "lead_time_days": lead,
            "lead_time_source": pd.Series(source_, dtype="string").mask(source_ == "none"),
            "cover_days": cover.mask(bad_),
            "safety_stock": safety,
            "reorder_point": rop,
            "order_up_to": up_to,
            "order_quantity": quantity.where(ordering),
            "score": score.where(ordering),
        }
    ).astype(LINE_COLUMNS)
    # supplier (none last), most urgent first (no score last), then SKU and warehouse: one lexsort on
    # numbers and label ranks instead of sorting string columns
    supplier = frame["supplier_id"].astype("float64").fillna(np.inf).to_numpy()
    urgency = (-out["score"]).fillna(np.inf).to_numpy()
    order = np.lexsort(
        (
            _ranks(keys.warehouses)[all_keys % keys.n_wh],
            _ranks(keys.skus)[all_keys // keys.n_wh],
            urgency,
            supplier,
        )
    )
    out = out.take(order).reset_index(drop=True)
    return validate_frame(LINES_SCHEMA, out)


def low_stock_alerts(lines: pd.DataFrame) -> pd.DataFrame:
    """The lines that run out before any delivery can arrive, fewest days of cover first."""
    alerts = lines[lines["low_stock"]]
    return alerts.sort_values(["cover_days", "merchant_sku"], kind="stable", ignore_index=True)
