"""Stock sync FFN -> Wawi: which Wawi stock to change, by how much, and why the rest is left alone.

The rule, in full (see docs/stock-sync.md):

1. The target of a (Wawi warehouse, item) is FFN's ``stockLevel`` of that SKU in the FFN warehouse mapped
   to it: the units on the shelf, reserved and blocked ones included (Wawi books its own reservations on
   top of the physical quantity). Wawi's current quantity is the sum of ``QuantityTotal`` over the item's
   rows in that warehouse (storage locations, batches); the delta is target - current.
2. Only FFN-mapped Wawi warehouses are ever touched; FFN rows in an unmapped FFN warehouse are reported.
3. An FFN ``merchantSku`` without a Wawi item is ``unknown_sku``; an item whose
   ``StorageOptions.InventoryManagementActive`` is false is ``no_inventory_management``; neither is touched.
4. A level that is missing, not a number, negative or above ``max_level`` is ``invalid_input`` with the
   reason; the other rows go on.
5. Full mode only (FFN's whole stock was read): an item FFN knows but holds none of in a mapped warehouse
   has target 0 there; an item FFN does not know at all is ``not_in_ffn`` (reported, never touched).

Pure: frames in, one frame out; the Wawi and FFN JSON are read into frames by the helpers below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field

ADJUST = "adjust"
IN_SYNC = "in_sync"
UNKNOWN_SKU = "unknown_sku"
NOT_IN_FFN = "not_in_ffn"
NO_INVENTORY = "no_inventory_management"
UNMAPPED_WAREHOUSE = "unmapped_warehouse"
INVALID_INPUT = "invalid_input"
_TOLERANCE = 1e-9

FFN_SCHEMA = pa.DataFrameSchema(
    {
        "ffn_warehouse_id": pa.Column("string"),
        "merchant_sku": pa.Column("string"),
        "jfsku": pa.Column("string"),
        "stock_level": pa.Column("float64", nullable=True),
        "version": pa.Column("string"),
        "problem": pa.Column("string"),
    },
    name="ffn_stock_levels",
)
WAWI_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("Int64"),
        "sku": pa.Column("string"),
        "inventory_managed": pa.Column("bool"),
        "wawi_warehouse_id": pa.Column("Int64", nullable=True),
        "quantity": pa.Column("float64"),
    },
    name="wawi_stock",
)
PLAN_COLUMNS: dict[str, str] = {
    "ffn_warehouse_id": "string",
    "wawi_warehouse_id": "Int64",
    "merchant_sku": "string",
    "jfsku": "string",
    "item_id": "Int64",
    "version": "string",
    "target": "Float64",
    "current": "Float64",
    "delta": "Float64",
    "status": "string",
    "reason": "string",
}
PLAN_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(dtype, nullable=name not in ("status", "reason", "merchant_sku"))
        for name, dtype in PLAN_COLUMNS.items()
    },
    checks=pa.Check(
        lambda df: ((df["status"] != ADJUST) | (df["delta"].abs() > _TOLERANCE)).all(),
        error="an adjustment without a delta",
    ),
    name="stock_adjustments",
)


class StockPlanParams(BaseModel):
    """What the plan needs besides the frames: the resolved warehouse map and the sanity bound."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse_map: dict[str, int] = Field(description="FFN warehouseId -> Wawi warehouse Id.")
    max_level: float = Field(default=1_000_000, gt=0, description="A level above this is refused.")
    full: bool = Field(default=True, description="FFN's whole stock was read (not only changes).")


def _level(value: Any) -> tuple[float, str]:
    """A stock level as a float, or NaN with the reason it is not one (strings are not coerced)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = "missing" if value is None else f"not a number: {value!r}"
        return math.nan, f"stockLevel is {shown}"
    if not math.isfinite(value):
        return math.nan, f"stockLevel is not a finite number: {value!r}"
    return float(value), ""


def ffn_levels_frame(rows: Iterable[Any], *, versioned: bool = False) -> pd.DataFrame:
    """FFN per-warehouse stock rows, or StockChange objects (``versioned``), as the plan's input frame.

    A row that cannot be read (no warehouse, no SKU, a level that is not a number) stays in the frame
    with its ``problem``, so it is reported by name instead of failing the batch.
    """
    cols: dict[str, list[Any]] = {name: [] for name in FFN_SCHEMA.columns}
    for row in rows:
        if not isinstance(row, Mapping):
            cols["ffn_warehouse_id"].append("")
            cols["merchant_sku"].append("")
            cols["jfsku"].append("")
            cols["stock_level"].append(math.nan)
            cols["version"].append("")
            cols["problem"].append(f"not an object: {str(row)[:80]!r}")
            continue
        ident = row.get("stockChangeId") if versioned else None
        ident = ident if isinstance(ident, Mapping) else {}
        warehouse = ident.get("warehouseId") if versioned else row.get("warehouseId")
        jfsku = ident.get("jfsku") if versioned else row.get("jfsku")
        version = ident.get("stockVersion") if versioned else None
        level, problem = _level(row.get("stockLevel"))
        sku = row.get("merchantSku")
        missing = [
            name
            for name, value in (("warehouseId", warehouse), ("merchantSku", sku))
            if not isinstance(value, str) or not value.strip()
        ]
        if versioned and not isinstance(version, int):
            missing.append("stockVersion")
        if missing:
            problem = f"{', '.join(missing)} missing" + (f"; {problem}" if problem else "")
        cols["ffn_warehouse_id"].append(str(warehouse or "").strip())
        cols["merchant_sku"].append(str(sku or "").strip())
        cols["jfsku"].append(str(jfsku or ""))
        cols["stock_level"].append(level)
        cols["version"].append(f"v{version}" if isinstance(version, int) else "")
        cols["problem"].append(problem)
    frame = pd.DataFrame(
        {
            name: pd.Series(values, dtype="float64" if name == "stock_level" else "string")
            for name, values in cols.items()
        }
    )
    return FFN_SCHEMA.validate(frame)


def ffn_stock_rows(stocks: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
    """The per-warehouse rows of FFN Stock objects (``warehouses[]``), carrying the stock's merchantSku."""
    for stock in stocks:
        rows = stock.get("warehouses") if isinstance(stock, Mapping) else None
        if not isinstance(rows, list):
            yield stock if not isinstance(stock, Mapping) else {**stock, "warehouseId": None}
            continue
        for row in rows:
            if isinstance(row, Mapping) and not row.get("merchantSku"):
                row = {**row, "merchantSku": stock.get("merchantSku")}
            yield row


def inventory_managed(item: Mapping[str, Any]) -> bool:
    """``StorageOptions.InventoryManagementActive``; absent means false (never guess a stock into Wawi)."""
    options = item.get("StorageOptions")
    return bool(isinstance(options, Mapping) and options.get("InventoryManagementActive") is True)


def wawi_stock_frame(items: Iterable[Mapping[str, Any]], stocks: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (item, warehouse) with the summed ``QuantityTotal``; items without stock get one NA row.

    Items without an ``SKU`` cannot be matched and are left out; so are stock rows of unknown items.
    """
    skus: dict[int, tuple[str, bool]] = {}
    for item in items:
        sku, item_id = item.get("SKU"), item.get("Id")
        if isinstance(sku, str) and sku.strip() and isinstance(item_id, int):
            skus[item_id] = (sku.strip(), inventory_managed(item))
    totals: dict[tuple[int, int], float] = {}
    for row in stocks:
        item_id, warehouse_id = row.get("ItemId"), row.get("WarehouseId")
        if item_id in skus and isinstance(warehouse_id, int):
            key = (int(item_id), warehouse_id)
            totals[key] = totals.get(key, 0.0) + float(row.get("QuantityTotal") or 0)
    stocked = {item_id for item_id, _ in totals}
    keys: list[tuple[int, int | None]] = [*totals, *((i, None) for i in skus if i not in stocked)]
    frame = pd.DataFrame(
        {
            "item_id": pd.Series([k[0] for k in keys], dtype="Int64"),
            "sku": pd.Series([skus[k[0]][0] for k in keys], dtype="string"),
            "inventory_managed": pd.Series([skus[k[0]][1] for k in keys], dtype="bool"),
            "wawi_warehouse_id": pd.Series([k[1] for k in keys], dtype="Int64"),
            "quantity": pd.Series(
                [totals.get((k[0], k[1]), 0.0) if k[1] is not None else 0.0 for k in keys], dtype="float64"
            ),
        }
    )
    return WAWI_SCHEMA.validate(frame)


def plan_stock_adjustments(ffn: pd.DataFrame, wawi: pd.DataFrame, params: StockPlanParams) -> pd.DataFrame:
    """One row per FFN stock row (and, in full mode, per Wawi stock FFN does not cover), with its decision.

    ``status`` is ``adjust`` (``delta`` to add in Wawi), ``in_sync`` or a reason to leave it alone; ``reason``
    says why in words. Rows come out sorted by status, warehouse and SKU.
    """
    ffn = FFN_SCHEMA.validate(ffn)
    wawi = WAWI_SCHEMA.validate(wawi)
    mapping = pd.Series(params.warehouse_map, dtype="Int64")
    items = wawi.drop_duplicates("sku")[["sku", "item_id", "inventory_managed"]]

    # The newest row per (warehouse, SKU): a feed may hold several changes of one product.
    ffn = ffn.sort_values("version", key=_version_order, kind="stable")
    ambiguous = ffn[ffn["problem"] == ""].groupby(["ffn_warehouse_id", "merchant_sku"])["jfsku"].nunique()
    ambiguous = ambiguous[ambiguous > 1]
    ffn = ffn.drop_duplicates(["ffn_warehouse_id", "merchant_sku"], keep="last")
    plan = ffn.merge(items, how="left", left_on="merchant_sku", right_on="sku").drop(columns="sku")
    plan["wawi_warehouse_id"] = plan["ffn_warehouse_id"].map(mapping).astype("Int64")
    current = wawi.dropna(subset=["wawi_warehouse_id"])[["item_id", "wawi_warehouse_id", "quantity"]]
    plan = plan.merge(current, how="left", on=["item_id", "wawi_warehouse_id"])
    plan["current"] = plan["quantity"].fillna(0.0).astype("Float64")
    plan["target"] = plan["stock_level"].astype("Float64")

    status = pd.Series(ADJUST, index=plan.index, dtype="string")
    reason = pd.Series("", index=plan.index, dtype="string")

    def mark(mask: pd.Series, code: str, text: pd.Series | str) -> None:
        todo = mask & (status == ADJUST)
        status[todo] = code
        reason[todo] = text[todo] if isinstance(text, pd.Series) else text

    sku_text = "merchantSku " + plan["merchant_sku"] + " in " + plan["ffn_warehouse_id"]
    mark(plan["problem"] != "", INVALID_INPUT, sku_text + ": " + plan["problem"].astype("string"))
    is_ambiguous = pd.Series(
        [
            (w, s) in ambiguous.index
            for w, s in zip(plan["ffn_warehouse_id"], plan["merchant_sku"], strict=True)
        ],
        index=plan.index,
        dtype="bool",
    )
    mark(is_ambiguous, INVALID_INPUT, sku_text + ": several FFN products carry this merchantSku")
    mark(
        plan["wawi_warehouse_id"].isna(),
        UNMAPPED_WAREHOUSE,
        "FFN warehouse "
        + plan["ffn_warehouse_id"]
        + " has no Wawi warehouse (no Code match, not in the map)",
    )
    mark(plan["item_id"].isna(), UNKNOWN_SKU, sku_text + ": no Wawi item with this SKU")
    mark(
        plan["inventory_managed"].eq(False).fillna(False).astype("bool"),
        NO_INVENTORY,
        "Wawi item " + plan["merchant_sku"] + " has no inventory management",
    )
    level = plan["target"]
    mark(level.lt(0).fillna(False).astype("bool"), INVALID_INPUT, sku_text + ": stockLevel is negative")
    mark(
        level.gt(params.max_level).fillna(False).astype("bool"),
        INVALID_INPUT,
        sku_text + f": stockLevel is above the bound of {params.max_level:g}",
    )
    plan["delta"] = (plan["target"] - plan["current"]).astype("Float64")
    mark(plan["delta"].abs().le(_TOLERANCE).fillna(False).astype("bool"), IN_SYNC, "")
    plan["status"], plan["reason"] = status, reason
    plan.loc[plan["status"] != ADJUST, "delta"] = pd.NA
    plan.loc[plan["status"].isin([UNKNOWN_SKU, UNMAPPED_WAREHOUSE]), "current"] = pd.NA

    frames = [plan]
    if params.full:
        frames.append(_wawi_only(ffn, wawi, params))
    out = pd.concat([f[list(PLAN_COLUMNS)].astype(PLAN_COLUMNS) for f in frames], ignore_index=True)
    out = out.sort_values(["status", "ffn_warehouse_id", "merchant_sku"], kind="stable", ignore_index=True)
    return PLAN_SCHEMA.validate(out)


def merge_plans(pieces: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Plans of disjoint sets of SKUs as one plan, in :func:`plan_stock_adjustments`' order.

    Outside full mode every decision depends on its (warehouse, SKU) rows alone, so planning the SKUs in
    pieces (each as soon as its Wawi stock is read) and merging them gives the plan of all of them at once.
    """
    frames = [p[list(PLAN_COLUMNS)].astype(PLAN_COLUMNS) for p in pieces]
    if not frames:
        frames = [pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in PLAN_COLUMNS.items()})]
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["status", "ffn_warehouse_id", "merchant_sku"], kind="stable", ignore_index=True)
    return PLAN_SCHEMA.validate(out)


def _version_order(versions: pd.Series) -> pd.Series:
    """``v12`` sorts after ``v9``; rows without a version (full reads) keep their order."""
    return versions.str.removeprefix("v").replace("", "-1").astype("int64")


def _wawi_only(ffn: pd.DataFrame, wawi: pd.DataFrame, params: StockPlanParams) -> pd.DataFrame:
    """Full mode: Wawi stock in a mapped warehouse that FFN's rows do not cover (target 0, or not_in_ffn)."""
    back = {wawi_id: ffn_id for ffn_id, wawi_id in params.warehouse_map.items()}
    rows = wawi[wawi["wawi_warehouse_id"].isin(list(back)) & wawi["inventory_managed"]].copy()
    rows["ffn_warehouse_id"] = rows["wawi_warehouse_id"].map(back).astype("string")
    covered = set(zip(ffn["ffn_warehouse_id"], ffn["merchant_sku"], strict=True))
    known = set(ffn["merchant_sku"])
    uncovered = [(w, s) not in covered for w, s in zip(rows["ffn_warehouse_id"], rows["sku"], strict=True)]
    rows = rows[pd.Series(uncovered, index=rows.index, dtype="bool")]
    rows = rows.rename(columns={"sku": "merchant_sku", "quantity": "current"})
    in_ffn = rows["merchant_sku"].isin(known)
    rows["jfsku"] = pd.NA
    rows["version"] = ""
    rows["target"] = pd.Series(0.0, index=rows.index).where(in_ffn)
    rows["delta"] = (-rows["current"]).where(in_ffn)
    rows["status"] = pd.Series(ADJUST, index=rows.index).where(in_ffn, NOT_IN_FFN)
    rows.loc[in_ffn & (rows["current"].abs() <= _TOLERANCE), "status"] = IN_SYNC
    rows.loc[rows["status"] == IN_SYNC, "delta"] = pd.NA
    rows["reason"] = ""
    rows.loc[in_ffn, "reason"] = (
        "FFN holds none of " + rows["merchant_sku"] + " in " + rows["ffn_warehouse_id"]
    )
    rows.loc[~in_ffn, "reason"] = (
        "Wawi item "
        + rows["merchant_sku"]
        + " is unknown to FFN; its stock in "
        + rows["ffn_warehouse_id"]
        + " is left alone"
    )
    rows.loc[rows["status"] == IN_SYNC, "reason"] = ""
    # An item FFN does not know with nothing in Wawi either is not worth a line.
    rows = rows[(rows["status"] != NOT_IN_FFN) | (rows["current"].abs() > _TOLERANCE)]
    return rows


def adjustments(plan: pd.DataFrame) -> pd.DataFrame:
    """Only the rows to send, largest |delta| first (the dry run's table)."""
    todo = plan[plan["status"] == ADJUST]
    return todo.iloc[todo["delta"].abs().argsort(kind="stable")[::-1]].reset_index(drop=True)


def map_warehouses(
    ffn_warehouse_ids: Iterable[str],
    wawi_warehouses: Iterable[Mapping[str, Any]],
    explicit: Mapping[str, int] | None = None,
) -> tuple[dict[str, int], list[str]]:
    """FFN warehouseId -> Wawi warehouse Id: the explicit map first, else the Wawi warehouse of that Code.

    Returns the map and one reason per FFN warehouse left unmapped.
    """
    by_code: dict[str, int] = {}
    known_ids: set[int] = set()
    for warehouse in wawi_warehouses:
        if isinstance(warehouse.get("Id"), int):
            known_ids.add(warehouse["Id"])
            code = warehouse.get("Code")
            if isinstance(code, str) and code.strip():
                by_code.setdefault(code.strip(), warehouse["Id"])
    explicit = dict(explicit or {})
    mapping: dict[str, int] = {}
    problems: list[str] = []
    for ffn_id in dict.fromkeys(ffn_warehouse_ids):
        if ffn_id in explicit:
            if explicit[ffn_id] in known_ids:
                mapping[ffn_id] = explicit[ffn_id]
            else:
                problems.append(
                    f"FFN warehouse {ffn_id}: mapped to Wawi warehouse {explicit[ffn_id]}, unknown"
                )
        elif ffn_id in by_code:
            mapping[ffn_id] = by_code[ffn_id]
        else:
            problems.append(
                f"FFN warehouse {ffn_id}: no Wawi warehouse with this Code and no explicit mapping"
            )
    return mapping, problems
