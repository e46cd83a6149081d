"""Supplier feeds: German CSV, encodings, malformed rows, missing columns, duplicates, the mapping file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from jtl_automator.transforms.product_feed import (
    SHEET_NUMBERS,
    CsvOptions,
    FeedColumns,
    FeedError,
    FeedMapping,
    FeedMappings,
    NumberFormat,
    csv_grid,
    normalise_feed,
    parse_numbers,
)
from jtl_automator.yaml_config import ConfigFileError, load_yaml_model, parse_yaml_model

HEADER = "Artikelnummer;EAN;Herstellernummer;Gewicht (g);Versandgewicht (g);Länge (mm);EK netto;Kurztext\n"
MAPPING = FeedMapping(
    columns=FeedColumns(
        supplier_sku="artikelnummer",  # headers compare ignoring case and spacing
        gtin="EAN",
        manufacturer_number="Herstellernummer",
        item_weight="Gewicht (g)",
        shipping_weight="Versandgewicht  (g)",
        length="Länge (mm)",
        purchase_price="EK netto",
        short_description="Kurztext",
    ),
    weight_unit="g",
    dimension_unit="mm",
)


def read(text: str, mapping: FeedMapping = MAPPING, encoding: str = "utf-8", **options: str):
    grid = csv_grid(text.encode(encoding), CsvOptions(**options), "feed.csv")  # type: ignore[arg-type]
    return normalise_feed(
        grid.rows, mapping, source="feed.csv", number=NumberFormat(), bad_lines=grid.bad_lines
    )


def test_a_german_feed_becomes_kg_cm_and_euros() -> None:
    feed = read(
        HEADER
        + "L-1;4006381333931;GR-100;1.250;1.400,5;305;1.234,56;Kaffeemühle Edelstahl\n"
        + "L-2;;MX 7;250;300;12,5;3;\n"
    )
    assert feed.rejected.empty and feed.total_rows == 2
    first, second = feed.rows.to_dict("records")
    assert first == {
        "row": 2,
        "supplier_sku": "L-1",
        "gtin": "4006381333931",
        "manufacturer_number": "GR-100",
        "item_weight": 1.25,
        "shipping_weight": 1.4005,
        "length": 30.5,
        "width": first["width"],
        "height": first["height"],
        "purchase_price": 1234.56,
        "short_description": "Kaffeemühle Edelstahl",
    }
    assert pd.isna(first["width"]) and pd.isna(second["gtin"]) and pd.isna(second["short_description"])
    assert second["length"] == 1.25 and second["purchase_price"] == 3.0


def test_bad_decimals_reject_the_row_with_the_cell_named() -> None:
    feed = read(
        HEADER
        + "L-1;;;1.5;;;3,00;\n"  # English decimal in a German feed: 15 g or 1.5 g? refused
        + "L-2;;;12,5,0;;;3,00;\n"
        + "L-3;;;abc;;;3,00;\n"
        + "L-4;;;1.2345;;;3,00;\n"  # a thousands group has exactly 3 digits
        + "L-5;;;100;;;3,00;\n"
    )
    reasons = dict(zip(feed.rejected["supplier_sku"], feed.rejected["reason"], strict=True))
    assert reasons == {
        "L-1": "Gewicht (g): 1.5 is not a number (decimal ',', thousands '.')",
        "L-2": "Gewicht (g): 12,5,0 is not a number (decimal ',', thousands '.')",
        "L-3": "Gewicht (g): abc is not a number (decimal ',', thousands '.')",
        "L-4": "Gewicht (g): 1.2345 is not a number (decimal ',', thousands '.')",
    }
    assert feed.rows["supplier_sku"].tolist() == ["L-5"]
    assert feed.rejected["row"].tolist() == [2, 3, 4, 5]


def test_invalid_gtin_implausible_values_and_rows_without_a_key_are_rejected() -> None:
    feed = read(
        HEADER
        + "L-1;4006381333932;;100;;;1;\n"
        + "L-2;;;0;;;1;\n"
        + "L-3;;;2.000.000;;;1;\n"
        + "L-4;;;500;400;;1;\n"
        + ";;;100;;;1;\n"
        + "L-6;;;-5;;;1;\n"
    )
    reasons = feed.rejected.set_index("row")["reason"].to_dict()
    assert reasons == {
        2: "EAN: 4006381333932 ends in check digit 2, expected 1",
        3: "item weight 0 kg outside 0.001–1000 kg",
        4: "item weight 2000 kg outside 0.001–1000 kg",
        5: "shipping weight 0.4 kg below item weight 0.5 kg",
        6: "no supplier SKU, GTIN or manufacturer number",
        7: "item weight -0.005 kg outside 0.001–1000 kg",
    }
    assert feed.rows.empty


def test_duplicate_supplier_skus_keep_one_exact_copy_and_refuse_differing_ones() -> None:
    feed = read(
        HEADER
        + "L-1;;;100;;;1;\n"
        + "L-1;;;100;;;1;\n"
        + "L-2;;;100;;;1;\n"
        + "L-2;;;200;;;1;\n"
        + "L-3;;;100;;;1;\n"
    )
    assert feed.rows["supplier_sku"].tolist() == ["L-1", "L-3"]
    assert feed.rejected.set_index("row")["reason"].to_dict() == {
        3: "duplicate of row 2 (supplier SKU L-1)",
        4: "supplier SKU L-2 is on rows 4, 5 with different data",
        5: "supplier SKU L-2 is on rows 4, 5 with different data",
    }


def test_a_line_with_too_many_fields_keeps_the_line_numbers_of_the_others() -> None:
    feed = read(HEADER + "L-1;;;100;;;1;\nL-2;;;100;;;1;;;;\n\nL-3;;;100;;;1;\n")
    assert feed.rows.set_index("supplier_sku")["row"].to_dict() == {"L-1": 2, "L-3": 5}
    assert feed.rejected["row"].tolist() == [3]
    assert feed.rejected["reason"].tolist() == ["not readable: expected 8 fields, saw 11"]


def test_missing_columns_stop_the_feed_naming_them_and_the_headers_found() -> None:
    with pytest.raises(FeedError, match=r"header\(s\) 'EK netto', 'Kurztext' not found") as caught:
        read("Artikelnummer;EAN;Herstellernummer;Gewicht (g);Versandgewicht (g);Länge (mm)\nL-1;;;1;;\n")
    assert "the feed's headers: 'Artikelnummer', 'EAN'" in str(caught.value)


def test_a_mapped_header_twice_is_refused_but_other_duplicates_are_not() -> None:
    mapping = FeedMapping(columns=FeedColumns(supplier_sku="SKU", item_weight="Gewicht"))
    ok = read("SKU;Gewicht;Info;Info\nA;1;x;y\n", mapping)
    assert ok.rows["item_weight"].tolist() == [1.0]
    with pytest.raises(FeedError, match="'Gewicht' is on 2 columns"):
        read("SKU;Gewicht;Gewicht\nA;1;2\n", mapping)


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_an_empty_file_stops_the_feed(content: bytes) -> None:
    with pytest.raises(FeedError, match=r"feed\.csv: the file is empty"):
        csv_grid(content, CsvOptions(), "feed.csv")


def test_a_header_without_rows_is_an_empty_feed_not_an_error() -> None:
    mapping = FeedMapping(columns=FeedColumns(supplier_sku="Artikelnummer", gtin="EAN"))
    grid = csv_grid(b"Artikelnummer;EAN\n", CsvOptions(), "feed.csv")
    feed = normalise_feed(grid.rows, mapping, source="feed.csv", number=NumberFormat())
    assert feed.rows.empty and feed.rejected.empty and feed.total_rows == 0


def test_encoding_detection_and_a_wrong_declared_encoding() -> None:
    text = HEADER + "L-1;;;100;;;1;Größe Ä\n"
    for encoding in ("utf-8", "utf-8-sig", "cp1252"):
        grid = csv_grid(text.encode(encoding), CsvOptions(), "feed.csv")
        assert grid.rows[1][-1] == "Größe Ä" and grid.rows[0][0] == "Artikelnummer"
        assert grid.encoding == ("cp1252" if encoding == "cp1252" else "utf-8")
    with pytest.raises(FeedError, match=r"not utf-8 \(byte 0xe4 at position \d+\); is it cp1252\?"):
        csv_grid(text.encode("cp1252"), CsvOptions(encoding="utf-8"), "feed.csv")
    forced = csv_grid(text.encode("cp1252"), CsvOptions(encoding="cp1252"), "feed.csv")
    assert forced.rows[1][-1] == "Größe Ä"
    with pytest.raises(FeedError, match="neither UTF-8 nor Windows-1252"):
        csv_grid(HEADER.encode() + b"L-1;\x81\x8d\xff\n", CsvOptions(), "feed.csv")


def test_an_english_csv_with_commas() -> None:
    mapping = FeedMapping(
        columns=FeedColumns(supplier_sku="sku", item_weight="weight", purchase_price="price")
    )
    grid = csv_grid(
        b'sku,weight,price\nA,1.5,"1,234.50"\n', CsvOptions(sep=",", decimal=".", thousands=","), "f"
    )
    feed = normalise_feed(grid.rows, mapping, source="f", number=NumberFormat(decimal=".", thousands=","))
    assert feed.rows[["item_weight", "purchase_price"]].to_dict("records") == [
        {"item_weight": 1.5, "purchase_price": 1234.5}
    ]


def test_sheet_cells_read_numbers_and_german_text() -> None:
    values, bad = parse_numbers(
        pd.Series(["1.5", "12", "1,5", "1.234,5", "", "1e3", "x", None]), SHEET_NUMBERS
    )
    assert values.tolist()[:4] == [1.5, 12.0, 1.5, 1234.5] and values[5] == 1000.0
    assert bad.tolist() == [False, False, False, False, False, False, True, False]


def test_a_header_further_down_and_a_fixed_header_row() -> None:
    mapping = FeedMapping(columns=FeedColumns(supplier_sku="SKU", item_weight="Gewicht"))
    grid = [["Preisliste 2026"], [], ["SKU", "Gewicht"], ["A", "1,5"]]
    feed = normalise_feed(grid, mapping, source="sheet", number=SHEET_NUMBERS)
    assert feed.rows[["row", "item_weight"]].to_dict("records") == [{"row": 4, "item_weight": 1.5}]
    fixed = mapping.model_copy(update={"header_row": 1})
    with pytest.raises(FeedError, match="not found in row 1"):
        normalise_feed(grid, fixed, source="sheet", number=SHEET_NUMBERS)


MAPPING_YAML = """\
suppliers:
  Kaffee Großhandel:
    wawi_supplier: 3
    weight_unit: g
    columns:
      supplier_sku: Artikelnummer
      gtin: EAN
  Bad:
    columns:
      item_weight: Gewicht
    csv:
      decimal: ","
      thousands: ","
"""


def test_the_mapping_file_names_each_mistake_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml_model(MAPPING_YAML, FeedMappings, source="feeds.yaml")
    assert caught.value.problems == [
        "feeds.yaml:10: suppliers.Bad.columns: Value error, map at least one of supplier_sku, gtin, "
        "manufacturer_number (to find the item)",
        "feeds.yaml:12: suppliers.Bad.csv: Value error, decimal and thousands separators are both ','",
    ]
    good = tmp_path / "feeds.yaml"
    good.write_text(MAPPING_YAML.split("  Bad:")[0], encoding="utf-8")
    mappings = load_yaml_model(good, FeedMappings)
    assert mappings.get("kaffee großhandel").wawi_supplier == 3
    with pytest.raises(KeyError, match="no feed mapping for supplier 'X' \\(mapped: Kaffee Großhandel\\)"):
        mappings.get("X")
    unknown = "suppliers:\n  A:\n    columns: {supplier_sku: S}\n    colums: {}\n"
    with pytest.raises(ConfigFileError, match=r"feeds\.yaml:4: suppliers\.A\.colums: Extra inputs"):
        parse_yaml_model(unknown, FeedMappings, source="feeds.yaml")
