"""Wawi JSON as the price rows ``price_frame`` reads: one base price per item, and its sales-channel prices.

Read here, once, tolerantly: a value of the wrong type is a missing value, which ``price_frame`` then
reports on that row (no purchase price, no VAT rate, ...) instead of failing the batch.

- **category**: the path of the item's first category (``Categories[0]``), its names from the top joined
  by `` > `` (``ParentCategoryId`` walked up; 0 or an unknown parent ends the walk).
- **manufacturer**: the name of ``ManufacturerId`` (``GET /manufacturers``).
- **supplier**: the standard supplier (``IsStandard``; a single supplier counts as standard) of the
  item's supplier rows, where they were read.
- **prices** (``ItemPriceData``, net): ``PurchasePriceNet``, ``SuggestedRetailPrice`` (0 means none),
  ``SalesPriceNet`` (the current base price).
- **VAT**: the rate of the item's ``TaxClassId`` (``GET /tax/taxclass/…`` per tax class).
- **channel prices**: rows of ``GET /items/{id}/salesChannelPrices`` with an absolute ``NetPrice`` and
  ``FromQuantity`` 0; a relative price (``ReduceStandardPriceByPercent``, it follows the base price) and
  scale prices are left alone and counted in ``skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from jtl_automator.transforms.pricing import BASE_PRICE, PRICE_INPUT_SCHEMA
from jtl_automator.transforms.replenishment_frames import standard_supplier as standard_supplier_row

INPUT_COLUMNS = list(PRICE_INPUT_SCHEMA.columns)
_DTYPES = {name: str(column.dtype) for name, column in PRICE_INPUT_SCHEMA.columns.items()}


def _number(value: Any) -> float:
    """A JSON number as float; anything else (None, text, bool) is NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def category_paths(categories: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """Category Id -> its path from the top (``Küche & Haushalt > Küchenhelfer``); cycles end the walk."""
    by_id = {c["Id"]: c for c in categories if _int(c.get("Id")) is not None}
    paths: dict[int, str] = {}
    for category_id in by_id:
        names: list[str] = []
        seen: set[int] = set()
        current: int | None = category_id
        while current is not None and current in by_id and current not in seen:
            seen.add(current)
            node = by_id[current]
            names.append(str(node.get("Name") or "").strip())
            parent = _int(node.get("ParentCategoryId"))
            current = parent if parent else None
        paths[category_id] = " > ".join(reversed([n for n in names if n]))
    return paths


def standard_supplier(rows: Sequence[Mapping[str, Any]] | None) -> int | None:
    """The item's standard supplier Id (a single supplier counts as standard); None without one."""
    chosen = standard_supplier_row(rows or ())
    return _int(chosen.get("SupplierId")) if chosen is not None else None


@dataclass(frozen=True)
class PriceLookups:
    """What the item rows are completed with (each read once per run)."""

    category_paths: Mapping[int, str] = field(default_factory=dict)
    manufacturers: Mapping[int, str] = field(default_factory=dict)
    vat_by_tax_class: Mapping[int, float] = field(default_factory=dict)
    suppliers: Mapping[int, int | None] = field(default_factory=dict)


def base_price_frame(items: Iterable[Mapping[str, Any]], lookups: PriceLookups) -> pd.DataFrame:
    """One ``base`` row per Wawi item with an integer ``Id`` (the price_frame input, validated there)."""
    rows: list[dict[str, Any]] = []
    for item in items:
        item_id = _int(item.get("Id"))
        if item_id is None:
            continue
        prices = item.get("ItemPriceData")
        prices = prices if isinstance(prices, Mapping) else {}
        categories = item.get("Categories")
        first = categories[0] if isinstance(categories, list) and categories else None
        category_id = _int(first.get("CategoryId")) if isinstance(first, Mapping) else None
        category = lookups.category_paths.get(category_id) if category_id is not None else None
        if category is None and isinstance(first, Mapping) and isinstance(first.get("Name"), str):
            category = first["Name"]
        maker = _int(item.get("ManufacturerId"))
        tax_class = _int(item.get("TaxClassId"))
        srp = _number(prices.get("SuggestedRetailPrice"))
        sku = item.get("SKU")
        rows.append(
            {
                "item_id": item_id,
                "sku": sku.strip() if isinstance(sku, str) and sku.strip() else f"#{item_id}",
                "target": BASE_PRICE,
                "sales_channel": None,
                "customer_group": None,
                "category": category or None,
                "manufacturer": lookups.manufacturers.get(maker) if maker is not None else None,
                "supplier_id": lookups.suppliers.get(item_id),
                "purchase_price": _number(prices.get("PurchasePriceNet")),
                "suggested_retail_price": srp if srp > 0 else float("nan"),
                "current_price": _number(prices.get("SalesPriceNet")),
                "vat_rate": lookups.vat_by_tax_class.get(tax_class, float("nan"))
                if tax_class is not None
                else float("nan"),
            }
        )
    return _typed(pd.DataFrame(rows, columns=INPUT_COLUMNS))


def channel_target(sales_channel: str, customer_group: int) -> str:
    """The target of a sales-channel price: ``<channel>/<customer group>`` (group 0: every group)."""
    return f"{sales_channel}/{customer_group}"


@dataclass
class ChannelRows:
    """The channel price rows to price, and how many channel prices were left alone and why."""

    frame: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)


def channel_price_frame(base: pd.DataFrame, prices: Mapping[int, Sequence[Mapping[str, Any]]]) -> ChannelRows:
    """The items' sales-channel prices as rows beside their base row (same item figures, own price)."""
    by_item = base.set_index("item_id")
    rows: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for item_id, listed in prices.items():
        if item_id not in by_item.index:
            continue
        item = by_item.loc[item_id]
        seen: set[str] = set()
        for price in listed:
            channel, group = price.get("SalesChannelId"), _int(price.get("CustomerGroupId"))
            reduce_by = _number(price.get("ReduceStandardPriceByPercent"))
            if not isinstance(channel, str) or not channel or group is None:
                skipped["unreadable"] = skipped.get("unreadable", 0) + 1
                continue
            if _int(price.get("FromQuantity")) not in (0, None):
                skipped["scale price"] = skipped.get("scale price", 0) + 1
                continue
            if reduce_by == reduce_by and reduce_by != 0:  # not NaN and set: it follows the base price
                skipped["relative to the base price"] = skipped.get("relative to the base price", 0) + 1
                continue
            target = channel_target(channel, group)
            if target in seen:
                skipped["listed twice"] = skipped.get("listed twice", 0) + 1
                continue
            seen.add(target)
            rows.append(
                {
                    **{column: item[column] for column in INPUT_COLUMNS if column in item.index},
                    "item_id": item_id,
                    "target": target,
                    "sales_channel": channel,
                    "customer_group": group,
                    "current_price": _number(price.get("NetPrice")),
                }
            )
    return ChannelRows(_typed(pd.DataFrame(rows, columns=INPUT_COLUMNS)), skipped)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(_DTYPES)
    for column in ("purchase_price", "suggested_retail_price", "current_price", "vat_rate"):
        frame[column] = frame[column].astype("float64").replace([np.inf, -np.inf], np.nan)
    return frame
