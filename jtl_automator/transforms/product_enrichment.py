"""Enrichment from a supplier feed: which Wawi item each feed row is, and what may be filled in (pure).

The rule, in full (see docs/product-enrichment.md):

1. **Matching**, strongest key first: the supplier SKU (the item's supplier entry of *this* supplier,
   ``GET /items/{id}/suppliers``: ``Sku``), then the GTIN (both valid, compared as GTIN-14), then the
   manufacturer number (ignoring case and outer spaces). A row is matched by the first key that finds
   exactly one item. A key that finds several items makes the row ``ambiguous`` (no weaker key is tried:
   the data disagree and a person must look); two rows that find the same item are both ``ambiguous``.
   Rows no key finds are ``unmatched``.
2. **Never overwrite.** A field is filled only where Wawi has no value (nothing, an empty text, or 0 for a
   weight, a side or the purchase price: Wawi answers 0 where nobody entered one). Where both have a value
   and they differ, the row is a ``conflict``: reported side by side and left alone, unless the merchant's
   rules say otherwise: ``overwrite`` names fields the feed always wins, ``replace_invalid_gtin`` lets a
   valid feed GTIN replace a Wawi GTIN whose check digit is wrong.
3. Equal values (numbers within ``tolerance``, GTINs as GTIN-14, texts ignoring outer spaces,
   manufacturer numbers ignoring case) are ``same``: nothing to do.

Decisions are values, not deltas: a fill writes the feed's value, so a rerun finds Wawi equal and does
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field

from jtl_automator.transforms.product_feed import FEED_SCHEMA, KEY_FIELDS, NUMBER_FIELDS
from jtl_automator.transforms.product_quality import gtin_problems
from jtl_automator.transforms.validation import validate_frame

FillField = Literal[
    "gtin",
    "manufacturer_number",
    "item_weight",
    "shipping_weight",
    "length",
    "width",
    "height",
    "purchase_price",
    "short_description",
]
FILL_FIELDS: tuple[FillField, ...] = (
    "gtin",
    "manufacturer_number",
    "item_weight",
    "shipping_weight",
    "length",
    "width",
    "height",
    "purchase_price",
    "short_description",
)
#: Where each field lives in Wawi's Item (group, member): the PATCH body sends the whole group.
WAWI_FIELD = {
    "gtin": ("Identifiers", "Gtin"),
    "manufacturer_number": ("Identifiers", "ManufacturerNumber"),
    "item_weight": ("Weights", "ItemWeigth"),  # sic: the API's spelling
    "shipping_weight": ("Weights", "ShippingWeight"),
    "length": ("Dimensions", "Length"),
    "width": ("Dimensions", "Width"),
    "height": ("Dimensions", "Height"),
    "purchase_price": ("ItemPriceData", "PurchasePriceNet"),
    "short_description": (None, "ShortDescription"),
}

SUPPLIER_SKU = "supplier_sku"
GTIN = "gtin"
MANUFACTURER_NUMBER = "manufacturer_number"
AMBIGUOUS = "ambiguous"
UNMATCHED = "unmatched"

FILL = "fill"
OVERWRITE = "overwrite"
CONFLICT = "conflict"
SAME = "same"
WRITES = (FILL, OVERWRITE)

CATALOGUE_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("int64"),
        "sku": pa.Column("string", nullable=True),
        "name": pa.Column("string", nullable=True),
        "gtin": pa.Column("string", nullable=True),
        "manufacturer_number": pa.Column("string", nullable=True),
        **{name: pa.Column("float64", nullable=True) for name in NUMBER_FIELDS},
        "short_description": pa.Column("string", nullable=True),
    },
    name="wawi_catalogue",
    unique=["item_id"],
    coerce=True,
)
SUPPLIER_ROWS_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("int64"),
        "supplier_id": pa.Column("int64"),
        "supplier_sku": pa.Column("string", nullable=True),
    },
    name="wawi_item_suppliers",
    coerce=True,
)
MATCH_COLUMNS = {
    "row": "int64",
    "item_id": "Int64",
    "sku": "string",
    "matched_by": "string",
    "note": "string",
}
DECISION_COLUMNS = {
    "item_id": "int64",
    "sku": "string",
    "row": "int64",
    "field": "string",
    "wawi_value": "string",
    "feed_value": "string",
    "number": "float64",  # the value to write, numeric fields
    "text": "string",  # the value to write, text fields
    "status": "string",
}
DECISIONS_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(dtype, nullable=name in ("wawi_value", "number", "text"))
        for name, dtype in DECISION_COLUMNS.items()
    },
    checks=[
        pa.Check(lambda df: df["status"].isin([FILL, OVERWRITE, CONFLICT]).all(), error="unknown status")
    ],
    name="fill_decisions",
)


class EnrichmentRules(BaseModel):
    """What the merchant allows beyond filling gaps (part of the flow's parameters)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    overwrite: frozenset[FillField] = Field(
        default=frozenset(), description="Fields the feed always wins (a conflict becomes an overwrite)."
    )
    replace_invalid_gtin: bool = Field(
        default=False, description="A valid feed GTIN replaces a Wawi GTIN with a wrong check digit."
    )
    fields: frozenset[FillField] = Field(
        default=frozenset(FILL_FIELDS), description="Fields the feed may fill at all."
    )
    tolerance: float = Field(default=1e-4, ge=0, description="Numbers this close count as equal.")


# -- matching ---------------------------------------------------------------------------------------------


def _unique_lookup(keys: pd.Series, item_ids: pd.Series, skus: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Per key: its one item id (NA when several items share it) and, for shared keys, their SKUs."""
    frame = pd.DataFrame({"key": keys, "item_id": item_ids, "sku": skus}).dropna(subset=["key"])
    frame = frame.drop_duplicates(["key", "item_id"])
    counts = frame.groupby("key")["item_id"].size()
    single = frame[frame["key"].map(counts) == 1].set_index("key")["item_id"]
    shared = frame[frame["key"].map(counts) > 1]
    names = shared.groupby("key")["sku"].agg(lambda s: ", ".join(sorted(str(v) for v in s)))
    return single, names


def _gtin_key(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    valid = text.notna() & (text != "") & gtin_problems(text).isna()
    return text.where(valid).str.zfill(14)


def _mpn_key(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.casefold()
    return text.mask(text == "")


def match_feed(
    feed: pd.DataFrame, catalogue: pd.DataFrame, supplier_rows: pd.DataFrame, supplier_id: int
) -> pd.DataFrame:
    """One row per feed row: the Wawi item it is (or why none), and by which key (see the module)."""
    feed = FEED_SCHEMA.validate(feed)
    catalogue = validate_frame(CATALOGUE_SCHEMA, catalogue)
    supplier_rows = SUPPLIER_ROWS_SCHEMA.validate(supplier_rows)
    sku_of = catalogue.set_index("item_id")["sku"]
    ours = supplier_rows[supplier_rows["supplier_id"] == supplier_id]
    ours_sku = ours["supplier_sku"].astype("string").str.strip()
    lookups = {
        SUPPLIER_SKU: (
            feed["supplier_sku"].astype("string").str.strip(),
            _unique_lookup(ours_sku.mask(ours_sku == ""), ours["item_id"], ours["item_id"].map(sku_of)),
        ),
        GTIN: (
            _gtin_key(feed["gtin"]),
            _unique_lookup(_gtin_key(catalogue["gtin"]), catalogue["item_id"], catalogue["sku"]),
        ),
        MANUFACTURER_NUMBER: (
            _mpn_key(feed["manufacturer_number"]),
            _unique_lookup(
                _mpn_key(catalogue["manufacturer_number"]), catalogue["item_id"], catalogue["sku"]
            ),
        ),
    }
    n = len(feed)
    item = pd.Series(pd.NA, index=feed.index, dtype="Int64")
    how = pd.Series(UNMATCHED, index=feed.index, dtype="string")
    note = pd.Series(
        "no Wawi item with this supplier SKU, GTIN or manufacturer number", index=feed.index, dtype="string"
    )
    open_rows = np.ones(n, dtype=bool)
    labels = {SUPPLIER_SKU: "supplier SKU", GTIN: "GTIN", MANUFACTURER_NUMBER: "manufacturer number"}
    for key in KEY_FIELDS:
        values, (single, shared) = lookups[key]
        shown = feed[key].astype("string").str.strip()
        found = values.map(single).astype("Int64")
        hit = open_rows & found.notna().to_numpy()
        item[hit] = found[hit]
        how[hit] = key
        note[hit] = ""
        several = values.map(shared)
        many = open_rows & several.notna().to_numpy()
        how[many] = AMBIGUOUS
        note[many] = f"{labels[key]} " + shown[many] + " is on Wawi items " + several[many].astype("string")
        open_rows &= ~(hit | many)
    taken = item.notna() & item.duplicated(keep=False)
    if taken.any():
        rows_of = feed.loc[taken, "row"].groupby(item[taken]).agg(lambda s: ", ".join(str(r) for r in s))
        note[taken] = (
            "Wawi item "
            + item[taken].map(sku_of).astype("string")
            + " is matched by rows "
            + item[taken].map(rows_of).astype("string")
        )
        how[taken] = AMBIGUOUS
        item[taken] = pd.NA
    return pd.DataFrame(
        {"row": feed["row"], "item_id": item, "sku": item.map(sku_of), "matched_by": how, "note": note}
    ).astype(MATCH_COLUMNS)


# -- what to fill -----------------------------------------------------------------------------------------


def _present_number(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    return (numbers.notna() & (numbers != 0)).astype(bool)


def _present_text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return (text.notna() & (text != "")).astype(bool)


def _shown(values: pd.Series, numeric: bool) -> pd.Series:
    if numeric:
        return (
            pd.to_numeric(values, errors="coerce")
            .map(lambda v: "" if pd.isna(v) else f"{v:g}")
            .astype("string")
        )
    return values.astype("string").str.strip()


def fill_decisions(
    feed: pd.DataFrame, matches: pd.DataFrame, catalogue: pd.DataFrame, rules: EnrichmentRules | None = None
) -> tuple[pd.DataFrame, int]:
    """Per matched row and field the feed has a value for: ``fill``, ``overwrite`` or ``conflict``.

    Returns the decisions (``DECISIONS_SCHEMA``, sorted by SKU and field) and how many values were already
    the same (nothing to do, not listed).
    """
    rules = rules or EnrichmentRules()
    feed = FEED_SCHEMA.validate(feed)
    catalogue = validate_frame(CATALOGUE_SCHEMA, catalogue)
    matched = matches[matches["item_id"].notna()][["row", "item_id"]].astype({"item_id": "int64"})
    joined = matched.merge(feed, on="row", how="inner").merge(
        catalogue, on="item_id", how="inner", suffixes=("_feed", "_wawi")
    )
    parts: list[pd.DataFrame] = []
    same_count = 0
    for name in FILL_FIELDS:
        if name not in rules.fields:
            continue
        numeric = name in NUMBER_FIELDS
        ours, theirs = joined[f"{name}_wawi"], joined[f"{name}_feed"]
        present = _present_number if numeric else _present_text
        has_feed = present(theirs)
        has_wawi = present(ours)
        if numeric:
            a, b = pd.to_numeric(ours, errors="coerce"), pd.to_numeric(theirs, errors="coerce")
            equal = ((a - b).abs() <= rules.tolerance).fillna(False).astype(bool)
        elif name == GTIN:
            equal = (_gtin_key(ours) == _gtin_key(theirs)).fillna(False).astype(bool)
        elif name == MANUFACTURER_NUMBER:
            equal = (_mpn_key(ours) == _mpn_key(theirs)).fillna(False).astype(bool)
        else:
            equal = (
                (ours.astype("string").str.strip() == theirs.astype("string").str.strip())
                .fillna(False)
                .astype(bool)
            )
        status = pd.Series(pd.NA, index=joined.index, dtype="string")
        status[has_feed & ~has_wawi] = FILL
        differ = has_feed & has_wawi & ~equal
        wins = name in rules.overwrite
        if name == GTIN and rules.replace_invalid_gtin:
            wins_rows = differ & gtin_problems(ours).notna()
        else:
            wins_rows = differ & wins
        status[differ] = CONFLICT
        status[wins_rows] = OVERWRITE
        same_count += int((has_feed & has_wawi & equal).sum())
        chosen = status.notna()
        if not chosen.any():
            continue
        rows = joined[chosen]
        parts.append(
            pd.DataFrame(
                {
                    "item_id": rows["item_id"],
                    "sku": rows["sku"],
                    "row": rows["row"],
                    "field": name,
                    "wawi_value": _shown(rows[f"{name}_wawi"], numeric).mask(~has_wawi[chosen]),
                    "feed_value": _shown(rows[f"{name}_feed"], numeric),
                    "number": pd.to_numeric(rows[f"{name}_feed"], errors="coerce") if numeric else np.nan,
                    "text": pd.NA if numeric else rows[f"{name}_feed"].astype("string").str.strip(),
                    "status": status[chosen],
                }
            )
        )
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=d) for c, d in DECISION_COLUMNS.items()})
        return empty, same_count
    decisions = pd.concat(parts, ignore_index=True).astype(DECISION_COLUMNS)
    order = {name: position for position, name in enumerate(FILL_FIELDS)}
    decisions = decisions.assign(_o=decisions["field"].map(order)).sort_values(
        ["sku", "item_id", "_o"], kind="stable"
    )
    return DECISIONS_SCHEMA.validate(decisions.drop(columns="_o").reset_index(drop=True)), same_count


def conflicts(decisions: pd.DataFrame) -> pd.DataFrame:
    """The conflicts side by side: SKU, field, Wawi's value, the feed's value, the feed row."""
    rows = decisions[decisions["status"] == CONFLICT]
    return rows[["sku", "item_id", "field", "wawi_value", "feed_value", "row"]].reset_index(drop=True)


def writes(decisions: pd.DataFrame) -> pd.DataFrame:
    """The decisions that write a value (fills and allowed overwrites)."""
    return decisions[decisions["status"].isin(WRITES)].reset_index(drop=True)


# -- Wawi's items as frames ---------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _group(item: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = item.get(name)
    return value if isinstance(value, Mapping) else {}


def catalogue_frame(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Listed Wawi items as one row each: the fields the enrichment fills and the quality report checks.

    Read tolerantly (Wawi omits keys freely): a value of the wrong type counts as missing. Items without an
    integer ``Id`` are left out. Columns: :data:`CATALOGUE_SCHEMA`'s plus ``description``,
    ``category_count`` and ``manufacturer_id``.
    """
    rows: list[dict[str, Any]] = []
    for item in items:
        item_id = item.get("Id")
        if not isinstance(item_id, int) or isinstance(item_id, bool):
            continue
        identifiers, weights = _group(item, "Identifiers"), _group(item, "Weights")
        dimensions, prices = _group(item, "Dimensions"), _group(item, "ItemPriceData")
        categories = item.get("Categories")
        maker = item.get("ManufacturerId")
        rows.append(
            {
                "item_id": item_id,
                "sku": _text(item.get("SKU")),
                "name": _text(item.get("Name")),
                "gtin": _text(identifiers.get("Gtin")),
                "manufacturer_number": _text(identifiers.get("ManufacturerNumber")),
                "item_weight": _number(weights.get("ItemWeigth")),  # sic
                "shipping_weight": _number(weights.get("ShippingWeight")),
                "length": _number(dimensions.get("Length")),
                "width": _number(dimensions.get("Width")),
                "height": _number(dimensions.get("Height")),
                "purchase_price": _number(prices.get("PurchasePriceNet")),
                "short_description": _text(item.get("ShortDescription")),
                "description": _text(item.get("Description")),
                "category_count": len(categories) if isinstance(categories, list) else 0,
                "manufacturer_id": maker
                if isinstance(maker, int) and not isinstance(maker, bool) and maker
                else None,
            }
        )
    columns = {
        **{name: str(column.dtype) for name, column in CATALOGUE_SCHEMA.columns.items()},
        "description": "string",
        "category_count": "int64",
        "manufacturer_id": "Int64",
    }
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
    return pd.DataFrame(rows).astype(columns)


def category_memberships(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """(item_id, category_id) for each category reference of each listed item."""
    pairs = [
        (item["Id"], ref["CategoryId"])
        for item in items
        if isinstance(item.get("Id"), int)
        for ref in item.get("Categories") or ()
        if isinstance(ref, Mapping) and isinstance(ref.get("CategoryId"), int)
    ]
    return pd.DataFrame(pairs, columns=["item_id", "category_id"]).astype("int64")
