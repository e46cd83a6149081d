"""Fixture folders: generate -> dump -> load round-trips, and bad files fail naming file, index and field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.fixtures import FixtureError, dump_fixture_dir, load_fixture_dir
from jtl_automator.sandbox.generator import generate


def as_plain(data: SandboxData) -> dict[str, Any]:
    return {
        "ffn": dataclasses.asdict(data.ffn),
        "wawi": dataclasses.asdict(data.wawi),
        "sheets": {k: dataclasses.asdict(v) for k, v in data.spreadsheets.items()},
    }


def write(root: Path, rel: str, content: Any) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")


def test_generate_dump_load_round_trips(tmp_path: Path) -> None:
    original = generate(seed=5, skus=40, orders=30, customers=15, suppliers=4)
    dump_fixture_dir(original, tmp_path)
    loaded = load_fixture_dir(tmp_path)
    assert as_plain(loaded) == as_plain(original)
    assert (tmp_path / "ffn" / "products.json").read_text(encoding="utf-8").lstrip().startswith("[")
    assert (tmp_path / "sheets" / "inbound-control-demo.json").exists()


def test_hand_written_fixture_with_inline_line_items_and_sheet(tmp_path: Path) -> None:
    write(tmp_path, "ffn/products.json", [{"jfsku": "MERC0000001", "merchantSku": "00123", "name": "Tee"}])
    write(tmp_path, "ffn/stocks.json", [{"jfsku": "MERC0000001", "stockLevel": 4, "warehouses": []}])
    write(
        tmp_path,
        "wawi/salesOrders.json",
        [{"Id": 7, "Number": "AU1", "LineItems": [{"Id": 70, "SKU": "00123", "Quantity": 2}]}],
    )
    write(tmp_path, "README.md", "notes are allowed")
    write(
        tmp_path,
        "sheets/abc.json",
        {
            "title": "Inbound Control",
            "sheets": [{"title": "Tab", "sheetId": 3, "values": [["SKU"], ["00123"]]}],
        },
    )
    data = load_fixture_dir(tmp_path)
    assert data.ffn.products["MERC0000001"]["merchantSku"] == "00123"
    assert "LineItems" not in data.wawi.sales_orders[7]
    assert data.wawi.line_items[7] == [{"Id": 70, "SKU": "00123", "Quantity": 2, "SalesOrderId": 7}]
    tab = data.spreadsheets["abc"].worksheets[0]
    assert (tab.title, tab.sheet_id, tab.values, tab.row_count) == ("Tab", 3, [["SKU"], ["00123"]], 1000)


@pytest.mark.parametrize(
    ("rel", "content", "expected"),
    [
        ("ffn/product.json", [], "ffn/product.json: unknown fixture file"),
        ("ffn/products.json", "[{", "ffn/products.json: invalid JSON at line 1"),
        ("ffn/products.json", {"items": []}, "ffn/products.json: expected a JSON array of objects, got dict"),
        ("ffn/products.json", [42], "ffn/products.json[0]: expected an object, got int"),
        (
            "ffn/products.json",
            [{"jfsku": "MERC0000001", "merchantSku": "a", "name": "x"}, {"merchantSku": "b", "name": "y"}],
            "ffn/products.json[1]: missing key field 'jfsku'",
        ),
        (
            "ffn/products.json",
            [{"jfsku": 5, "merchantSku": "a", "name": "x"}],
            "field 'jfsku' must be a string",
        ),
        ("ffn/products.json", [{"jfsku": "MERC0000001", "name": "x"}], "[0]: missing field 'merchantSku'"),
        (
            "ffn/stocks.json",
            [{"jfsku": "J", "stockLevel": "7"}],
            "ffn/stocks.json[0]: field 'stockLevel' must",
        ),
        (
            "ffn/stocks.json",
            [{"jfsku": "J", "stockLevel": 1, "warehouses": {}}],
            "field 'warehouses' must be an",
        ),
        (
            "ffn/inbounds.json",
            [{"inboundId": "I", "status": "Pending", "warehouseId": "W"}],
            "missing field 'items'",
        ),
        (
            "wawi/items.json",
            [{"Id": "12", "SKU": "x"}],
            "wawi/items.json[0]: field 'Id' must be an integer, got '12'",
        ),
        ("wawi/items.json", [{"Id": True}], "field 'Id' must be an integer, got True"),
        ("wawi/items.json", [{"Id": 1}, {"Id": 1}], "wawi/items.json[1]: duplicate Id 1 (first at [0])"),
        (
            "wawi/stocks.json",
            [{"WarehouseId": 1, "QuantityTotal": 3}],
            "wawi/stocks.json[0]: missing key field 'ItemId'",
        ),
        (
            "wawi/salesOrderLineItems.json",
            [{"Id": 1, "SalesOrderId": 99}],
            "wawi/salesOrderLineItems.json[0]: field 'SalesOrderId' 99 matches no sales order",
        ),
        (
            "wawi/salesOrders.json",
            [{"Id": 1, "LineItems": [{"Quantity": 1}]}],
            "wawi/salesOrders.json[0].LineItems[0]: field 'Id' must be an integer",
        ),
        (
            "wawi/returns.json",
            [{"Id": 1, "Number": "RE1"}],
            "wawi/returns.json[0]: missing field 'ReturnDate'",
        ),
        (
            "wawi/returnLineItems.json",
            [{"Id": 1, "ReturnId": 1, "SKU": "S", "Quantity": "2"}],
            "wawi/returnLineItems.json[0]: field 'Quantity' must be a number",
        ),
        ("sheets/s1.json", [], "sheets/s1.json: expected an object"),
        (
            "sheets/s1.json",
            {"title": "t", "sheets": [{"title": "a", "values": [1]}]},
            "sheets[0]: field 'values'",
        ),
        (
            "sheets/s1.json",
            {"title": "t", "sheets": [{"sheetId": 0}]},
            "sheets[0]: field 'title' must be a string",
        ),
        ("ffn/account.json", {"merchantId": 1}, "ffn/account.json: field 'merchantId' must be a string"),
    ],
)
def test_bad_fixtures_name_file_index_and_field(
    tmp_path: Path, rel: str, content: Any, expected: str
) -> None:
    write(tmp_path, rel, content)
    with pytest.raises(FixtureError) as caught:
        load_fixture_dir(tmp_path)
    assert expected in str(caught.value)


def test_missing_folder_is_a_fixture_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="does not exist"):
        load_fixture_dir(tmp_path / "nope")
