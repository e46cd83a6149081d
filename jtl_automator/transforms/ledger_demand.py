"""Demand from two sources as one order-lines frame: the order ledger's lines, and FFN outbounds before them.

The order ledger holds the item lines of every order that became an outbound since order processing began
recording them (``StateStore.order_lines_cover_from``); for the days before that cut-off FFN's outbounds are
the only record. Both become ``ORDER_LINES_SCHEMA`` frames here and are put together with ``pd.concat``.
SKU and warehouse columns are concatenated as ``string`` (a ``category`` column of either side is
converted first: two categoricals with different categories would concatenate to ``object``); the
schema's coercion then gives them the dtype it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from jtl_automator.transforms.replenishment import ORDER_LINES_SCHEMA
from jtl_automator.transforms.replenishment_frames import outbound_lines_frame
from jtl_automator.transforms.validation import validate_frame

#: The frame's columns, and the order of the ledger rows' fields.
COLUMNS = ("merchant_sku", "warehouse_id", "day", "quantity")
_KEYS = ("merchant_sku", "warehouse_id")
#: Rows (ledger) or outbounds (FFN) turned into a frame at a time: memory stays bounded by the kept lines.
LEDGER_CHUNK_ROWS = 100_000
OUTBOUND_CHUNK = 2_000


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "merchant_sku": pd.Series(dtype="string"),
            "warehouse_id": pd.Series(dtype="string"),
            "day": pd.Series(dtype="datetime64[us]"),
            "quantity": pd.Series(dtype="float64"),
        }
    )


def _text(values: Sequence[Any], labels: dict[str, str]) -> pd.Series:
    """Stripped strings, one object per distinct text (``labels``); anything else and blank text are NA.

    A year of lines repeats 100,000 SKUs millions of times: shared objects keep the frame at 8 bytes a
    cell and make the transform's lookups cheap (see ``transforms.replenishment._codes``).
    """
    texts = [v.strip() or None if isinstance(v, str) else None for v in values]
    return pd.Series([None if t is None else labels.setdefault(t, t) for t in texts], dtype="string")


def _quantities(values: Sequence[Any]) -> np.ndarray:
    """Floats; what is not a number (None, text, bools) becomes NaN."""
    if set(map(type, values)) <= {float, int}:  # the store's rows: floats only (bools and text are not)
        return np.asarray(values, dtype="float64")
    return np.array([float(v) if type(v) in (float, int) else np.nan for v in values], dtype="float64")


def _ledger_chunk(rows: Sequence[Sequence[Any]], labels: dict[str, str]) -> pd.DataFrame:
    skus, warehouses, days, quantities = ([row[n] for row in rows] for n in range(len(COLUMNS)))
    sku, warehouse = _text(skus, labels), _text(warehouses, labels)
    day = (
        pd.to_datetime(pd.Series(days, dtype=object), errors="coerce").dt.floor("D").astype("datetime64[us]")
    )
    quantity = pd.Series(_quantities(quantities), dtype="float64")
    keep = (sku.notna() & warehouse.notna() & day.notna() & np.isfinite(quantity) & (quantity > 0)).to_numpy(
        dtype=bool
    )
    return pd.DataFrame(
        {
            "merchant_sku": sku[keep],
            "warehouse_id": warehouse[keep],
            "day": day[keep],
            "quantity": quantity[keep],
        }
    ).reset_index(drop=True)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def ledger_lines_frame(rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
    """``(sku, warehouse_id, order_day, quantity)`` rows of the ledger as an ``ORDER_LINES_SCHEMA`` frame.

    Rows without a SKU or warehouse, without a readable day, or with a quantity that is not a positive
    finite number are left out: the store writes none, but one bad row must not cost the run. Read in
    chunks, so a stream of millions of rows is never one list.
    """
    labels: dict[str, str] = {}
    parts = [_ledger_chunk(chunk, labels) for chunk in _chunks(rows, LEDGER_CHUNK_ROWS)]
    return combined_order_lines(*parts)


def outbound_lines_before(outbounds: Iterable[Mapping[str, Any]], before: date | None) -> pd.DataFrame:
    """``outbound_lines_frame`` of the outbounds, keeping the lines of days before ``before`` (None: all).

    The outbounds are read a chunk at a time, so those of the cut-off and later (the order ledger counts
    them) are dropped as they stream in instead of being held first.
    """
    limit = None if before is None else pd.Timestamp(before)
    parts = []
    labels: dict[str, str] = {}
    for chunk in _chunks(outbounds, OUTBOUND_CHUNK):
        frame = outbound_lines_frame(chunk, labels)
        parts.append(frame if limit is None else frame.loc[frame["day"] < limit])
    return combined_order_lines(*parts)


def combined_order_lines(*frames: pd.DataFrame) -> pd.DataFrame:
    """The ``ORDER_LINES_SCHEMA`` frames as one (SKUs and warehouses as ``string`` or ``category``)."""
    parts = [
        frame.loc[:, list(COLUMNS)].astype(dict.fromkeys(_KEYS, "string")) for frame in frames if len(frame)
    ]
    joined = pd.concat(parts, ignore_index=True) if parts else _empty()
    return validate_frame(ORDER_LINES_SCHEMA, joined)
