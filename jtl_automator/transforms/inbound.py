"""Inbound verification: what the Inbound Control sheet says was sent vs. what JTL-FFN booked.

``reconcile(sheet, products, inbound_items, stocks, params)`` is a pure function over frames,
vectorised the way that matters at a million rows: string work (trimming SKUs, parsing German
numbers) runs once per *distinct* value and is spread back with integer codes, and the lookups are
integer merges, so the cost is a few ``factorize``/``take``/``merge`` passes, never a loop per row.

What is compared, per mode:
- ``inbound``: received = sum over the inbound's items of this SKU of (quantity - quantityOpen). The
  row's reference matches an inbound's ``inboundId``, or else its ``merchantInboundNumber`` (trimmed,
  exact); several inbounds sharing one merchant number are added up.
- ``stock``: booked = the SKU's ``stockLevel`` (in the row's warehouse if the sheet has a warehouse
  column and the cell is filled, else summed over all warehouses). FFN's stockLevel is the physical
  stock on hand; reserved and blocked units are part of it (they were received), so they count as
  booked and nothing is subtracted. ``stockLevelAnnounced`` only decides PENDING.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict

from jtl_automator.limits import FFN_TEXT_MAX
from jtl_automator.sheets.base import MAX_CELL_CHARS, fit_cell


class RowStatus(StrEnum):
    """The status written into the sheet, one per non-blank row."""

    MATCH = "MATCH"
    MISMATCH = "MISMATCH"
    PENDING = "PENDING"
    UNKNOWN_SKU = "UNKNOWN_SKU"
    INBOUND_NOT_FOUND = "INBOUND_NOT_FOUND"
    INVALID_ROW = "INVALID_ROW"


class ReconcileParams(BaseModel):
    """How to compare; which optional columns the sheet has decides the rest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["inbound", "stock"] = "inbound"
    max_units: int = 10**9


# Inbound statuses in which the warehouse has not booked anything yet.
NOT_RECEIPTED = frozenset({"Preparation", "Pending"})
# Statuses in which more goods may still be booked: a shortfall may only be "not yet".
STILL_RECEIVING = NOT_RECEIPTED | {"PartiallyReceipted"}

SHEET_SCHEMA = pa.DataFrameSchema(
    {
        "row_number": pa.Column(int, pa.Check.ge(1), unique=True),
        "sku": pa.Column(str),
        "units": pa.Column(str),
        "inbound": pa.Column(str, required=False),
        "warehouse": pa.Column(str, required=False),
    },
    strict=False,
)
PRODUCTS_SCHEMA = pa.DataFrameSchema({"merchant_sku": pa.Column(str), "jfsku": pa.Column(str, unique=True)})
INBOUND_ITEMS_SCHEMA = pa.DataFrameSchema(
    {
        "inbound_id": pa.Column(str),
        "merchant_inbound_number": pa.Column(str, nullable=True),
        "warehouse_id": pa.Column(str, nullable=True),
        "status": pa.Column(str),
        "jfsku": pa.Column(str),
        "quantity": pa.Column("int64", pa.Check.ge(0)),
        "quantity_open": pa.Column("int64", pa.Check.ge(0)),
    }
)
STOCKS_SCHEMA = pa.DataFrameSchema(
    {
        "jfsku": pa.Column(str),
        "warehouse_id": pa.Column(str),
        "stock_level": pa.Column("int64"),
        "stock_level_announced": pa.Column("int64"),
    }
)
#: A duplicate note lists at most this many rows, then "and K more": its size does not grow with copies.
NOTE_ROWS_LISTED = 10
#: Sheet text quoted in a note is cut to this many characters.
QUOTED_CHARS = 100

RESULT_SCHEMA = pa.DataFrameSchema(
    {
        "row_number": pa.Column("int64"),
        "status": pa.Column(str, pa.Check.isin([s.value for s in RowStatus])),
        "note": pa.Column(str),
        "units_expected": pa.Column("Int64", nullable=True),
        "units_received": pa.Column("Int64", nullable=True),
        "duplicate": pa.Column(bool),
    },
    strict=False,
)


def shown(text: str) -> str:
    """Sheet text as quoted in a note: at most :data:`QUOTED_CHARS` characters."""
    return text if len(text) <= QUOTED_CHARS else text[:QUOTED_CHARS] + "…"


def duplicate_what(has_inbound: bool, has_warehouse: bool) -> str:
    """What two rows share to be duplicates: ``SKU``, ``SKU and inbound`` ..."""
    return "SKU" + (" and inbound" if has_inbound else "") + (" and warehouse" if has_warehouse else "")


def duplicate_note(what: str, rows: Sequence[int] | np.ndarray) -> str:
    """``duplicate row for the same SKU (rows 4, 9, 12 and 1,997 more)``: at most NOTE_ROWS_LISTED rows."""
    listed = ", ".join(str(int(r)) for r in rows[:NOTE_ROWS_LISTED])
    more = len(rows) - NOTE_ROWS_LISTED
    rest = f" and {more:,} more" if more > 0 else ""
    return f"duplicate row for the same {what} (rows {listed}{rest})"


_WS = re.compile(r"[\s\u00a0\u202f']")  # spaces, no-break spaces and Swiss apostrophes group thousands
_DE_GROUPED = re.compile(r"\+?\d{1,3}(?:\.\d{3})+")  # 1.234 or 1.234.567: German thousands
_DE_DECIMAL = re.compile(r"\+?(\d{1,3}(?:\.\d{3})+|\d+),(\d+)")  # 1.234,0 or 12,0
_PLAIN = re.compile(r"\+?(\d+)(?:\.(\d+))?")  # 12 or 12.0 (how programs export a number cell)


def parse_units(text: str, max_units: int = 10**9) -> tuple[int | None, str | None]:
    """Read a units cell as a whole, non-negative number, German formats included.

    Returns ``(value, None)`` or ``(None, reason)``. ``1.234`` is 1234 (German thousands);
    ``1.234,0`` and ``12,0`` are whole numbers with a decimal comma; ``12.0`` is a number cell's
    text. ``1,5`` and ``12.5`` are not whole, and ``1,234`` reads as 1.234 (a decimal comma).
    """
    raw = str(text).strip()
    if not raw:
        return None, "units are empty"
    s = _WS.sub("", raw)
    if s.startswith("-") and any(c.isdigit() for c in s):
        return None, f"units '{shown(raw)}' are negative"
    whole: int | None = None
    fraction = "0"
    if _DE_GROUPED.fullmatch(s):
        whole = int(s.lstrip("+").replace(".", ""))
    elif m := _DE_DECIMAL.fullmatch(s):
        whole, fraction = int(m.group(1).replace(".", "")), m.group(2)
    elif m := _PLAIN.fullmatch(s):
        whole, fraction = int(m.group(1)), m.group(2) or "0"
    if whole is None:
        return None, f"units '{shown(raw)}' are not a number"
    if int(fraction) != 0:
        return None, f"units '{shown(raw)}' are not a whole number"
    if whole > max_units:
        return None, f"units '{shown(raw)}' exceed {max_units:,}"
    return whole, None


@dataclass(frozen=True)
class _Coded:
    """A text column as integer codes per row plus its distinct trimmed values."""

    codes: np.ndarray
    distinct: np.ndarray

    @classmethod
    def of(cls, column: pd.Series | None, length: int) -> _Coded:
        if column is None:
            return cls(np.zeros(length, dtype=np.intp), np.array([""], dtype=object))
        codes, uniques = pd.factorize(column, use_na_sentinel=False)  # NA becomes one more distinct value
        distinct = np.asarray(uniques, dtype=object)  # iterating a numpy array beats an ExtensionArray
        trimmed = ["" if u is None or u != u else str(u).strip() for u in distinct]
        tcodes, tvalues = pd.factorize(pd.Index(trimmed, dtype=object), use_na_sentinel=False)
        return cls(tcodes[codes] if len(codes) else codes, np.asarray(tvalues, dtype=object))

    def rows(self) -> np.ndarray:
        """The trimmed value of every row."""
        return self.distinct[self.codes] if len(self.codes) else np.array([], dtype=object)

    def blank(self) -> np.ndarray:
        """Per row: is the trimmed value empty."""
        empty = np.asarray(self.distinct == "", dtype=bool)
        return np.asarray(empty[self.codes], dtype=bool)


class _Verdicts:
    """Status and note per row, filled by checks in order; the first check that hits a row wins."""

    def __init__(self, n: int, active: np.ndarray) -> None:
        self.status = np.full(n, "", dtype=object)
        self.note = np.full(n, "", dtype=object)
        self.open = active.copy()

    def decide(self, mask: np.ndarray, status: RowStatus, note: np.ndarray | str) -> None:
        hit = mask & self.open
        if not hit.any():
            return
        self.status[hit] = status.value
        self.note[hit] = note[hit] if isinstance(note, np.ndarray) else note
        self.open &= ~hit


def reconcile(
    sheet: pd.DataFrame,
    products: pd.DataFrame,
    inbound_items: pd.DataFrame | None,
    stocks: pd.DataFrame | None,
    params: ReconcileParams,
) -> pd.DataFrame:
    """One result per non-blank sheet row: status, note, expected/received units and a row key.

    Blank rows (every mapped cell empty) get no result, so nothing is ever written into them.
    """
    missing = [c for c in ("row_number", "sku", "units") if c not in sheet.columns]
    if missing:
        raise ValueError(f"sheet frame lacks the column(s) {', '.join(missing)}")
    if params.mode == "inbound" and "inbound" not in sheet.columns:
        raise ValueError("mode 'inbound' needs an inbound column in the sheet")
    if params.mode == "inbound" and inbound_items is None:
        raise ValueError("mode 'inbound' needs the inbound items")
    if params.mode == "stock" and stocks is None:
        raise ValueError("mode 'stock' needs the stocks")

    n = len(sheet)
    has_wh = "warehouse" in sheet.columns
    sku = _Coded.of(sheet["sku"], n)
    inb = _Coded.of(sheet.get("inbound"), n)
    wh = _Coded.of(sheet.get("warehouse"), n)
    units = _Coded.of(sheet["units"], n)

    parsed = [parse_units(u, params.max_units) for u in units.distinct]
    unit_value = np.array([v if v is not None else -1 for v, _ in parsed], dtype=np.int64)[units.codes]
    unit_error = np.array([e or "" for _, e in parsed], dtype=object)[units.codes]

    active = ~(sku.blank() & units.blank() & inb.blank() & wh.blank())
    v = _Verdicts(n, active)
    v.decide(sku.blank(), RowStatus.INVALID_ROW, "SKU is empty")
    for coded, what in ((sku, "SKU"), (inb, "inbound reference"), (wh, "warehouse")):
        length = np.fromiter((len(x) for x in coded.distinct), dtype=np.int64, count=len(coded.distinct))
        too_long = (length > FFN_TEXT_MAX)[coded.codes] if len(coded.distinct) else np.zeros(n, dtype=bool)
        notes = np.array(
            [f"{what} is {k:,} characters; JTL-FFN takes at most {FFN_TEXT_MAX}" for k in length]
        )
        v.decide(too_long, RowStatus.INVALID_ROW, notes[coded.codes] if len(notes) else "")
    v.decide(unit_error != "", RowStatus.INVALID_ROW, unit_error)
    if params.mode == "inbound":
        v.decide(inb.blank(), RowStatus.INVALID_ROW, "inbound reference is empty")
    row_numbers = sheet["row_number"].to_numpy(dtype=np.int64)
    duplicate = _flag_duplicates(
        v, sku, inb if "inbound" in sheet.columns else None, wh if has_wh else None, row_numbers
    )

    # merchantSku -> jfsku once per distinct SKU, then an integer jfsku code per row.
    catalogue = pd.Index([m.strip() for m in _texts(products["merchant_sku"].to_numpy(dtype=object))])
    first = ~catalogue.duplicated()  # a merchant SKU listed twice maps to its first product
    at = catalogue[first].get_indexer(pd.Index(sku.distinct, dtype=object))
    jfskus = np.asarray(_texts(products["jfsku"].to_numpy(dtype=object)), dtype=object)[first]
    jfsku_of_value = np.where(at >= 0, jfskus[np.maximum(at, 0)] if len(jfskus) else "", "").astype(object)
    unknown_note = np.full(len(sku.distinct), "", dtype=object)
    unknown = np.flatnonzero(at < 0)
    unknown_note[unknown] = [
        f"merchant SKU '{shown(sku.distinct[i])}' is not in the FFN product list" for i in unknown
    ]
    v.decide((at < 0)[sku.codes], RowStatus.UNKNOWN_SKU, unknown_note[sku.codes])

    if params.mode == "inbound":
        assert inbound_items is not None
        booked = _inbound_received(v, inbound_items, jfsku_of_value, sku, inb, wh if has_wh else None)
    else:
        assert stocks is not None
        booked = _stock_received(v, stocks, jfsku_of_value, sku, wh if has_wh else None)
    received = booked.received
    expected = np.where(unit_error == "", unit_value, -1)
    _compare(v, expected, booked)

    keep = active
    out = pd.DataFrame(
        {
            "row_number": row_numbers[keep],
            # explicit text dtype: an empty result has the same dtypes as a full one
            "sku": pd.array(sku.rows()[keep], dtype="str"),
            "inbound_ref": pd.array(inb.rows()[keep], dtype="str"),
            "warehouse": pd.array(wh.rows()[keep], dtype="str"),
            "status": pd.array(v.status[keep], dtype="str"),
            "note": pd.array(_fit_notes(v.note[keep]), dtype="str"),
            "units_expected": _nullable_ints(expected[keep]),
            "units_received": _nullable_ints(received[keep]),
            "duplicate": duplicate[keep],
        }
    )
    return out


def _fit_notes(notes: np.ndarray) -> np.ndarray:
    """Every note within :data:`MAX_CELL_CHARS` (a cell any backend can hold)."""
    lengths = np.fromiter(map(len, notes), dtype=np.int64, count=len(notes))
    for i in np.flatnonzero(lengths > MAX_CELL_CHARS):
        notes[i] = fit_cell(notes[i])
    return notes


def _nullable_ints(values: np.ndarray) -> pd.arrays.IntegerArray:
    """-1 marks "unknown" inside the arrays; the result frame says so with <NA>."""
    return pd.arrays.IntegerArray(values.astype(np.int64), values < 0)


def _flag_duplicates(
    v: _Verdicts, sku: _Coded, inb: _Coded | None, wh: _Coded | None, row_numbers: np.ndarray
) -> np.ndarray:
    """The same SKU (and inbound, and warehouse) on two rows is ambiguous: every copy is flagged.

    The note lists the first :data:`NOTE_ROWS_LISTED` rows of the copies and counts the rest, so it
    stays small however many copies there are. Returns which rows were flagged.
    """
    flagged = np.zeros(len(v.status), dtype=bool)
    key = sku.codes.astype(np.int64)
    if inb is not None:
        key = key * (len(inb.distinct) + 1) + inb.codes
    if wh is not None:
        key = key * (len(wh.distinct) + 1) + wh.codes
    candidates = v.open & ~sku.blank()
    idx = np.flatnonzero(candidates)
    if len(idx) == 0:
        return flagged
    dup = pd.Series(key[idx]).duplicated(keep=False).to_numpy()
    if not dup.any():
        return flagged
    dup_idx = idx[dup]
    group, groups = pd.factorize(key[dup_idx])
    order = np.argsort(group, kind="stable")  # rows of each group together, in sheet order
    starts = np.searchsorted(group[order], np.arange(len(groups)))
    ends = np.append(starts[1:], len(order))
    what = duplicate_what(inb is not None, wh is not None)
    sorted_rows = row_numbers[dup_idx][order]
    text = np.array(
        [duplicate_note(what, sorted_rows[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)],
        dtype=object,
    )
    note = np.full(len(v.status), "", dtype=object)
    note[dup_idx] = text[group]
    flagged[dup_idx] = True
    v.decide(flagged, RowStatus.INVALID_ROW, note)
    return flagged


@dataclass
class _Booked:
    """What FFN booked per row (-1 where unknown) and which rows are still waiting for goods."""

    received: np.ndarray
    pending: np.ndarray
    pending_note: np.ndarray
    still_open: np.ndarray | None = None  # rows whose inbound is still being received (note suffix)


def _inbound_received(
    v: _Verdicts, items: pd.DataFrame, jfsku_of_value: np.ndarray, sku: _Coded, inb: _Coded, wh: _Coded | None
) -> _Booked:
    """Received units per row from the inbound items it references."""
    n = len(v.status)
    booked = _Booked(np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool), np.full(n, "", dtype=object))
    # One factorize per item column; the inbound-level fields come from each inbound's first item.
    pos_of_item, inbound_ids = pd.factorize(items["inbound_id"].to_numpy(dtype=object))
    first_item = np.zeros(len(inbound_ids), dtype=np.int64)
    first_item[pos_of_item[::-1]] = np.arange(len(pos_of_item) - 1, -1, -1)
    statuses = items["status"].to_numpy(dtype=object)[first_item].astype(str)
    warehouses = _texts(items["warehouse_id"].to_numpy(dtype=object)[first_item])
    numbers = [n.strip() for n in _texts(items["merchant_inbound_number"].to_numpy(dtype=object)[first_item])]
    by_id = {str(iid): [i] for i, iid in enumerate(inbound_ids)}
    by_number: dict[str, list[int]] = {}
    for i, number in enumerate(numbers):
        if number:
            by_number.setdefault(number, []).append(i)

    # Each distinct reference resolves to inbound positions; an inboundId wins over a merchant number.
    positions = [by_id.get(ref) or by_number.get(ref, []) for ref in inb.distinct]
    found = np.array([bool(p) for p in positions], dtype=bool)
    missing_refs = np.flatnonzero(~found)
    not_found = np.full(len(inb.distinct), "", dtype=object)
    not_found[missing_refs] = [
        f"no inbound with id or number '{shown(inb.distinct[c])}'" for c in missing_refs
    ]
    v.decide(~found[inb.codes], RowStatus.INBOUND_NOT_FOUND, not_found[inb.codes])

    if wh is not None:
        _check_inbound_warehouse(v, inb, wh, [{warehouses[p] for p in ps} for ps in positions])

    rows = np.flatnonzero(v.open)
    if len(rows) == 0:
        return booked
    # Received per (inbound position, jfsku) under one integer key, summed with bincount.
    jf_of_item, jf_values = pd.factorize(items["jfsku"].to_numpy(dtype=object))
    width = max(len(jf_values), 1)
    item_key = pos_of_item.astype(np.int64) * width + jf_of_item
    received_items = items["quantity"].to_numpy(dtype=np.int64) - items["quantity_open"].to_numpy(
        dtype=np.int64
    )
    jf_of_value = pd.Index(jf_values).get_indexer(pd.Index(jfsku_of_value, dtype=object))
    single = np.array([len(ps) == 1 for ps in positions], dtype=bool)
    first_pos = np.array([ps[0] if ps else -1 for ps in positions], dtype=np.int64)
    has_item = np.zeros(n, dtype=bool)

    # The usual case: the reference names one inbound, so a row wants one (inbound, jfsku) key.
    on_single = single[inb.codes[rows]]
    sel = rows[on_single & (jf_of_value[sku.codes[rows]] >= 0)]
    sel_keys = first_pos[inb.codes[sel]] * width + jf_of_value[sku.codes[sel]]
    # A merchant number shared by several inbounds: the row wants the keys of all of them.
    multi_rows = rows[~on_single]
    joined = pd.DataFrame({"row": [], "key": []}, dtype=np.int64)
    if len(multi_rows):
        refs = pd.DataFrame(
            [(c, p) for c, ps in enumerate(positions) if len(ps) > 1 for p in ps], columns=["ref", "pos"]
        )
        wanted = pd.DataFrame(
            {"row": multi_rows, "ref": inb.codes[multi_rows], "jf": jf_of_value[sku.codes[multi_rows]]}
        )
        joined = wanted[wanted["jf"] >= 0].merge(refs, on="ref")
        joined["key"] = joined["pos"].to_numpy(dtype=np.int64) * width + joined["jf"].to_numpy()
    sums, present = _sum_by_key(
        item_key, received_items, np.concatenate([sel_keys, joined["key"].to_numpy()])
    )
    booked.received[sel[present[: len(sel)]]] = sums[: len(sel)][present[: len(sel)]]
    has_item[sel[present[: len(sel)]]] = True
    if len(joined):
        hits = present[len(sel) :]
        per_row = pd.Series(sums[len(sel) :][hits]).groupby(joined["row"].to_numpy()[hits], sort=False).sum()
        booked.received[per_row.index.to_numpy()] = per_row.to_numpy(dtype=np.int64)
        has_item[per_row.index.to_numpy()] = True

    no_item = v.open & ~has_item
    if no_item.any():
        note = np.full(n, "", dtype=object)
        note[no_item] = [f"inbound '{shown(r)}' has no item for this SKU" for r in inb.rows()[no_item]]
        v.decide(no_item, RowStatus.INBOUND_NOT_FOUND, note)

    # Inbound status per reference: taken from the one inbound, or combined over several.
    status_codes, status_names = pd.factorize(statuses)
    names = [str(x) for x in status_names]
    code_of_ref = np.where(first_pos >= 0, status_codes[np.maximum(first_pos, 0)], -1)
    waiting_code = np.array([x in NOT_RECEIPTED for x in names] + [False])
    receiving_code = np.array([x in STILL_RECEIVING for x in names] + [False])
    waiting, receiving = waiting_code[code_of_ref], receiving_code[code_of_ref]  # -1 picks the False
    text_of_code = np.array([*names, ""], dtype=object)
    status_text = text_of_code[code_of_ref]
    for c in np.flatnonzero(~single & found):
        group = {str(statuses[p]) for p in positions[c]}
        waiting[c] = group <= NOT_RECEIPTED
        receiving[c] = bool(group & STILL_RECEIVING)
        status_text[c] = "/".join(sorted(group))
    booked.pending = waiting[inb.codes] & (booked.received == 0)
    pending_note = np.array([f"inbound is {t}, nothing booked yet" for t in status_text], dtype=object)
    booked.pending_note = pending_note[inb.codes]
    open_note = np.where(receiving, np.array([f"; inbound is {t}" for t in status_text], dtype=object), "")
    booked.still_open = open_note[inb.codes]
    return booked


def _sum_by_key(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``values`` per key, looked up for every wanted key: (sums, present).

    One factorize over items and wanted keys together numbers both alike, so the lookup is an array
    index instead of a second hash table.
    """
    codes, uniques = pd.factorize(np.concatenate([keys, wanted]))
    item_codes, wanted_codes = codes[: len(keys)], codes[len(keys) :]
    sums = np.bincount(item_codes, weights=values, minlength=len(uniques)).astype(np.int64)
    present = np.zeros(len(uniques), dtype=bool)
    present[item_codes] = True
    return sums[wanted_codes], present[wanted_codes]


def _texts(values: np.ndarray) -> list[str]:
    """Object values as text, missing ones (None/NaN/<NA>) as empty strings."""
    return ["" if v is None or v is pd.NA or v != v else str(v) for v in values]


def _check_inbound_warehouse(v: _Verdicts, inb: _Coded, wh: _Coded, inbound_whs: list[set[str]]) -> None:
    """A filled warehouse cell must agree with the referenced inbound's warehouse."""
    width = len(wh.distinct) + 1
    pair_codes, pair_uniques = pd.factorize(inb.codes.astype(np.int64) * width + wh.codes)
    wrong = np.zeros(len(pair_uniques), dtype=bool)
    note = np.full(len(pair_uniques), "", dtype=object)
    for j, combined in enumerate(pair_uniques):
        icode, wcode = divmod(int(combined), width)
        want, have = wh.distinct[wcode], inbound_whs[icode]
        if want and have and want not in have:
            wrong[j] = True
            note[j] = (
                f"inbound '{shown(inb.distinct[icode])}' is for warehouse "
                f"{', '.join(sorted(have))}, not {shown(want)}"
            )
    v.decide(wrong[pair_codes], RowStatus.INBOUND_NOT_FOUND, note[pair_codes])


def _stock_received(
    v: _Verdicts, stocks: pd.DataFrame, jfsku_of_value: np.ndarray, sku: _Coded, wh: _Coded | None
) -> _Booked:
    """Booked units per row from stock levels (per warehouse where the row names one)."""
    n = len(v.status)
    jf_index = pd.Index(stocks["jfsku"].astype(str).unique())
    jf_row = jf_index.get_indexer(pd.Index(jfsku_of_value, dtype=object))[sku.codes]
    jf_stock = jf_index.get_indexer(pd.Index(stocks["jfsku"].astype(str)))
    level = stocks["stock_level"].to_numpy(dtype=np.int64)
    announced = stocks["stock_level_announced"].to_numpy(dtype=np.int64)
    total_level = np.bincount(jf_stock, weights=level, minlength=len(jf_index)).astype(np.int64)
    total_announced = np.bincount(jf_stock, weights=announced, minlength=len(jf_index)).astype(np.int64)

    has_stock = jf_row >= 0  # no stock record at all means nothing booked
    safe = np.where(has_stock, jf_row, 0)
    received = np.where(has_stock, total_level[safe] if len(jf_index) else 0, 0).astype(np.int64)
    pending_announced = np.where(has_stock, total_announced[safe] if len(jf_index) else 0, 0)

    if wh is not None:
        known_wh = set(stocks["warehouse_id"].astype(str))
        unknown = np.array([bool(w) and w not in known_wh for w in wh.distinct], dtype=bool)
        unknown_note = np.array([f"unknown warehouse '{shown(w)}'" for w in wh.distinct], dtype=object)
        v.decide(unknown[wh.codes], RowStatus.INVALID_ROW, unknown_note[wh.codes])
        rows = np.flatnonzero(v.open & ~wh.blank())
        if len(rows):
            per_wh = pd.DataFrame(
                {
                    "jf": jf_stock,
                    "wh": stocks["warehouse_id"].astype(str).to_numpy(),
                    "lvl": level,
                    "ann": announced,
                }
            )
            wanted = pd.DataFrame({"row": rows, "jf": jf_row[rows], "wh": wh.rows()[rows]})
            joined = (
                wanted.merge(per_wh, on=["jf", "wh"], how="left")
                .groupby("row", sort=False)[["lvl", "ann"]]
                .sum()
            )
            received[joined.index.to_numpy()] = joined["lvl"].to_numpy(dtype=np.int64)
            pending_announced[joined.index.to_numpy()] = joined["ann"].to_numpy(dtype=np.int64)

    pending = (received == 0) & (pending_announced > 0)
    note = np.full(n, "", dtype=object)
    note[pending] = [f"{a} units announced, nothing booked yet" for a in pending_announced[pending]]
    return _Booked(received, pending, note)


def _compare(v: _Verdicts, expected: np.ndarray, booked: _Booked) -> None:
    """MATCH, PENDING or MISMATCH for every row that passed the earlier checks."""
    rows = v.open
    v.decide(rows & booked.pending & (expected > 0), RowStatus.PENDING, booked.pending_note)
    v.decide(rows & (booked.received == expected), RowStatus.MATCH, "")
    left = np.flatnonzero(v.open)
    note = np.full(len(v.status), "", dtype=object)
    suffix = (
        booked.still_open[left] if booked.still_open is not None else np.full(len(left), "", dtype=object)
    )
    note[left] = _mismatch_notes(booked.received[left], expected[left], suffix)
    mask = np.zeros(len(v.status), dtype=bool)
    mask[left] = True
    v.decide(mask, RowStatus.MISMATCH, note)


def _int_texts(values: np.ndarray, signed: bool = False) -> np.ndarray:
    """Decimal text of many integers through a lookup table when their range is small."""
    if len(values) == 0:
        return np.array([], dtype=object)
    lo, hi = int(values.min()), int(values.max())
    fmt = "{:+d}" if signed else "{:d}"
    if hi - lo > 4 * len(values):  # a sparse range: a table would cost more than formatting each
        return np.array([fmt.format(v) for v in values.tolist()], dtype=object)
    table = np.array([fmt.format(v) for v in range(lo, hi + 1)], dtype=object)
    return np.asarray(table[values - lo], dtype=object)


def _mismatch_notes(received: np.ndarray, expected: np.ndarray, suffix: np.ndarray) -> np.ndarray:
    """``received X of Y (difference ±Z)[suffix]`` for many rows without a Python loop per row."""
    parts: list[str | np.ndarray] = [
        "received ",
        _int_texts(received),
        " of ",
        _int_texts(expected),
        " (difference ",
        _int_texts(received - expected, signed=True),
        ")",
        suffix,
    ]
    text = np.full(len(received), "", dtype=object)
    for part in parts:
        text = np.add(text, part)  # object arrays: string concatenation in one C loop
    return text


def row_keys(results: pd.DataFrame) -> pd.Series:
    """The identity of a result row across runs: SKU, inbound and warehouse, not the row position.

    Kept out of ``reconcile`` because only the history needs it, and building a million strings
    costs more than the reconciliation itself.
    """
    keys = results["sku"].astype(object).to_numpy()
    for column in ("inbound_ref", "warehouse"):
        part = results[column].astype(object).to_numpy()
        if (part != "").any():
            keys = np.add(np.add(keys, "|"), part)
    return pd.Series(keys, index=results.index, dtype=object, name="row_key")


def annotate_since(results: pd.DataFrame, history: Mapping[str, list[tuple[datetime, str]]]) -> pd.DataFrame:
    """Add "since <date>" to MISMATCH/PENDING notes from the stored history of each row key.

    The date is the first check of the current unbroken run of that same status (a row that was
    MATCH in between starts over), so the note answers "still missing since when".
    """
    keys = (results["row_key"] if "row_key" in results.columns else row_keys(results)).to_numpy(dtype=object)
    chase = results["status"].isin([RowStatus.MISMATCH.value, RowStatus.PENDING.value]).to_numpy()
    notes = results["note"].to_numpy(dtype=object).copy()
    statuses = results["status"].to_numpy(dtype=object)
    for i in np.flatnonzero(chase):
        status, key = statuses[i], keys[i]
        since: datetime | None = None
        for at, past in reversed(history.get(key, [])):
            if past != status:
                break
            since = at
        if since is not None:
            notes[i] = f"{notes[i]}; since {since.date().isoformat()}"
    return results.assign(note=pd.array(notes, dtype="str"))


def status_counts(results: pd.DataFrame) -> dict[str, int]:
    """Rows per status, every status listed (zeros included) in a fixed order."""
    counts = results["status"].value_counts()
    return {s.value: int(counts.get(s.value, 0)) for s in RowStatus}
