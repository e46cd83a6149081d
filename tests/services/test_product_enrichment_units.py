"""The enrichment service's small parts: feed sources, whole-group PATCH bodies, ledger keys, comparisons."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from jtl_automator.services.product_enrichment.apply import fill_key, patch_body, same_value, wawi_value
from jtl_automator.services.product_enrichment.pipeline import Request, feed_mark
from jtl_automator.services.product_enrichment.reads import resolve_supplier
from jtl_automator.services.product_enrichment.sources import feed_kind, read_feed
from jtl_automator.transforms.product_feed import FeedColumns, FeedError, FeedMapping

MAPPING = FeedMapping(columns=FeedColumns(supplier_sku="SKU", item_weight="Gewicht"), worksheet="Artikel")
ITEM = {
    "Id": 3,
    "Identifiers": {"Gtin": "", "ManufacturerNumber": "GR-1", "Asins": ["B01"], "ISBN": None},
    "Weights": {"ItemWeigth": 0, "ShippingWeight": 1.7},
    "ItemPriceData": {"SalesPriceNet": 19.9, "PurchasePriceNet": 0},
    "ShortDescription": "",
}


def test_feed_kinds() -> None:
    assert feed_kind("feeds/hansen.CSV") == "csv" and feed_kind("x.txt") == "csv"
    assert feed_kind("x.xlsx") == "xlsx" and feed_kind("1AbCdEfGhIjK") == "sheet"
    with pytest.raises(FeedError, match=r"\.csv/\.txt file, an \.xlsx/\.xlsm workbook or a Google Sheet id"):
        feed_kind("feeds/hansen.json")


def test_a_workbook_feed_keeps_its_numbers_and_changes_its_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "feed.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Artikel"
    sheet.append(["SKU", "Gewicht"])
    sheet.append(["L-1", 1.409])
    book.save(path)
    first = read_feed(str(path), MAPPING)
    assert first.kind == "xlsx" and first.grid[1] == ["L-1", "1.409"] and first.worksheet == "Artikel"
    sheet.append(["L-2", 2])
    book.save(path)
    assert read_feed(str(path), MAPPING).fingerprint != first.fingerprint
    with pytest.raises(FeedError, match="worksheet 'Preise' not found"):
        read_feed(str(path), MAPPING.model_copy(update={"worksheet": "Preise"}))
    with pytest.raises(FeedError, match="cannot be read"):
        read_feed(str(tmp_path / "missing.csv"), MAPPING)
    with pytest.raises(FeedError, match="needs Google credentials"):
        read_feed("1AbCdEfGhIjK", MAPPING)


def test_patch_bodies_carry_whole_groups_with_the_new_values() -> None:
    body = patch_body(
        ITEM, {"gtin": "4006381333931", "item_weight": 1.5, "purchase_price": 12.5, "short_description": "x"}
    )
    assert body == {
        "Identifiers": {
            "Gtin": "4006381333931",
            "ManufacturerNumber": "GR-1",
            "ISBN": None,
            "Asins": ["B01"],
        },
        "Weights": {"ItemWeigth": 1.5, "ShippingWeight": 1.7},
        "ItemPriceData": {"SalesPriceNet": 19.9, "PurchasePriceNet": 12.5},
        "ShortDescription": "x",
    }
    assert patch_body({"Id": 1}, {"length": 3.0}) == {"Dimensions": {"Length": 3.0}}
    assert wawi_value(ITEM, "shipping_weight") == 1.7 and wawi_value({"Id": 1}, "length") is None


def test_comparisons_and_keys() -> None:
    assert same_value("gtin", "04006381333931", "4006381333931")
    assert same_value("item_weight", 1.50001, "1.5") and not same_value("item_weight", 0, "1.5")
    assert same_value("manufacturer_number", " gr-1 ", "GR-1") and not same_value(
        "short_description", "a", "b"
    )
    assert fill_key(3, "item_weight", "1.5") == "fill:3:item_weight:1.5"
    long_text = fill_key(3, "short_description", "x" * 600)
    assert long_text.startswith("fill:3:short_description:") and len(long_text) < 80
    assert feed_mark(Request("a.csv", "hansen")) != feed_mark(Request("b.csv", "hansen"))


def test_suppliers_by_id_name_or_number() -> None:
    suppliers = {1: ("Hansen GmbH", "L10001"), 2: ("Becker", "L10002"), 3: ("becker", "L10003")}
    assert resolve_supplier(1, suppliers) == 1 and resolve_supplier("l10001", suppliers) == 1
    assert resolve_supplier("hansen gmbh", suppliers) == 1
    with pytest.raises(LookupError, match="several Wawi suppliers are named 'Becker': Ids 2, 3"):
        resolve_supplier("Becker", suppliers)
    with pytest.raises(LookupError, match="no Wawi supplier has the Id 9"):
        resolve_supplier(9, suppliers)
