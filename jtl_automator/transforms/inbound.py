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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict


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
RESULT_SCHEMA = pa.DataFrameSchema(
    {
        "row_number": pa.Column("int64"),
        "status": pa.Column(str, pa.Check.isin([s.value for s in RowStatus])),
        "note": pa.Column(str),
        "units_expected": pa.Column("Int64", nullable=True),
        "units_received": pa.Column("Int64", nullable=True),
    },
    strict=False,
)

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
        return None, f"units '{raw}' are negative"
    whole: int | None = None
    fraction = "0"
    if _DE_GROUPED.fullmatch(s):
        whole = int(s.lstrip("+").replace(".", ""))
    elif m := _DE_DECIMAL.fullmatch(s):
        whole, fraction = int(m.group(1).replace(".", "")), m.group(2)
    elif m := _PLAIN.fullmatch(s):
        whole, fraction = int(m.group(1)), m.group(2) or "0"
    if whole is None:
        return None, f"units '{raw}' are not a number"
    if int(fraction) != 0:
        return None, f"units '{raw}' are not a whole number"
    if whole > max_units:
        return None, f"units '{raw}' exceed {max_units:,}"
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
    v.decide(unit_error != "", RowStatus.INVALID_ROW, unit_error)
    if params.mode == "inbound":
        v.decide(inb.blank(), RowStatus.INVALID_ROW, "inbound reference is empty")
    row_numbers = sheet["row_number"].to_numpy(dtype=np.int64)
    _flag_duplicates(v, sku, inb if "inbound" in sheet.columns else None, wh if has_wh else None, row_numbers)

    # merchantSku -> jfsku once per distinct SKU, then an integer jfsku code per row.
    sku_to_jfsku = dict(
        zip(products["merchant_sku"].astype(str).str.strip(), products["jfsku"].astype(str), strict=True)
    )
    jfsku_of_value = np.array([sku_to_jfsku.get(s, "") for s in sku.distinct], dtype=object)
    unknown_note = np.array(
        [f"merchant SKU '{s}' is not in the FFN product list" for s in sku.distinct], dtype=object
    )
    v.decide((jfsku_of_value == "")[sku.codes], RowStatus.UNKNOWN_SKU, unknown_note[sku.codes])

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
            "sku": sku.rows()[keep],
            "inbound_ref": inb.rows()[keep],
            "warehouse": wh.rows()[keep],
            "status": v.status[keep],
            "note": v.note[keep],
            "units_expected": _nullable_ints(expected[keep]),
            "units_received": _nullable_ints(received[keep]),
        }
    )
    return out


def _nullable_ints(values: np.ndarray) -> pd.arrays.IntegerArray:
    """-1 marks "unknown" inside the arrays; the result frame says so with <NA>."""
    return pd.arrays.IntegerArray(values.astype(np.int64), values < 0)


def _flag_duplicates(
    v: _Verdicts, sku: _Coded, inb: _Coded | None, wh: _Coded | None, row_numbers: np.ndarray
) -> None:
    """The same SKU (and inbound, and warehouse) on two rows is ambiguous: every copy is flagged."""
    key = sku.codes.astype(np.int64)
    if inb is not None:
        key = key * (len(inb.distinct) + 1) + inb.codes
    if wh is not None:
        key = key * (len(wh.distinct) + 1) + wh.codes
    candidates = v.open & ~sku.blank()
    idx = np.flatnonzero(candidates)
    if len(idx) == 0:
        return
    sub = pd.Series(key[idx])
    dup = sub.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    dup_idx = idx[dup]
    groups = pd.Series(row_numbers[dup_idx]).groupby(key[dup_idx]).agg(lambda r: ", ".join(map(str, r)))
    what = "SKU" + (" and inbound" if inb is not None else "") + (" and warehouse" if wh is not None else "")
    note = np.full(len(v.status), "", dtype=object)
    note[dup_idx] = [f"duplicate row for the same {what} (rows {groups[k]})" for k in key[dup_idx]]
    mask = np.zeros(len(v.status), dtype=bool)
    mask[dup_idx] = True
    v.decide(mask, RowStatus.INVALID_ROW, note)


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
    inbounds = items.drop_duplicates("inbound_id")
    inbound_ids = inbounds["inbound_id"].astype(str).to_numpy()
    statuses = inbounds["status"].astype(str).to_numpy()
    warehouses = inbounds["warehouse_id"].fillna("").astype(str).to_numpy()
    by_id = {iid: [i] for i, iid in enumerate(inbound_ids)}
    by_number: dict[str, list[int]] = {}
    for i, number in enumerate(inbounds["merchant_inbound_number"].fillna("").astype(str).str.strip()):
        if number:
            by_number.setdefault(number, []).append(i)

    # Each distinct reference resolves to inbound positions; an inboundId wins over a merchant number.
    positions = [by_id.get(ref) or by_number.get(ref, []) for ref in inb.distinct]
    found = np.array([bool(p) for p in positions], dtype=bool)
    not_found = np.array([f"no inbound with id or number '{r}'" for r in inb.distinct], dtype=object)
    v.decide(~found[inb.codes], RowStatus.INBOUND_NOT_FOUND, not_found[inb.codes])

    if wh is not None:
        _check_inbound_warehouse(v, inb, wh, [{warehouses[p] for p in ps} for ps in positions])

    rows = np.flatnonzero(v.open)
    if len(rows) == 0:
        return booked
    # Integer join: row -> reference code -> inbound positions -> summed items of the row's jfsku.
    jf_index = pd.Index(items["jfsku"].astype(str).unique())
    jf_of_value = jf_index.get_indexer(pd.Index(jfsku_of_value, dtype=object))
    agg = (
        pd.DataFrame(
            {
                "pos": pd.Index(inbound_ids).get_indexer(pd.Index(items["inbound_id"].astype(str))),
                "jf": jf_index.get_indexer(pd.Index(items["jfsku"].astype(str))),
                "rec": items["quantity"].to_numpy(dtype=np.int64)
                - items["quantity_open"].to_numpy(dtype=np.int64),
            }
        )
        .groupby(["pos", "jf"], sort=False)["rec"]
        .sum()
        .reset_index()
    )
    refs = pd.DataFrame([(c, p) for c, ps in enumerate(positions) for p in ps], columns=["ref", "pos"])
    wanted = pd.DataFrame({"row": rows, "ref": inb.codes[rows], "jf": jf_of_value[sku.codes[rows]]})
    joined = wanted.merge(refs, on="ref").merge(agg, on=["pos", "jf"], how="inner")
    per_row = joined.groupby("row", sort=False)["rec"].sum()
    has_item = np.zeros(n, dtype=bool)
    has_item[per_row.index.to_numpy()] = True
    booked.received[per_row.index.to_numpy()] = per_row.to_numpy(dtype=np.int64)

    no_item = v.open & ~has_item
    if no_item.any():
        note = np.full(n, "", dtype=object)
        note[no_item] = [f"inbound '{r}' has no item for this SKU" for r in inb.rows()[no_item]]
        v.decide(no_item, RowStatus.INBOUND_NOT_FOUND, note)

    waiting = np.array(
        [bool(ps) and all(statuses[p] in NOT_RECEIPTED for p in ps) for ps in positions], dtype=bool
    )
    status_text = np.array(["/".join(sorted({statuses[p] for p in ps})) for ps in positions], dtype=object)
    booked.pending = waiting[inb.codes] & (booked.received == 0)
    booked.pending_note = np.array(
        [f"inbound is {t}, nothing booked yet" for t in status_text], dtype=object
    )[inb.codes]
    receiving = np.array([bool(ps) and any(statuses[p] in STILL_RECEIVING for p in ps) for ps in positions])
    open_note = np.array([f"; inbound is {t}" for t in status_text], dtype=object)
    booked.still_open = np.where(receiving, open_note, "")[inb.codes]
    return booked


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
                f"inbound '{inb.distinct[icode]}' is for warehouse {', '.join(sorted(have))}, not {want}"
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
        unknown_note = np.array([f"unknown warehouse '{w}'" for w in wh.distinct], dtype=object)
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
    suffix = booked.still_open[left] if booked.still_open is not None else [""] * len(left)
    note[left] = [
        f"received {r} of {e} (difference {r - e:+d}){s}"
        for r, e, s in zip(booked.received[left].tolist(), expected[left].tolist(), suffix, strict=True)
    ]
    mask = np.zeros(len(v.status), dtype=bool)
    mask[left] = True
    v.decide(mask, RowStatus.MISMATCH, note)


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
    out = results.copy()
    keys = row_keys(out).to_numpy()
    chase = out["status"].isin([RowStatus.MISMATCH.value, RowStatus.PENDING.value]).to_numpy()
    notes = out["note"].to_numpy(dtype=object).copy()
    statuses = out["status"].to_numpy(dtype=object)
    for i in np.flatnonzero(chase):
        status, key = statuses[i], keys[i]
        since: datetime | None = None
        for at, past in reversed(history.get(key, [])):
            if past != status:
                break
            since = at
        if since is not None:
            notes[i] = f"{notes[i]}; since {since.date().isoformat()}"
    out["note"] = notes
    return out


def status_counts(results: pd.DataFrame) -> dict[str, int]:
    """Rows per status, every status listed (zeros included) in a fixed order."""
    counts = results["status"].value_counts()
    return {s.value: int(counts.get(s.value, 0)) for s in RowStatus}
