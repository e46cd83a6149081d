"""Wawi JSON into price rows: category paths, the standard supplier, odd values, channel prices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from jtl_automator.transforms.pricing import PricingRules, channel_rule_items, price_frame
from jtl_automator.transforms.pricing_frames import (
    PriceLookups,
    base_price_frame,
    category_paths,
    channel_price_frame,
    standard_supplier,
)

CATEGORIES = [
    {"Id": 1, "Name": "Küche", "ParentCategoryId": 0},
    {"Id": 2, "Name": "Kaffee", "ParentCategoryId": 1},
    {"Id": 3, "Name": "Espresso", "ParentCategoryId": 2},
    {"Id": 4, "Name": "Loop A", "ParentCategoryId": 5},
    {"Id": 5, "Name": "Loop B", "ParentCategoryId": 4},
]


def _item(item_id: int, **values: object) -> dict[str, object]:
    item: dict[str, object] = {
        "Id": item_id,
        "SKU": f"SKU-{item_id}",
        "Categories": [{"CategoryId": 3, "Name": "Espresso"}],
        "ManufacturerId": 7,
        "TaxClassId": 2,
        "ItemPriceData": {"SalesPriceNet": 9.3364, "SuggestedRetailPrice": 12.99, "PurchasePriceNet": 4.2},
    }
    item.update(values)
    return item


LOOKUPS = PriceLookups(
    category_paths=category_paths(CATEGORIES),
    manufacturers={7: "Bialetti"},
    vat_by_tax_class={1: 19.0, 2: 7.0},
    suppliers={1: 4},
)


def test_category_paths_walk_up_and_stop_at_cycles() -> None:
    paths = category_paths(CATEGORIES)
    assert paths[3] == "Küche > Kaffee > Espresso" and paths[1] == "Küche"
    assert paths[4] == "Loop B > Loop A"


def test_standard_supplier() -> None:
    assert (
        standard_supplier([{"SupplierId": 3, "IsStandard": False}, {"SupplierId": 4, "IsStandard": True}])
        == 4
    )
    assert standard_supplier([{"SupplierId": 3, "IsStandard": False}]) == 3  # the only one
    assert standard_supplier([{"SupplierId": 3}, {"SupplierId": 5}]) is None
    assert standard_supplier(None) is None


def test_base_rows_read_wawi_values_and_odd_values_become_gaps() -> None:
    frame = base_price_frame(
        [
            _item(1),
            _item(
                2, ItemPriceData={"SalesPriceNet": "n/a", "PurchasePriceNet": None, "SuggestedRetailPrice": 0}
            ),
            _item(3, SKU="", TaxClassId=9, Categories=[], ManufacturerId=None),
            {"Id": "x"},  # no integer Id: cannot be written, left out
        ],
        LOOKUPS,
    )
    assert list(frame["item_id"]) == [1, 2, 3]
    first = frame.iloc[0]
    assert (first["category"], first["manufacturer"], first["supplier_id"], first["vat_rate"]) == (
        "Küche > Kaffee > Espresso",
        "Bialetti",
        4,
        7.0,
    )
    assert (first["purchase_price"], first["current_price"], first["suggested_retail_price"]) == (
        4.2,
        9.3364,
        12.99,
    )
    second = frame.iloc[1]
    assert math.isnan(second["purchase_price"]) and math.isnan(second["current_price"])
    assert math.isnan(second["suggested_retail_price"])  # 0 means none
    third = frame.iloc[2]
    assert third["sku"] == "#3" and math.isnan(third["vat_rate"]) and third["category"] is pd.NA
    priced = price_frame(
        frame,
        PricingRules.model_validate({"rules": [{"name": "r", "strategy": "cost_plus", "markup_pct": 100}]}),
    )
    assert list(priced["status"]) == ["needs_approval", "invalid_input", "invalid_input"]
    assert list(priced["problem"][1:]) == [
        "no purchase price",
        "no valid VAT rate for the gross price ending",
    ]


def test_channel_rows_take_absolute_prices_and_count_the_others() -> None:
    base = base_price_frame([_item(1), _item(2)], LOOKUPS)
    rows = channel_price_frame(
        base,
        {
            1: [
                {
                    "SalesChannelId": "1-2-1",
                    "CustomerGroupId": 0,
                    "FromQuantity": 0,
                    "NetPrice": 9.0,
                    "ReduceStandardPriceByPercent": 0,
                },
                {
                    "SalesChannelId": "1-2-1",
                    "CustomerGroupId": 2,
                    "FromQuantity": 10,
                    "NetPrice": 8.0,
                    "ReduceStandardPriceByPercent": 0,
                },
                {
                    "SalesChannelId": "2-3-1",
                    "CustomerGroupId": 1,
                    "FromQuantity": 0,
                    "NetPrice": 0,
                    "ReduceStandardPriceByPercent": 3,
                },
            ],
            2: [{"SalesChannelId": None, "CustomerGroupId": 1}],
            99: [{"SalesChannelId": "1-2-1", "CustomerGroupId": 0, "NetPrice": 1}],  # not an item we price
        },
    )
    assert list(rows.frame["target"]) == ["1-2-1/0"]
    row = rows.frame.iloc[0]
    assert (row["sales_channel"], row["customer_group"], row["current_price"], row["category"]) == (
        "1-2-1",
        0,
        9.0,
        "Küche > Kaffee > Espresso",
    )
    assert rows.skipped == {"scale price": 1, "relative to the base price": 1, "unreadable": 1}


def test_channel_prices_are_read_only_for_items_a_channel_rule_can_match() -> None:
    base = base_price_frame([_item(1), _item(2, ManufacturerId=8)], LOOKUPS)

    def rules(*matches: dict[str, object]) -> PricingRules:
        return PricingRules.model_validate(
            {
                "rules": [
                    {"name": f"r{i}", "match": m, "strategy": "cost_plus", "markup_pct": 50}
                    for i, m in enumerate(matches)
                ]
            }
        )

    assert not channel_rule_items(base, rules({}, {"sales_channel": "base"})).any()
    assert list(channel_rule_items(base, rules({"sales_channel": "1-2-1"}))) == [True, True]
    assert list(channel_rule_items(base, rules({"sales_channel": "1-2-1", "manufacturer": "bialetti"}))) == [
        True,
        False,
    ]
    assert list(channel_rule_items(base, rules({"customer_group": 2, "category": "Garten"}))) == [
        False,
        False,
    ]
    assert channel_rule_items(base.iloc[:0], rules({"sales_channel": "1-2-1"})).dtype == np.bool_
