"""The heavy transforms in SKU partitions, with the same result as one run over the whole frames.

A cluster (``tasks/cluster.py``: prefect-dask's task runner) runs the *unchanged* transform on each part;
this module only splits the inputs and puts the parts' results together again. Why the result is the
same, to the bit:

- Every figure of replenishment and of the inbound reconciliation is computed per SKU (per SKU and
  warehouse, per sheet row): nothing adds values of two different SKUs. So the inputs are split by a
  stable hash of the SKU (``pandas.util.hash_array``: the same number in every process, unlike Python's
  salted ``hash``), and every row a figure needs lands in the figure's part.
- Rows are taken in their original order (a stable split), so each per-SKU sum adds the same floats in
  the same order as the whole-frame run: not just close, equal.
- The whole-frame result's row order is a total order on columns of the result (replenishment: supplier,
  urgency, SKU, warehouse; reconciliation: the sheet's row order), restored after the parts are joined.

Where a transform looks at something across SKUs, the parts carry it whole: the reconciliation reads each
inbound's status, warehouse and merchant number from the inbound's first item, and the stock mode's
"unknown warehouse" check knows every warehouse of the stock list; each part gets those rows too (they
add nothing to any of its own SKUs' sums). The report aggregations are not split by SKU: their totals add
values across SKUs, and a float sum taken in parts rounds differently; they are split by section instead
(``jtl_automator/reports/parts.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jtl_automator.transforms.inbound import ReconcileParams, reconcile
from jtl_automator.transforms.replenishment import (
    DemandParams,
    ReplenishmentParams,
    _codes,
    _ranks,
    demand_frame,
    replenishment_lines,
)

#: More parts than this would make each too small to be worth sending (and the split keys are uint16).
MAX_PARTS = 4096


def _text(value: object, strip: bool) -> str:
    """A label as the text it is compared by (missing values as the empty string)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    return text.strip() if strip else text


def part_of_labels(labels: Sequence[object] | np.ndarray, parts: int, *, strip: bool = False) -> np.ndarray:
    """The part (0..parts-1) of each label: a stable hash of its text, the same in every process."""
    if not 1 <= parts <= MAX_PARTS:
        raise ValueError(f"parts must be between 1 and {MAX_PARTS}, not {parts}")
    texts = np.array([_text(x, strip) for x in labels], dtype=object)
    if not len(texts):
        return np.zeros(0, dtype=np.uint16)
    return (pd.util.hash_array(texts, categorize=False) % np.uint64(parts)).astype(np.uint16)


def part_of_rows(column: pd.Series, parts: int, *, strip: bool = False) -> np.ndarray:
    """The part of each row of ``column``, hashing each distinct label once (nulls go to part 0)."""
    codes, labels = _codes(column)
    per_label = part_of_labels(labels.to_numpy(dtype=object), parts, strip=strip)
    out = np.zeros(len(codes), dtype=np.uint16)
    known = codes >= 0
    out[known] = per_label[codes[known]]
    return out


def split_rows(part: np.ndarray, parts: int) -> list[np.ndarray]:
    """The row positions of each part, each in the frame's own order (a stable counting sort)."""
    order = np.argsort(part, kind="stable")  # radix sort on 16-bit keys: linear
    bounds = np.searchsorted(part[order], np.arange(parts + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(parts)]


def _join(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The parts one under the other (empty parts left out, so no dtype is guessed from them)."""
    full = [f for f in frames if len(f)]
    if not full:
        return frames[0].iloc[0:0].reset_index(drop=True)
    return pd.concat(full, ignore_index=True)


# --------------------------------------------------------------------------------------- replenishment


@dataclass(frozen=True)
class ReplenishmentPart:
    """The inputs of replenishment for the SKUs of one part (frames keep their original index)."""

    order_lines: pd.DataFrame
    stockouts: pd.DataFrame
    stock: pd.DataFrame
    on_order: pd.DataFrame
    suppliers: pd.DataFrame
    window: DemandParams
    params: ReplenishmentParams

    @property
    def rows(self) -> int:
        """Input rows in this part (the size of its work)."""
        return len(self.order_lines) + len(self.stock) + len(self.on_order)


def split_replenishment(
    order_lines: pd.DataFrame,
    stockouts: pd.DataFrame,
    stock: pd.DataFrame,
    on_order: pd.DataFrame,
    suppliers: pd.DataFrame,
    window: DemandParams,
    params: ReplenishmentParams,
    parts: int,
) -> list[ReplenishmentPart]:
    """The inputs split by SKU into at most ``parts`` parts; parts with no line, stock or order left out."""
    frames = (order_lines, stockouts, stock, on_order, suppliers)
    if parts == 1:
        return [ReplenishmentPart(*frames, window, params)]
    positions = [split_rows(part_of_rows(f["merchant_sku"], parts), parts) for f in frames]
    out = []
    for i in range(parts):
        lines, outs, stock_i, ordered, supplied = (
            f.take(rows[i]) for f, rows in zip(frames, positions, strict=True)
        )
        out.append(ReplenishmentPart(lines, outs, stock_i, ordered, supplied, window, params))
    kept = [p for p in out if p.rows]
    return kept or out[:1]


def replenishment_part_lines(part: ReplenishmentPart) -> pd.DataFrame:
    """Demand, then one decision per (SKU, warehouse), for one part (what a cluster worker runs)."""
    demand = demand_frame(part.order_lines, part.stockouts, part.window)
    return replenishment_lines(demand, part.stock, part.on_order, part.suppliers, part.params)


def join_replenishment_lines(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The parts' lines in the whole run's order: supplier (none last), most urgent first, SKU, warehouse.

    The same sort keys as ``replenishment_lines``; a SKU and warehouse is on one line only, so the order
    is total and the joined frame equals the whole-frame result row for row.
    """
    if len(parts) == 1:
        return parts[0]
    frame = _join(parts)
    if not len(frame):
        return frame
    sku_codes, skus = _codes(frame["merchant_sku"])
    wh_codes, warehouses = _codes(frame["warehouse_id"])
    supplier = frame["supplier_id"].astype("float64").fillna(np.inf).to_numpy()
    urgency = (-frame["score"]).fillna(np.inf).to_numpy()
    order = np.lexsort((_ranks(warehouses)[wh_codes], _ranks(skus)[sku_codes], urgency, supplier))
    return frame.take(order).reset_index(drop=True)


# ----------------------------------------------------------------------------------- reconciliation


@dataclass(frozen=True)
class InboundPart:
    """The reconciliation's inputs for the SKUs of one part."""

    sheet: pd.DataFrame
    products: pd.DataFrame
    inbound_items: pd.DataFrame | None
    stocks: pd.DataFrame | None
    params: ReconcileParams


def _jfsku_parts(products: pd.DataFrame, product_part: np.ndarray) -> dict[str, int]:
    """Each product jfsku's part; -1 for a jfsku of products in two parts (it goes to every part)."""
    jfskus = [_text(x, strip=False) for x in products["jfsku"].to_numpy(dtype=object)]
    found: dict[str, int] = {}
    for jfsku, part in zip(jfskus, product_part.tolist(), strict=True):
        if found.setdefault(jfsku, part) != part:
            found[jfsku] = -1
    return found


def _by_jfsku(values: np.ndarray, parts_of: dict[str, int], as_text: bool) -> np.ndarray:
    """The part of each row by its jfsku; -1 (every part) for the empty jfsku and one no product has."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    labels = [str(u) if as_text else u for u in uniques]
    per_label = np.array(
        [parts_of.get(x, -1) if isinstance(x, str) and x != "" else -1 for x in labels], dtype=np.int64
    )
    return per_label[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def _first_rows(keys: np.ndarray) -> np.ndarray:
    """Whether each row is the first of its key (of its inbound, of its warehouse)."""
    codes, _ = pd.factorize(keys, use_na_sentinel=False)
    first = np.zeros(len(codes), dtype=bool)
    if len(codes):
        first[np.unique(codes, return_index=True)[1]] = True
    return first


def _rows_of(part: np.ndarray, everywhere: np.ndarray, parts: int) -> list[np.ndarray]:
    """Row positions per part: the part's own rows and the rows every part needs, in the frame's order."""
    own = np.where(everywhere, -1, part)
    return [np.flatnonzero((own == i) | everywhere) for i in range(parts)]


def split_inbound(
    sheet: pd.DataFrame,
    products: pd.DataFrame,
    inbound_items: pd.DataFrame | None,
    stocks: pd.DataFrame | None,
    params: ReconcileParams,
    parts: int,
) -> list[InboundPart]:
    """The reconciliation's inputs split by the sheet rows' SKU (trimmed, as it is looked up).

    A sheet whose row numbers repeat (no reader makes one) cannot be put back in order by row number:
    it stays one part, as does an empty sheet.
    """
    whole = [InboundPart(sheet, products, inbound_items, stocks, params)]
    if parts == 1 or not len(sheet) or "sku" not in sheet.columns or "row_number" not in sheet.columns:
        return whole
    if sheet["row_number"].duplicated().any():
        return whole
    sheet_rows = split_rows(part_of_rows(sheet["sku"], parts, strip=True), parts)
    product_part = part_of_labels(products["merchant_sku"].to_numpy(dtype=object), parts, strip=True)
    product_rows = split_rows(product_part, parts)
    jfsku_parts = _jfsku_parts(products, product_part)
    item_rows: list[np.ndarray | None] = [None] * parts
    if inbound_items is not None:
        item_part = _by_jfsku(inbound_items["jfsku"].to_numpy(dtype=object), jfsku_parts, as_text=False)
        first = _first_rows(inbound_items["inbound_id"].to_numpy(dtype=object))
        item_rows = list(_rows_of(item_part, (item_part < 0) | first, parts))
    stock_rows: list[np.ndarray | None] = [None] * parts
    if stocks is not None:
        stock_part = _by_jfsku(stocks["jfsku"].astype(str).to_numpy(dtype=object), jfsku_parts, as_text=True)
        first = _first_rows(stocks["warehouse_id"].astype(str).to_numpy(dtype=object))
        stock_rows = list(_rows_of(stock_part, (stock_part < 0) | first, parts))
    out = []
    for i in range(parts):
        if not len(sheet_rows[i]):
            continue
        items_i, stocks_i = item_rows[i], stock_rows[i]
        out.append(
            InboundPart(
                sheet.take(sheet_rows[i]),
                products.take(product_rows[i]),
                inbound_items.take(items_i) if inbound_items is not None and items_i is not None else None,
                stocks.take(stocks_i) if stocks is not None and stocks_i is not None else None,
                params,
            )
        )
    return out


def inbound_part_results(part: InboundPart) -> pd.DataFrame:
    """The reconciliation of one part (what a cluster worker runs)."""
    return reconcile(part.sheet, part.products, part.inbound_items, part.stocks, part.params)


def join_inbound_results(sheet: pd.DataFrame, parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The parts' results in the sheet's row order (as the whole-frame reconciliation lists them)."""
    if len(parts) == 1:
        return parts[0]
    frame = _join(parts)
    if not len(frame):
        return frame
    position = pd.Index(sheet["row_number"].to_numpy(dtype=np.int64)).get_indexer(
        frame["row_number"].to_numpy(dtype=np.int64)
    )
    return frame.take(np.argsort(position, kind="stable")).reset_index(drop=True)
