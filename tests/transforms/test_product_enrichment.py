"""Matching feed rows to Wawi items and what may be filled: never overwrite, conflicts side by side."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from jtl_automator.transforms.product_enrichment import (
    EnrichmentRules,
    conflicts,
    fill_decisions,
    match_feed,
    writes,
)
from jtl_automator.transforms.product_feed import FEED_SCHEMA, NUMBER_FIELDS

SUPPLIER = 7


def feed(*rows: dict[str, Any]) -> pd.DataFrame:
    base = {"supplier_sku": None, "gtin": None, "manufacturer_number": None, "short_description": None}
    records = [{"row": n + 2, **base, **dict.fromkeys(NUMBER_FIELDS), **row} for n, row in enumerate(rows)]
    return FEED_SCHEMA.validate(pd.DataFrame(records))


def catalogue(*items: dict[str, Any]) -> pd.DataFrame:
    base = {"name": "x", "gtin": None, "manufacturer_number": None, "short_description": None}
    return pd.DataFrame(
        [{"sku": f"S-{i['item_id']}", **base, **dict.fromkeys(NUMBER_FIELDS), **i} for i in items]
    )


def suppliers(*rows: tuple[int, int, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item_id", "supplier_id", "supplier_sku"])


@pytest.mark.slow
def test_the_strongest_key_matches_first() -> None:
    rows = feed(
        {"supplier_sku": "L-1", "gtin": "96385074"},  # SKU says item 1, GTIN item 2: the SKU wins
        {"gtin": "036000291452"},  # an UPC-12 in the feed, the same code as GTIN-14 in Wawi
        {"manufacturer_number": " gr-100 "},
        {"supplier_sku": "L-9"},  # supplier entry of another supplier: not ours
    )
    items = catalogue(
        {"item_id": 1},
        {"item_id": 2, "gtin": "96385074"},
        {"item_id": 3, "gtin": "00036000291452"},
        {"item_id": 4, "manufacturer_number": "GR-100"},
        {"item_id": 5},
    )
    found = match_feed(rows, items, suppliers((1, SUPPLIER, "L-1"), (5, 99, "L-9")), SUPPLIER)
    assert found[["row", "item_id", "matched_by"]].astype(object).to_numpy().tolist() == [
        [2, 1, "supplier_sku"],
        [3, 3, "gtin"],
        [4, 4, "manufacturer_number"],
        [5, pd.NA, "unmatched"],
    ]


def test_ambiguous_keys_and_items_matched_twice_are_left_alone() -> None:
    rows = feed(
        {"gtin": "4006381333931"},  # on two Wawi items
        {"supplier_sku": "L-3"},
        {"gtin": "96385074"},  # the same item as the row before
        {"supplier_sku": "L-5", "gtin": "5901234123457"},  # SKU on two items: GTIN not tried
    )
    items = catalogue(
        {"item_id": 1, "gtin": "4006381333931"},
        {"item_id": 2, "gtin": "04006381333931"},
        {"item_id": 3, "gtin": "96385074"},
        {"item_id": 5},
        {"item_id": 6},
        {"item_id": 7, "gtin": "5901234123457"},
    )
    found = match_feed(
        rows, items, suppliers((3, SUPPLIER, "L-3"), (5, SUPPLIER, "L-5"), (6, SUPPLIER, "L-5")), SUPPLIER
    )
    assert found["matched_by"].tolist() == ["ambiguous"] * 4
    assert found["item_id"].isna().all()
    assert found["note"].tolist() == [
        "GTIN 4006381333931 is on Wawi items S-1, S-2",
        "Wawi item S-3 is matched by rows 3, 4",
        "Wawi item S-3 is matched by rows 3, 4",
        "supplier SKU L-5 is on Wawi items S-5, S-6",
    ]


@pytest.mark.slow
def test_gaps_are_filled_and_existing_values_never_overwritten() -> None:
    rows = feed(
        {
            "supplier_sku": "L-1",
            "gtin": "4006381333931",
            "item_weight": 1.5,
            "shipping_weight": 1.7,
            "length": 30.0,
            "purchase_price": 12.5,
            "short_description": "Kaffeemühle",
        }
    )
    items = catalogue(
        {
            "item_id": 1,
            "gtin": "",  # empty text: missing
            "item_weight": 0.0,  # 0: nobody entered it
            "shipping_weight": 1.9,  # differs: a conflict, left alone
            "length": 30.00001,  # equal within the tolerance
            "purchase_price": None,
            "short_description": "Mühle",  # differs: a conflict
        }
    )
    matches = match_feed(rows, items, suppliers((1, SUPPLIER, "L-1")), SUPPLIER)
    decisions, same = fill_decisions(rows, matches, items)
    assert same == 1
    assert decisions[["field", "wawi_value", "feed_value", "status"]].astype(object).to_numpy().tolist() == [
        ["gtin", pd.NA, "4006381333931", "fill"],
        ["item_weight", pd.NA, "1.5", "fill"],
        ["shipping_weight", "1.9", "1.7", "conflict"],
        ["purchase_price", pd.NA, "12.5", "fill"],
        ["short_description", "Mühle", "Kaffeemühle", "conflict"],
    ]
    to_write = writes(decisions)
    assert to_write["field"].tolist() == ["gtin", "item_weight", "purchase_price"]
    assert to_write["number"].tolist()[1:] == [1.5, 12.5] and to_write["text"].tolist()[0] == "4006381333931"
    side_by_side = conflicts(decisions)
    assert side_by_side.to_dict("records") == [
        {
            "sku": "S-1",
            "item_id": 1,
            "field": "shipping_weight",
            "wawi_value": "1.9",
            "feed_value": "1.7",
            "row": 2,
        },
        {
            "sku": "S-1",
            "item_id": 1,
            "field": "short_description",
            "wawi_value": "Mühle",
            "feed_value": "Kaffeemühle",
            "row": 2,
        },
    ]


@pytest.mark.slow
def test_rules_may_let_the_feed_win() -> None:
    rows = feed({"supplier_sku": "L-1", "gtin": "4006381333931", "shipping_weight": 1.7})
    items = catalogue({"item_id": 1, "gtin": "4006381333932", "shipping_weight": 1.9})  # bad check digit
    matches = match_feed(rows, items, suppliers((1, SUPPLIER, "L-1")), SUPPLIER)
    plain, _ = fill_decisions(rows, matches, items)
    assert plain["status"].tolist() == ["conflict", "conflict"]
    ruled, _ = fill_decisions(
        rows,
        matches,
        items,
        EnrichmentRules(overwrite=frozenset({"shipping_weight"}), replace_invalid_gtin=True),
    )
    assert ruled["status"].tolist() == ["overwrite", "overwrite"]
    only_weights, _ = fill_decisions(rows, matches, items, EnrichmentRules(fields=frozenset({"item_weight"})))
    assert only_weights.empty
    valid_in_wawi = catalogue({"item_id": 1, "gtin": "5901234123457"})
    kept, _ = fill_decisions(rows, matches, valid_in_wawi, EnrichmentRules(replace_invalid_gtin=True))
    assert kept["status"].tolist() == ["conflict", "fill"]  # a valid Wawi GTIN is never replaced by it


def test_unknown_fields_in_the_rules_are_refused() -> None:
    with pytest.raises(ValidationError):
        EnrichmentRules(overwrite=frozenset({"price"}))  # type: ignore[arg-type]


@pytest.mark.slow
def test_nothing_matched_gives_no_decisions() -> None:
    rows = feed({"supplier_sku": "L-1", "item_weight": 1.0})
    items = catalogue({"item_id": 1})
    matches = match_feed(rows, items, suppliers(), SUPPLIER)
    decisions, same = fill_decisions(rows, matches, items)
    assert decisions.empty and same == 0 and list(decisions.columns)[:3] == ["item_id", "sku", "row"]
