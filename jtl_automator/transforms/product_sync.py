"""Product master sync Wawi -> FFN: which Wawi items FFN must know, what to create, what to change, and why.

The rule, in full (see docs/product-sync.md):

1. **Scope.** An item is fulfilled by FFN when the merchant's rule says so (:class:`FulfilmentRule`): all
   active items with inventory management (default), active items in one of some categories, or active
   items with a property (value). Parents of variations (``ChildItems``) and bills of materials
   (``Components``) are never products of their own here.
2. **Key.** Wawi ``SKU`` = FFN ``merchantSku``. An in-scope item without an FFN product is created; with
   one, each synced field that differs is updated; with several (FFN does not promise unique SKUs) it is
   ``ambiguous`` and left alone. FFN products are never deleted: one whose SKU no in-scope item carries
   any more is reported as ``vanished``.
3. **Fields and units** (:data:`FIELDS`): name, GTIN -> EAN, manufacturer number (+ manufacturer) -> MPN,
   manufacturer, country of origin, TARIC, weights (kg on both sides: ShippingWeight -> weight, ItemWeigth
   -> netWeight), dimensions (Wawi centimetres -> FFN metres), packaging units -> bundles, net sales price
   -> netRetailPrice. A text Wawi leaves empty clears FFN's; a number Wawi leaves at 0 or empty is "not
   maintained" and FFN's value is kept (a product weighing 0 kg helps no warehouse).
4. **Bad input** (an item without SKU, a SKU two items share, a GTIN with a wrong check digit, a negative or
   implausible weight or dimension, a country that is no ISO code, ...) makes that item ``invalid`` with a
   reason naming the field; the batch goes on.

Pure: JSON is read into frames by the helpers below; :func:`plan_product_sync` compares two frames.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.gtin import gtin_valid
from jtl_automator.limits import FFN_TEXT_MAX

CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
INVALID = "invalid"
AMBIGUOUS = "ambiguous"
VANISHED = "vanished"
STATUSES = (CREATE, UPDATE, UNCHANGED, INVALID, AMBIGUOUS, VANISHED)


@dataclass(frozen=True)
class SyncedField:
    """One synced value: its frame column, FFN's path, the Wawi source and how values compare."""

    column: str
    path: str
    source: str
    kind: Literal["text", "number", "bundles"]
    unit: str = ""
    tolerance: float = 0.0


#: What the sync writes, in the order of the diff workbook's rows.
FIELDS: tuple[SyncedField, ...] = (
    SyncedField("name", "name", "Name", "text"),
    SyncedField("ean", "identifier.ean", "Identifiers.Gtin", "text"),
    SyncedField("mpn_part", "identifier.mpn.partNumber", "Identifiers.ManufacturerNumber", "text"),
    SyncedField("mpn_maker", "identifier.mpn.manufacturer", "ManufacturerId -> GET /manufacturers", "text"),
    SyncedField("manufacturer", "manufacturer", "ManufacturerId -> GET /manufacturers", "text"),
    SyncedField("origin_country", "originCountry", "CountryOfOrigin", "text"),
    SyncedField("taric", "specifications.taric", "Taric", "text"),
    SyncedField("weight", "weight", "Weights.ShippingWeight", "number", "kg", 0.0005),
    SyncedField("net_weight", "netWeight", "Weights.ItemWeigth", "number", "kg", 0.0005),
    SyncedField("length", "dimensions.length", "Dimensions.Length (cm)", "number", "m", 0.00005),
    SyncedField("width", "dimensions.width", "Dimensions.Width (cm)", "number", "m", 0.00005),
    SyncedField("height", "dimensions.height", "Dimensions.Height (cm)", "number", "m", 0.00005),
    SyncedField("bundles", "bundles", "item suppliers: PackagingUnit, AmountPackagingUnit", "bundles"),
    SyncedField("price", "netRetailPrice.amount", "ItemPriceData.SalesPriceNet", "number", "", 0.005),
    SyncedField("currency", "netRetailPrice.currency", "the sync's currency", "text"),
)
FIELD_BY_COLUMN = {f.column: f for f in FIELDS}
_TEXT = [f.column for f in FIELDS if f.kind != "number"]
_NUMBERS = [f.column for f in FIELDS if f.kind == "number"]
#: Handling flags FFN requires on a new product, from the item's storage options; set at creation only
#: (the fulfiller may handle them differently afterwards, and the issue's field list does not name them).
CREATE_FLAGS: dict[str, tuple[str, str]] = {
    "is_batch": ("isBatch", "SubjectToBatchItem"),
    "is_best_before": ("isBestBefore", "SubjectToShelfLifeExpirationDate"),
    "is_serial_number": ("isSerialNumber", "SerialNumberItem"),
    "is_divisible": ("isDivisible", "SplitQuantity"),
}
_ISO_COUNTRY = re.compile(r"^[A-Z]{2}$")
#: Centimetres per metre (Wawi dimensions are cm, FFN's m); kilograms are kilograms on both sides.
CM_PER_M = 100.0


def _value_columns() -> dict[str, pa.Column]:
    return {
        **{c: pa.Column("string", nullable=True) for c in _TEXT},
        **{c: pa.Column("Float64", nullable=True) for c in _NUMBERS},
    }


WAWI_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("Int64"),
        "merchant_sku": pa.Column("string"),
        "in_scope": pa.Column("bool"),
        "scope_reason": pa.Column("string"),
        "problem": pa.Column("string"),
        **_value_columns(),
        **{flag: pa.Column("bool") for flag in CREATE_FLAGS},
    },
    name="wawi_products",
)
FFN_SCHEMA = pa.DataFrameSchema(
    {"jfsku": pa.Column("string"), "merchant_sku": pa.Column("string"), **_value_columns()},
    name="ffn_products",
)
PLAN_KEYS: dict[str, str] = {
    "merchant_sku": "string",
    "item_id": "Int64",
    "jfsku": "string",
    "status": "string",
    "reason": "string",
    "changed": "string",
}
PLAN_SCHEMA = pa.DataFrameSchema(
    {
        **{k: pa.Column(t, nullable=k in ("item_id", "jfsku")) for k, t in PLAN_KEYS.items()},
        "status": pa.Column("string", pa.Check.isin(STATUSES)),
    },
    checks=pa.Check(
        lambda df: ((df["status"] != UPDATE) | (df["changed"] != "")).all(),
        error="an update without a change",
    ),
    name="product_sync_plan",
)
CHANGES_SCHEMA = pa.DataFrameSchema(
    {
        "merchant_sku": pa.Column("string"),
        "jfsku": pa.Column("string", nullable=True),
        "item_id": pa.Column("Int64", nullable=True),
        "action": pa.Column("string", pa.Check.isin([CREATE, UPDATE])),
        "field": pa.Column("string"),
        "before": pa.Column("string"),
        "after": pa.Column("string"),
    },
    name="product_field_changes",
)


class FulfilmentRule(BaseModel):
    """Which Wawi items FFN fulfils; every rule wants the item active (an inactive item is not for sale).

    - ``inventory`` (default): every active item with inventory management;
    - ``category``: active items in one of ``category_ids`` (the item's own categories, not their parents);
    - ``property``: active items with a value of ``property_id`` (one of ``property_value_ids`` when given).
      Wawi 1.0 reads properties per item (``GET /items/{id}/properties``): one request per active item.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["inventory", "category", "property"] = "inventory"
    category_ids: frozenset[int] = Field(default_factory=frozenset, description="Category rule: Wawi Ids.")
    property_id: int | None = Field(default=None, description="Property rule: the Wawi PropertyId.")
    property_value_ids: frozenset[int] = Field(
        default_factory=frozenset, description="Property rule: these values only (empty: any value)."
    )

    @model_validator(mode="after")
    def _complete(self) -> FulfilmentRule:
        if self.kind == "category" and not self.category_ids:
            raise ValueError("the category rule needs category_ids")
        if self.kind == "property" and self.property_id is None:
            raise ValueError("the property rule needs property_id")
        return self

    def describe(self) -> str:
        """The rule in words, for reasons and reports."""
        if self.kind == "category":
            return f"active and in category {', '.join(map(str, sorted(self.category_ids)))}"
        if self.kind == "property":
            values = sorted(self.property_value_ids)
            suffix = f" = {', '.join(map(str, values))}" if values else ""
            return f"active with property {self.property_id}{suffix}"
        return "active with inventory management"


class ProductPlanParams(BaseModel):
    """What the transform needs besides the frames: the rule, the currency and the sanity bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: FulfilmentRule = Field(default_factory=FulfilmentRule)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="Of netRetailPrice.")
    max_weight_kg: float = Field(default=1000.0, gt=0, description="A weight above this is refused.")
    max_dimension_cm: float = Field(default=500.0, gt=0, description="A side longer than this is refused.")
    max_price: float = Field(default=1_000_000.0, gt=0, description="A net price above this is refused.")
    packaging_units: bool = Field(default=True, description="Sync bundles from the packaging units.")
    full: bool = Field(default=True, description="Every Wawi item and FFN product was read.")


# --------------------------------------------------------------------------------------------- reading
def _text(value: Any) -> str | None:
    """A string value stripped; empty and non-strings are None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _number(value: Any, where: str, problems: list[str], bound: float, unit: str) -> float | None:
    """A positive number, or None for "not maintained" (0, empty); bad values add a problem."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"{where} is not a number: {value!r}")
        return None
    if value < 0:
        problems.append(f"{where} is negative: {value:g} {unit}".rstrip())
        return None
    if value > bound:
        problems.append(f"{where} is {value:g} {unit}, above the plausible {bound:g} {unit}")
        return None
    return float(value) if value > 0 else None


def _section(item: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = item.get(key)
    return value if isinstance(value, Mapping) else {}


def canonical_bundles(rows: Iterable[Mapping[str, Any]]) -> str:
    """Bundles as comparable text: ``[{name, quantity}]`` by quantity, one per quantity (``[]``: none)."""
    by_quantity: dict[float, str] = {}
    for row in rows:
        quantity = row.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int | float) or not math.isfinite(quantity):
            continue
        by_quantity.setdefault(float(quantity), str(row.get("name") or "").strip())
    return json.dumps(
        [{"name": by_quantity[q], "quantity": q} for q in sorted(by_quantity)], ensure_ascii=False
    )


def packaging_bundles(suppliers: Sequence[Mapping[str, Any]]) -> str:
    """The item suppliers' packaging units of more than one piece, standard supplier first, as bundles."""
    ordered = sorted(suppliers, key=lambda s: not s.get("IsStandard"))
    rows = []
    for supplier in ordered:
        amount = supplier.get("AmountPackagingUnit")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
            continue
        if amount > 1:
            name = _text(supplier.get("PackagingUnit")) or f"VPE {amount:g}"
            rows.append({"name": name, "quantity": float(amount)})
    return canonical_bundles(rows)


def item_scope(
    item: Mapping[str, Any], rule: FulfilmentRule, properties: Mapping[int, Sequence[Mapping[str, Any]]]
) -> str:
    """Empty when the item is fulfilled by FFN, else why not."""
    if item.get("ChildItems"):
        return "parent of variations (its variations are the products)"
    if item.get("Components"):
        return "bill of materials (Components): not synced as a product"
    if item.get("IsActive") is not True:
        return "inactive in Wawi"
    if rule.kind == "inventory":
        if _section(item, "StorageOptions").get("InventoryManagementActive") is not True:
            return "no inventory management"
        return ""
    if rule.kind == "category":
        ids = {c.get("CategoryId") for c in item.get("Categories") or () if isinstance(c, Mapping)}
        return (
            ""
            if ids & rule.category_ids
            else f"not in category {', '.join(map(str, sorted(rule.category_ids)))}"
        )
    values = properties.get(int(item["Id"])) or ()
    for row in values:
        if row.get("PropertyId") == rule.property_id and (
            not rule.property_value_ids or row.get("PropertyValueId") in rule.property_value_ids
        ):
            return ""
    return f"without property {rule.property_id}" + (
        f" = {', '.join(map(str, sorted(rule.property_value_ids)))}" if rule.property_value_ids else ""
    )


def _desired(
    item: Mapping[str, Any],
    params: ProductPlanParams,
    manufacturers: Mapping[int, str],
    suppliers: Sequence[Mapping[str, Any]] | None,
) -> tuple[dict[str, Any], list[str]]:
    """What FFN should hold for this item (FFN units), and the problems found on the way."""
    problems: list[str] = []
    values: dict[str, Any] = dict.fromkeys(FIELD_BY_COLUMN)
    name = _text(item.get("Name"))
    if name is None:
        problems.append("Name is empty (FFN requires a name)")
    elif len(name) > FFN_TEXT_MAX:
        problems.append(f"Name is {len(name)} characters long, FFN takes at most {FFN_TEXT_MAX}")
    values["name"] = name
    identifiers = _section(item, "Identifiers")
    gtin = _text(identifiers.get("Gtin"))
    if gtin is not None and not gtin_valid(gtin):
        problems.append(
            f"Identifiers.Gtin {gtin!r} is not a GTIN (8, 12, 13 or 14 digits, valid check digit)"
        )
    values["ean"] = gtin
    maker_id = item.get("ManufacturerId")
    maker = manufacturers.get(maker_id) if isinstance(maker_id, int) else None
    part = _text(identifiers.get("ManufacturerNumber"))
    values["manufacturer"] = maker
    values["mpn_part"] = part
    values["mpn_maker"] = (maker or "") if part is not None else None
    country = _text(item.get("CountryOfOrigin"))
    if country is not None:
        country = country.upper()
        if not _ISO_COUNTRY.match(country):
            problems.append(
                f"CountryOfOrigin {item.get('CountryOfOrigin')!r} is not an ISO 3166 alpha-2 code"
            )
    values["origin_country"] = country
    values["taric"] = _text(item.get("Taric"))
    for column, text in (("manufacturer", maker), ("mpn_part", part), ("taric", values["taric"])):
        if text is not None and len(text) > FFN_TEXT_MAX:
            problems.append(f"{FIELD_BY_COLUMN[column].source} is longer than {FFN_TEXT_MAX} characters")
    weights = _section(item, "Weights")
    gross = _number(
        weights.get("ShippingWeight"), "Weights.ShippingWeight", problems, params.max_weight_kg, "kg"
    )
    net = _number(weights.get("ItemWeigth"), "Weights.ItemWeigth", problems, params.max_weight_kg, "kg")
    if gross is not None and net is not None and net > gross:
        problems.append(f"Weights.ItemWeigth {net:g} kg is above Weights.ShippingWeight {gross:g} kg")
    values["weight"] = None if gross is None else round(gross, 4)
    values["net_weight"] = None if net is None else round(net, 4)
    sizes = _section(item, "Dimensions")
    cm = {
        key: _number(
            sizes.get(key.title()), f"Dimensions.{key.title()}", problems, params.max_dimension_cm, "cm"
        )
        for key in ("length", "width", "height")
    }
    if all(v is not None for v in cm.values()):  # FFN wants length and height; a half-maintained box is none
        for key, value in cm.items():
            values[key] = round(float(value or 0) / CM_PER_M, 5)
    price = _number(
        _section(item, "ItemPriceData").get("SalesPriceNet"),
        "ItemPriceData.SalesPriceNet",
        problems,
        params.max_price,
        params.currency,
    )
    if price is not None:
        values["price"] = round(price, 4)
        values["currency"] = params.currency
    if params.packaging_units and suppliers is not None:
        values["bundles"] = packaging_bundles(suppliers)
    return values, problems


def wawi_products_frame(
    items: Iterable[Mapping[str, Any]],
    params: ProductPlanParams,
    *,
    manufacturers: Mapping[int, str] | None = None,
    suppliers: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
    properties: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
) -> pd.DataFrame:
    """One row per Wawi item with an ``Id``: in scope or not (and why), the problems, FFN's desired values.

    ``suppliers`` (item id -> ItemSupplier rows) feed the bundles; an item missing from it has its bundles
    left as FFN holds them. ``properties`` (item id -> ItemPropertyValue rows) serve the property rule.
    """
    return products_frame(
        product_rows(items, params, manufacturers=manufacturers, suppliers=suppliers, properties=properties)
    )


def product_rows(
    items: Iterable[Mapping[str, Any]],
    params: ProductPlanParams,
    *,
    manufacturers: Mapping[int, str] | None = None,
    suppliers: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
    properties: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`wawi_products_frame`'s rows, before the check across items.

    Each row depends on its item alone, so a listing's pages become rows while the next ones are read.
    """
    rows: list[dict[str, Any]] = []
    makers = manufacturers or {}
    for item in items:
        item_id = item.get("Id") if isinstance(item, Mapping) else None
        if isinstance(item_id, bool) or not isinstance(item_id, int):
            continue
        sku_value = item.get("SKU")
        sku = sku_value.strip() if isinstance(sku_value, str) else ""
        reason = item_scope(item, params.rule, properties or {})
        values, problems = _desired(
            item, params, makers, None if suppliers is None else suppliers.get(item_id)
        )
        if not sku:
            problems.insert(0, "no SKU: the item cannot be matched to an FFN product (merchantSku)")
        elif len(sku) > FFN_TEXT_MAX:
            problems.insert(0, f"SKU is {len(sku)} characters long, FFN takes at most {FFN_TEXT_MAX}")
        options = _section(item, "StorageOptions")
        rows.append(
            {
                "item_id": item_id,
                "merchant_sku": sku,
                "in_scope": not reason,
                "scope_reason": reason,
                "problem": "; ".join(problems),
                **values,
                **{flag: options.get(source) is True for flag, (_, source) in CREATE_FLAGS.items()},
            }
        )
    return rows


def products_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame of :func:`product_rows` (of every item: a SKU carried by several items is a problem)."""
    return checked_products_frame([rows_frame(rows)])


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Some items' :func:`product_rows` framed, before the check across items (a page of the listing)."""
    keys = {"item_id": "Int64", "merchant_sku": "string", "in_scope": "bool", "scope_reason": "string"}
    return _frame(rows, {**keys, "problem": "string", **dict.fromkeys(CREATE_FLAGS, "bool")})


def _shared_sku(frame: pd.DataFrame) -> pd.Series:
    """Whether a row is an in-scope item whose SKU another in-scope item carries too."""
    counts = Counter(frame.loc[frame["in_scope"] & (frame["merchant_sku"] != ""), "merchant_sku"])
    return frame["in_scope"] & frame["merchant_sku"].map(lambda s: counts.get(s, 0) > 1).astype("bool")


def shared_sku_items(frame: pd.DataFrame) -> set[int]:
    """The in-scope items whose SKU another in-scope item carries too (of a frame of every item)."""
    return set(frame.loc[_shared_sku(frame), "item_id"].tolist())


def checked_products_frame(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """:func:`rows_frame` parts of every item (say, page by page) as one frame, checked across items."""
    frame = parts[0] if len(parts) == 1 else pd.concat(parts or [rows_frame([])], ignore_index=True)
    shared = _shared_sku(frame)
    if shared.any():
        ids = frame[shared].groupby("merchant_sku")["item_id"].agg(lambda s: ", ".join(map(str, sorted(s))))
        note = "SKU carried by several Wawi items (" + frame.loc[shared, "merchant_sku"].map(ids) + ")"
        frame.loc[shared, "problem"] = (note + "; " + frame.loc[shared, "problem"]).str.rstrip("; ")
    return WAWI_SCHEMA.validate(frame)


def with_bundles(
    wawi: pd.DataFrame, suppliers: Mapping[int, Sequence[Mapping[str, Any]]], params: ProductPlanParams
) -> pd.DataFrame:
    """``wawi`` (items framed before their supplier rows were read) with the bundles of ``suppliers``' items.

    The supplier rows feed the bundles and nothing else, so this gives the rows
    :func:`wawi_products_frame` gives with ``suppliers``: a run frames every item once, then fills in the
    bundles chunk by chunk as the rows arrive. Items not in ``suppliers`` keep what ``wawi`` holds.
    """
    if not params.packaging_units:
        return wawi
    out = wawi.copy()
    out["bundles"] = pd.Series(
        [
            packaging_bundles(suppliers[item_id]) if item_id in suppliers else held
            for item_id, held in zip(out["item_id"].tolist(), out["bundles"].tolist(), strict=True)
        ],
        index=out.index,
        dtype="string",
    )
    return out


def _frame(rows: list[dict[str, Any]], keys: Mapping[str, str]) -> pd.DataFrame:
    dtypes = {**keys, **dict.fromkeys(_TEXT, "string"), **dict.fromkeys(_NUMBERS, "Float64")}
    return pd.DataFrame(
        {name: pd.Series([r.get(name) for r in rows], dtype=dtype) for name, dtype in dtypes.items()}
    )


def _ffn_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def ffn_values(product: Mapping[str, Any]) -> dict[str, Any]:
    """The synced values an FFN product holds now (missing or malformed ones as None)."""
    identifier = _section(product, "identifier")
    mpn = _section(identifier, "mpn")
    dimensions = _section(product, "dimensions")
    price = _section(product, "netRetailPrice")
    bundles = product.get("bundles")
    return {
        "name": _text(product.get("name")),
        "ean": _text(identifier.get("ean")),
        "mpn_part": _text(mpn.get("partNumber")) if mpn else None,
        "mpn_maker": (mpn.get("manufacturer") or "").strip() if mpn else None,
        "manufacturer": _text(product.get("manufacturer")),
        "origin_country": _text(product.get("originCountry")),
        "taric": _text(_section(product, "specifications").get("taric")),
        "weight": _ffn_number(product.get("weight")),
        "net_weight": _ffn_number(product.get("netWeight")),
        "length": _ffn_number(dimensions.get("length")),
        "width": _ffn_number(dimensions.get("width")),
        "height": _ffn_number(dimensions.get("height")),
        "bundles": canonical_bundles(b for b in bundles if isinstance(b, Mapping))
        if isinstance(bundles, list)
        else None,
        "price": _ffn_number(price.get("amount")),
        "currency": _text(price.get("currency")),
    }


def ffn_products_frame(products: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per FFN product (jfsku) with its merchantSku and the synced values it holds."""
    rows = [
        {
            "jfsku": str(p.get("jfsku") or ""),
            "merchant_sku": str(p.get("merchantSku") or "").strip(),
            **ffn_values(p),
        }
        for p in products
        if isinstance(p, Mapping)
    ]
    return FFN_SCHEMA.validate(_frame(rows, {"jfsku": "string", "merchant_sku": "string"}))


# --------------------------------------------------------------------------------------------- planning
def _differs(
    field: SyncedField, wanted: pd.Series, current: pd.Series
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Where FFN's value must change to Wawi's (numbers Wawi does not maintain never change).

    On plain arrays: a chunk of a few items costs microseconds per field, not a pandas pass each.
    """
    if field.kind == "number":
        want = wanted.to_numpy(dtype=float, na_value=np.nan)
        have = current.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            gap = np.abs(want - have) > field.tolerance  # False where either is missing
        return np.asarray(~np.isnan(want) & (np.isnan(have) | gap), dtype=bool)
    want_text = wanted.to_numpy(dtype=object, na_value="")
    out = want_text != current.to_numpy(dtype=object, na_value="")
    if field.column in ("bundles", "currency"):
        # no supplier rows read (packaging units off): FFN's bundles stay; no price maintained: FFN's
        # price stays, its currency with it
        out &= wanted.notna().to_numpy(dtype=bool)
    return np.asarray(out, dtype=bool)


def plan_product_sync(wawi: pd.DataFrame, ffn: pd.DataFrame, params: ProductPlanParams) -> pd.DataFrame:
    """One row per in-scope Wawi item (and per FFN product that lost its item): the decision and why.

    ``status`` is create, update (``changed`` lists FFN's paths), unchanged, invalid, ambiguous or vanished;
    ``reason`` says why in words. The desired values stay in their columns, FFN's current ones in
    ``<column>_ffn``, so the payloads and the diff are read from this one frame. Rows come out sorted by
    status and SKU.

    The same as :func:`combine_plans` of :func:`plan_items` over any split of ``wawi``'s rows and
    :func:`plan_vanished` over all of them: an item's decision depends on its own row and FFN only, so a
    run plans each chunk of items as soon as its supplier rows are read. The two frames are checked against
    their schemas here; the parts take them as checked.
    """
    wawi, ffn = WAWI_SCHEMA.validate(wawi), FFN_SCHEMA.validate(ffn)
    return combine_plans([plan_items(wawi, ffn, params), plan_vanished(wawi, ffn, params)])


def plan_items(wawi: pd.DataFrame, ffn: pd.DataFrame, params: ProductPlanParams) -> pd.DataFrame:
    """The decisions for the in-scope rows of ``wawi`` (all of a run's items, or a chunk of them).

    ``wawi`` holds whole rows of one :func:`wawi_products_frame` (its shared-SKU check saw every item);
    ``ffn`` is every FFN product the run read (:func:`ffn_products_frame`). Both were checked against
    their schemas when they were made: a run plans its chunks from the same two frames, so they are not
    checked again per chunk. Unsorted: :func:`combine_plans` orders the parts (and checks the plan).
    """
    scoped = wawi[wawi["in_scope"]].copy()
    ffn = ffn[ffn["merchant_sku"].isin(set(scoped["merchant_sku"]))]
    counts = ffn["merchant_sku"].value_counts()
    shared = ffn[ffn["merchant_sku"].isin(counts.index[counts > 1])]
    jfskus = shared.groupby("merchant_sku")["jfsku"].agg(_joined)
    per_sku = pd.DataFrame({"ffn_count": counts, "ffn_jfskus": jfskus.reindex(counts.index)})
    single = ffn[ffn["merchant_sku"].map(per_sku["ffn_count"]) == 1].drop_duplicates("merchant_sku")
    current = single.rename(columns={c: f"{c}_ffn" for c in FIELD_BY_COLUMN})

    plan = scoped.merge(per_sku, how="left", left_on="merchant_sku", right_index=True)
    plan = plan.merge(current, how="left", on="merchant_sku")
    plan["ffn_count"] = plan["ffn_count"].fillna(0).astype("int64")
    count = plan["ffn_count"].to_numpy()
    differs = _flags([_differs(f, plan[f.column], plan[f"{f.column}_ffn"]) for f in FIELDS], len(plan))
    invalid = (plan["problem"] != "").to_numpy(dtype=bool)
    # the last that holds decides: invalid, then ambiguous, then create, then update
    status = np.select(
        [invalid, count > 1, count == 0, differs.any(axis=1)],
        [INVALID, AMBIGUOUS, CREATE, UPDATE],
        UNCHANGED,
    )
    creating = status == CREATE
    changed = np.where((status == UPDATE), _paths(differs), "")
    if creating.any():
        changed[creating] = _paths(_filled(plan[creating]))
    reason = np.full(len(plan), "", dtype=object)
    ambiguous = status == AMBIGUOUS
    reason[ambiguous] = (
        "several FFN products carry this merchantSku (" + plan.loc[ambiguous, "ffn_jfskus"] + ")"
    ).to_numpy(dtype=object)
    reason[invalid] = plan.loc[invalid, "problem"].to_numpy(dtype=object)
    reason[creating] = "no FFN product with this merchantSku"
    plan["status"] = pd.Series(status, index=plan.index, dtype="string")
    plan["reason"] = pd.Series(reason, index=plan.index, dtype="string")
    plan["changed"] = pd.Series(changed, index=plan.index, dtype="string")
    return _plan_columns(plan)


def plan_vanished(wawi: pd.DataFrame, ffn: pd.DataFrame, params: ProductPlanParams) -> pd.DataFrame:
    """The FFN products whose merchantSku no in-scope item carries; ``wawi`` is every item the run read.

    The frames as :func:`plan_items` takes them (checked when they were made).
    """
    return _plan_columns(_vanished(wawi, ffn, params))


def combine_plans(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Parts of :func:`plan_items` and :func:`plan_vanished` as one plan, sorted by status and SKU."""
    filled = [p for p in parts if len(p)]
    out = pd.concat(filled or list(parts[:1]) or [_plan_columns(pd.DataFrame())], ignore_index=True)
    order = out["status"].map({s: i for i, s in enumerate(STATUSES)})
    keys = ["_order", "merchant_sku", "item_id", "jfsku"]  # an item (a product) once: the same in any split
    out = out.assign(_order=order).sort_values(keys, kind="stable").drop(columns="_order")
    return PLAN_SCHEMA.validate(out.reset_index(drop=True))


#: A plan's columns: the keys, the desired values, FFN's current ones, the creation flags.
PLAN_COLUMNS: tuple[str, ...] = (
    *PLAN_KEYS,
    *FIELD_BY_COLUMN,
    *(f"{c}_ffn" for c in FIELD_BY_COLUMN),
    *CREATE_FLAGS,
)


def _plan_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` cut to :data:`PLAN_COLUMNS` with their dtypes (missing columns as NA)."""
    dtypes = {
        **PLAN_KEYS,
        **{c: _dtype(c) for c in FIELD_BY_COLUMN},
        **{f"{c}_ffn": _dtype(c) for c in FIELD_BY_COLUMN},
        **dict.fromkeys(CREATE_FLAGS, "boolean"),
    }
    out = frame.copy()
    for column in PLAN_COLUMNS:
        if column not in out:
            out[column] = pd.NA
    return out[list(PLAN_COLUMNS)].astype(dtypes)


def _joined(values: pd.Series) -> str:
    return ", ".join(sorted(map(str, values)))


def _dtype(column: str) -> str:
    return "Float64" if FIELD_BY_COLUMN[column].kind == "number" else "string"


def _flags(
    columns: Sequence[pd.Series | np.ndarray[Any, Any]], rows: int
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """One boolean column per synced field (in :data:`FIELDS`' order) as a rows x fields matrix."""
    if not rows:
        return np.zeros((0, len(FIELDS)), dtype=bool)
    return np.column_stack(
        [c.fillna(False).to_numpy(dtype=bool) if isinstance(c, pd.Series) else c for c in columns]
    )


def _paths(flags: np.ndarray[Any, np.dtype[np.bool_]]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Per row, the FFN paths of the fields flagged, comma-joined in :data:`FIELDS`' order.

    Rows share few patterns: each pattern is joined once (a bit per field), not each row.
    """
    codes = flags.astype(np.int64) @ (np.int64(1) << np.arange(len(FIELDS), dtype=np.int64))
    patterns, where = np.unique(codes, return_inverse=True)
    joined = np.array(
        [",".join(f.path for i, f in enumerate(FIELDS) if int(code) >> i & 1) for code in patterns],
        dtype=object,
    )
    return joined[where.reshape(-1)] if len(codes) else np.array([], dtype=object)


def _filled(rows: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """For creates: which fields the new product gets a value for (bundles: a non-empty list)."""
    has = [rows[f.column].notna() for f in FIELDS]
    return _flags(
        [
            h & (rows[f.column] != "[]") if f.kind == "bundles" else h
            for f, h in zip(FIELDS, has, strict=True)
        ],
        len(rows),
    )


def _vanished(wawi: pd.DataFrame, ffn: pd.DataFrame, params: ProductPlanParams) -> pd.DataFrame:
    """FFN products whose merchantSku no in-scope item carries (incremental: only SKUs read from Wawi)."""
    in_scope = set(wawi.loc[wawi["in_scope"], "merchant_sku"])
    out_of_scope = wawi[~wawi["in_scope"] & (wawi["merchant_sku"] != "")].drop_duplicates("merchant_sku")
    why = dict(
        zip(
            out_of_scope["merchant_sku"],
            out_of_scope["item_id"].astype("string") + ": " + out_of_scope["scope_reason"],
            strict=True,
        )
    )
    candidates = ffn[~ffn["merchant_sku"].isin(in_scope)]
    if not params.full:
        candidates = candidates[candidates["merchant_sku"].isin(set(why))]
    gone = candidates[["jfsku", "merchant_sku"]].copy()
    gone["item_id"] = (
        candidates["merchant_sku"].map(out_of_scope.set_index("merchant_sku")["item_id"]).astype("Int64")
    )
    gone["status"] = VANISHED
    gone["reason"] = (
        candidates["merchant_sku"]
        .map(
            lambda sku: (
                f"Wawi item {why[sku]} (rule: {params.rule.describe()})"
                if sku in why
                else "no Wawi item with this SKU"
            )
        )
        .astype("string")
    )
    gone["changed"] = ""
    return gone


def to_write(plan: pd.DataFrame) -> pd.DataFrame:
    """Only the rows that send something: creates, then updates."""
    return plan[plan["status"].isin([CREATE, UPDATE])]


# --------------------------------------------------------------------------------------------- the diff
def _shown(value: Any, field: SyncedField) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if field.kind == "number":
        return f"{float(value):g}"
    if field.kind == "bundles":
        return "; ".join(f"{b['name']} × {b['quantity']:g}" for b in json.loads(str(value)))
    return str(value)


def field_changes(plan: pd.DataFrame) -> pd.DataFrame:
    """One row per field that is (or in a dry run would be) written: SKU, action, FFN path, before, after."""
    plan = PLAN_SCHEMA.validate(plan)
    todo = to_write(plan)
    parts = []
    for field in FIELDS:
        touched = todo[todo["changed"].str.split(",").map(lambda paths, p=field.path: p in paths)]
        if touched.empty:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "merchant_sku": touched["merchant_sku"],
                    "jfsku": touched["jfsku"],
                    "item_id": touched["item_id"],
                    "action": touched["status"],
                    "field": field.path,
                    "before": [_shown(v, field) for v in touched[f"{field.column}_ffn"]],
                    "after": [_shown(v, field) for v in touched[field.column]],
                    "_field_order": FIELDS.index(field),
                }
            )
        )
    columns = {k: str(v) for k, v in CHANGES_SCHEMA.dtypes.items()}
    if not parts:
        return CHANGES_SCHEMA.validate(pd.DataFrame({k: pd.Series(dtype=str(v)) for k, v in columns.items()}))
    out = pd.concat(parts, ignore_index=True).sort_values(["merchant_sku", "_field_order"], kind="stable")
    out = out.drop(columns="_field_order").astype({k: str(v) for k, v in columns.items()})
    return CHANGES_SCHEMA.validate(out.reset_index(drop=True))


# --------------------------------------------------------------------------------------------- payloads
def _value(row: Mapping[str, Any], column: str) -> Any:
    value = row.get(column)
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value) if FIELD_BY_COLUMN[column].kind == "number" else str(value)


def _bundles_body(row: Mapping[str, Any], existing: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The desired bundles; a bundle FFN holds with the same quantity keeps its EAN and UPC."""
    kept = {
        float(b["quantity"]): b
        for b in existing
        if isinstance(b, Mapping) and _ffn_number(b.get("quantity")) is not None
    }
    text = _value(row, "bundles")
    out = []
    for bundle in json.loads(text) if text else []:
        old = kept.get(float(bundle["quantity"]), {})
        out.append(
            {
                "name": bundle["name"],
                "quantity": bundle["quantity"],
                "ean": old.get("ean"),
                "upc": old.get("upc"),
            }
        )
    return out


def _true(value: Any) -> bool:
    """A frame's boolean cell (numpy, pandas or Python) as a bool; missing is False."""
    return value is not None and value is not pd.NA and bool(value)


def _mpn(row: Mapping[str, Any]) -> dict[str, str] | None:
    part = _value(row, "mpn_part")
    return None if part is None else {"manufacturer": _value(row, "mpn_maker") or "", "partNumber": part}


def _specifications(
    existing: Mapping[str, Any], taric: str | None, flags: Mapping[str, bool] | None = None
) -> dict[str, Any]:
    """A whole ``specifications`` object (the spec requires every flag and the component list)."""
    spec: dict[str, Any] = {
        "isBatch": False,
        "isDivisible": False,
        "isBestBefore": False,
        "isSerialNumber": False,
        "isBillOfMaterials": False,
        "isPackaging": False,
        "billOfMaterialsComponents": [],
        **{k: v for k, v in existing.items() if v is not None},
        **(flags or {}),
    }
    spec["taric"] = taric
    return spec


def create_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /products`` for a plan row: merchantSku, name and every value Wawi maintains."""
    body: dict[str, Any] = {"merchantSku": row["merchant_sku"], "name": _value(row, "name")}
    for key, column in (
        ("manufacturer", "manufacturer"),
        ("originCountry", "origin_country"),
        ("weight", "weight"),
        ("netWeight", "net_weight"),
    ):
        if (value := _value(row, column)) is not None:
            body[key] = value
    identifier = {k: v for k, v in (("ean", _value(row, "ean")), ("mpn", _mpn(row))) if v is not None}
    if identifier:
        body["identifier"] = identifier
    flags = {key: _true(row.get(flag)) for flag, (key, _) in CREATE_FLAGS.items()}
    body["specifications"] = _specifications({}, _value(row, "taric"), flags)
    if _value(row, "length") is not None:
        body["dimensions"] = {k: _value(row, k) for k in ("length", "width", "height")}
    if (price := _value(row, "price")) is not None:
        body["netRetailPrice"] = {"amount": price, "currency": _value(row, "currency")}
    if _value(row, "bundles") is not None:
        body["bundles"] = _bundles_body(row)
    return body


def update_body(row: Mapping[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """``PATCH /products/{jfsku}`` for a plan row: the changed fields; nested objects whole.

    ``existing`` is the FFN product as read: the members of a nested object the sync does not own (an
    ISBN, the batch flags, a bundle's EAN) are sent back as they are, so a PATCH that replaces nested
    objects loses nothing.
    """
    paths = set(str(row["changed"]).split(","))
    body: dict[str, Any] = {}
    for key, column in (
        ("name", "name"),
        ("manufacturer", "manufacturer"),
        ("originCountry", "origin_country"),
        ("weight", "weight"),
        ("netWeight", "net_weight"),
    ):
        if FIELD_BY_COLUMN[column].path in paths:
            body[key] = _value(row, column)
    if paths & {"identifier.ean", "identifier.mpn.partNumber", "identifier.mpn.manufacturer"}:
        identifier = dict(_section(existing, "identifier"))
        identifier.update(ean=_value(row, "ean"), mpn=_mpn(row))
        body["identifier"] = identifier
    if "specifications.taric" in paths:
        body["specifications"] = _specifications(_section(existing, "specifications"), _value(row, "taric"))
    if paths & {"dimensions.length", "dimensions.width", "dimensions.height"}:
        body["dimensions"] = {k: _value(row, k) for k in ("length", "width", "height")}
    if paths & {"netRetailPrice.amount", "netRetailPrice.currency"}:
        body["netRetailPrice"] = {"amount": _value(row, "price"), "currency": _value(row, "currency")}
    if "bundles" in paths:
        old = existing.get("bundles")
        body["bundles"] = _bundles_body(row, old if isinstance(old, list) else ())
    return body
