"""The product sync's decisions on tiny literal worlds: units, scope, bad input, the diff and the payloads."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pandera.errors
import pytest

from jtl_automator.clients.ffn.models import ProductCreate, ProductUpdate
from jtl_automator.sandbox.generator import generate
from jtl_automator.transforms.product_sync import (
    FulfilmentRule,
    ProductPlanParams,
    combine_plans,
    create_body,
    ffn_products_frame,
    field_changes,
    packaging_bundles,
    plan_items,
    plan_product_sync,
    plan_vanished,
    update_body,
    wawi_products_frame,
    with_bundles,
)

MAKERS = {3: "Holzwerkstatt Erzgebirge"}
EAN = "4006381333931"


def item(item_id: int = 1, **overrides: Any) -> dict[str, Any]:
    """A Wawi item as GET /items returns it: a toy box, 30 x 20 x 15.5 cm, 0.75 kg (0.82 kg shipped)."""
    base: dict[str, Any] = {
        "Id": item_id,
        "SKU": f"HOL-{item_id}",
        "ManufacturerId": 3,
        "IsActive": True,
        "Categories": [{"CategoryId": 7, "Name": "Spielzeug"}],
        "Name": "Spielzeugkiste Buche",
        "Identifiers": {"Gtin": EAN, "ManufacturerNumber": "SK-30", "ISBN": None, "UPC": None},
        "Components": [],
        "ChildItems": [],
        "ItemPriceData": {"SalesPriceNet": 24.37},
        "StorageOptions": {"InventoryManagementActive": True, "SubjectToBatchItem": False},
        "CountryOfOrigin": "DE",
        "Dimensions": {"Length": 30.0, "Width": 20.0, "Height": 15.5},
        "Weights": {"ItemWeigth": 0.75, "ShippingWeight": 0.82},
        "Taric": "95030099",
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def product(item_id: int = 1, **overrides: Any) -> dict[str, Any]:
    """The FFN product of ``item(item_id)`` in sync: the same box in metres."""
    base: dict[str, Any] = {
        "jfsku": f"MERC000000{item_id}",
        "merchantSku": f"HOL-{item_id}",
        "name": "Spielzeugkiste Buche",
        "manufacturer": "Holzwerkstatt Erzgebirge",
        "originCountry": "DE",
        "weight": 0.82,
        "netWeight": 0.75,
        "identifier": {
            "mpn": {"manufacturer": "Holzwerkstatt Erzgebirge", "partNumber": "SK-30"},
            "ean": EAN,
            "isbn": "978-3-86680-192-9",
            "upc": None,
            "asin": None,
        },
        "specifications": {"taric": "95030099", "isBatch": True, "isBestBefore": False},
        "dimensions": {"length": 0.3, "width": 0.2, "height": 0.155},
        "netRetailPrice": {"amount": 24.37, "currency": "EUR"},
        "bundles": [],
    }
    base.update(overrides)
    return base


def plan(
    items: list[dict[str, Any]],
    products: list[dict[str, Any]],
    params: ProductPlanParams | None = None,
    **frame_kwargs: Any,
) -> pd.DataFrame:
    params = params or ProductPlanParams()
    frame_kwargs.setdefault("manufacturers", MAKERS)
    frame_kwargs.setdefault("suppliers", {i["Id"]: [] for i in items if isinstance(i.get("Id"), int)})
    wawi = wawi_products_frame(items, params, **frame_kwargs)
    return plan_product_sync(wawi, ffn_products_frame(products), params)


def row(frame: pd.DataFrame, sku: str) -> dict[str, Any]:
    found = frame[frame["merchant_sku"] == sku]
    assert len(found) == 1, found
    return dict(found.iloc[0])


@pytest.mark.slow
def test_units_centimetres_become_metres_and_kilograms_stay_kilograms() -> None:
    wawi = wawi_products_frame([item()], ProductPlanParams(), manufacturers=MAKERS)
    desired = wawi.iloc[0]
    assert (desired["length"], desired["width"], desired["height"]) == (0.3, 0.2, 0.155)
    assert (desired["weight"], desired["net_weight"]) == (0.82, 0.75)
    result = plan([item()], [product()])
    assert row(result, "HOL-1")["status"] == "unchanged"


@pytest.mark.slow
def test_a_product_stored_in_centimetres_is_corrected_to_metres() -> None:
    result = plan([item()], [product(dimensions={"length": 30, "width": 20, "height": 15.5})])
    decided = row(result, "HOL-1")
    assert decided["status"] == "update"
    assert decided["changed"] == "dimensions.length,dimensions.width,dimensions.height"
    body = update_body(decided, product())
    assert body == {"dimensions": {"length": 0.3, "width": 0.2, "height": 0.155}}
    ProductUpdate.model_validate(body)


@pytest.mark.slow
def test_tiny_float_noise_is_not_a_change() -> None:
    wawi = item(Dimensions={"Length": 12.34}, Weights={"ItemWeigth": 0.1234, "ShippingWeight": 0.2})
    ffn = product(
        dimensions={"length": 0.12340000001, "width": 0.2, "height": 0.155}, netWeight=0.12344, weight=0.2
    )
    assert row(plan([wawi], [ffn]), "HOL-1")["status"] == "unchanged"


@pytest.mark.slow
def test_a_new_item_is_created_with_a_spec_valid_body() -> None:
    result = plan([item(StorageOptions={"SubjectToBatchItem": True})], [])
    decided = row(result, "HOL-1")
    assert decided["status"] == "create" and pd.isna(decided["jfsku"])
    body = create_body(decided)
    assert body == {
        "merchantSku": "HOL-1",
        "name": "Spielzeugkiste Buche",
        "manufacturer": "Holzwerkstatt Erzgebirge",
        "originCountry": "DE",
        "weight": 0.82,
        "netWeight": 0.75,
        "identifier": {
            "ean": EAN,
            "mpn": {"manufacturer": "Holzwerkstatt Erzgebirge", "partNumber": "SK-30"},
        },
        "specifications": {
            "isBatch": True,
            "isDivisible": False,
            "isBestBefore": False,
            "isSerialNumber": False,
            "isBillOfMaterials": False,
            "isPackaging": False,
            "billOfMaterialsComponents": [],
            "taric": "95030099",
        },
        "dimensions": {"length": 0.3, "width": 0.2, "height": 0.155},
        "netRetailPrice": {"amount": 24.37, "currency": "EUR"},
        "bundles": [],
    }
    ProductCreate.model_validate(body)


@pytest.mark.slow
def test_a_changed_name_patches_the_name_only() -> None:
    decided = row(plan([item(Name="Spielzeugkiste Eiche")], [product()]), "HOL-1")
    assert (decided["status"], decided["changed"]) == ("update", "name")
    assert update_body(decided, product()) == {"name": "Spielzeugkiste Eiche"}


@pytest.mark.slow
def test_a_changed_ean_sends_the_whole_identifier_keeping_what_the_sync_does_not_own() -> None:
    decided = row(plan([item(Identifiers={"Gtin": "96385074"})], [product()]), "HOL-1")
    assert decided["changed"] == "identifier.ean"
    body = update_body(decided, product())
    assert body == {
        "identifier": {
            "mpn": {"manufacturer": "Holzwerkstatt Erzgebirge", "partNumber": "SK-30"},
            "ean": "96385074",
            "isbn": "978-3-86680-192-9",
            "upc": None,
            "asin": None,
        }
    }


@pytest.mark.slow
def test_a_text_wawi_empties_is_cleared_but_a_number_it_leaves_at_zero_is_kept() -> None:
    wawi = item(Identifiers={"Gtin": "", "ManufacturerNumber": None}, Weights={"ShippingWeight": 0})
    decided = row(plan([wawi], [product()]), "HOL-1")
    assert decided["changed"] == "identifier.ean,identifier.mpn.partNumber,identifier.mpn.manufacturer"
    body = update_body(decided, product())
    assert body["identifier"]["ean"] is None and body["identifier"]["mpn"] is None
    assert "weight" not in body


@pytest.mark.slow
def test_a_half_maintained_box_keeps_ffn_dimensions() -> None:
    decided = row(plan([item(Dimensions={"Width": 0})], [product(dimensions=None)]), "HOL-1")
    assert decided["status"] == "unchanged"


@pytest.mark.slow
def test_taric_and_price_changes_send_whole_objects() -> None:
    wawi = item(Taric="95030010", ItemPriceData={"SalesPriceNet": 19.9})
    decided = row(plan([wawi], [product()]), "HOL-1")
    assert decided["changed"] == "specifications.taric,netRetailPrice.amount"
    body = update_body(decided, product())
    assert body["netRetailPrice"] == {"amount": 19.9, "currency": "EUR"}
    assert body["specifications"]["taric"] == "95030010" and body["specifications"]["isBatch"] is True
    assert body["specifications"]["billOfMaterialsComponents"] == []
    ProductUpdate.model_validate(body)


@pytest.mark.slow
def test_packaging_units_become_bundles_and_keep_the_bundle_ean() -> None:
    suppliers = [
        {"IsStandard": False, "PackagingUnit": "Palette", "AmountPackagingUnit": 480.0},
        {"IsStandard": True, "PackagingUnit": "Karton", "AmountPackagingUnit": 12.0},
        {"IsStandard": False, "PackagingUnit": "Stück", "AmountPackagingUnit": 1.0},
        {"IsStandard": False, "PackagingUnit": "Kiste", "AmountPackagingUnit": 12.0},
    ]
    assert json.loads(packaging_bundles(suppliers) or "") == [
        {"name": "Karton", "quantity": 12.0},
        {"name": "Palette", "quantity": 480.0},
    ]
    ffn = product(bundles=[{"name": "Karton", "quantity": 12, "ean": "4006381333948", "upc": None}])
    decided = row(plan([item()], [ffn], suppliers={1: suppliers}), "HOL-1")
    assert decided["changed"] == "bundles"
    assert update_body(decided, ffn)["bundles"] == [
        {"name": "Karton", "quantity": 12.0, "ean": "4006381333948", "upc": None},
        {"name": "Palette", "quantity": 480.0, "ean": None, "upc": None},
    ]
    untouched = row(plan([item()], [ffn], suppliers={}), "HOL-1")  # no supplier rows read: bundles stay
    assert untouched["status"] == "unchanged"
    off = ProductPlanParams(packaging_units=False)
    assert row(plan([item()], [ffn], off, suppliers={1: suppliers}), "HOL-1")["status"] == "unchanged"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"SKU": "  "}, "no SKU", id="no-sku"),
        pytest.param({"SKU": "X" * 256}, "SKU is 256 characters long", id="sku-too-long"),
        pytest.param({"Name": ""}, "Name is empty", id="no-name"),
        pytest.param({"Identifiers": {"Gtin": "4006381333932"}}, "'4006381333932' is not a GTIN", id="gtin"),
        pytest.param({"Identifiers": {"Gtin": "4006 3813 3393 1"}}, "is not a GTIN", id="gtin-spaces"),
        pytest.param(
            {"Weights": {"ItemWeigth": -0.2}}, "Weights.ItemWeigth is negative: -0.2 kg", id="negative"
        ),
        pytest.param(
            {"Weights": {"ShippingWeight": 1500}},
            "Weights.ShippingWeight is 1500 kg, above the plausible 1000 kg",
            id="absurd-weight",
        ),
        pytest.param(
            {"Dimensions": {"Length": 3000}},
            "Dimensions.Length is 3000 cm, above the plausible 500 cm",
            id="absurd",
        ),
        pytest.param(
            {"Dimensions": {"Height": "15,5"}}, "Dimensions.Height is not a number: '15,5'", id="text"
        ),
        pytest.param(
            {"Weights": {"ItemWeigth": 2.0, "ShippingWeight": 1.0}},
            "Weights.ItemWeigth 2 kg is above Weights.ShippingWeight 1 kg",
            id="net-above-gross",
        ),
        pytest.param(
            {"CountryOfOrigin": "Deutschland"}, "'Deutschland' is not an ISO 3166 alpha-2", id="country"
        ),
        pytest.param({"ItemPriceData": {"SalesPriceNet": -1}}, "SalesPriceNet is negative", id="price"),
    ],
)
@pytest.mark.slow
def test_bad_input_is_named_per_item_and_the_batch_goes_on(overrides: dict[str, Any], reason: str) -> None:
    result = plan([item(1, **overrides), item(2)], [product(1, name="Alt"), product(2, name="Alt")])
    bad = result[result["item_id"] == 1].iloc[0]
    assert bad["status"] == "invalid" and reason in bad["reason"]
    assert row(result, "HOL-2")["status"] == "update"


@pytest.mark.slow
def test_a_sku_two_items_share_is_refused_for_both() -> None:
    result = plan([item(1), item(2, SKU="HOL-1")], [])
    assert list(result["status"]) == ["invalid", "invalid"]
    assert all("SKU carried by several Wawi items (1, 2)" in r for r in result["reason"])


@pytest.mark.slow
def test_a_lowercase_country_is_an_iso_code_all_the_same() -> None:
    assert row(plan([item(CountryOfOrigin="de")], [product()]), "HOL-1")["status"] == "unchanged"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        pytest.param({"IsActive": False}, "inactive in Wawi", id="inactive"),
        pytest.param(
            {"StorageOptions": {"InventoryManagementActive": False}}, "no inventory management", id="stock"
        ),
        pytest.param({"ChildItems": [5, 6]}, "parent of variations", id="parent"),
        pytest.param({"Components": [{"ItemId": 9, "Quantity": 2}]}, "bill of materials", id="bom"),
    ],
)
def test_items_out_of_scope_are_not_created_and_their_products_are_reported_vanished(
    overrides: dict[str, Any], why: str
) -> None:
    assert plan([item(**overrides)], []).empty
    for full in (True, False):
        result = plan([item(**overrides)], [product()], ProductPlanParams(full=full))
        gone = row(result, "HOL-1")
        assert gone["status"] == "vanished" and why in gone["reason"] and gone["jfsku"] == "MERC0000001"


@pytest.mark.slow
def test_a_product_without_wawi_item_is_vanished_in_full_runs_only() -> None:
    stray = product(9, merchantSku="GONE-9")
    assert row(plan([item()], [product(), stray]), "GONE-9")["reason"] == "no Wawi item with this SKU"
    incremental = plan([item()], [product(), stray], ProductPlanParams(full=False))
    assert "GONE-9" not in set(incremental["merchant_sku"])


@pytest.mark.slow
def test_category_and_property_rules() -> None:
    by_category = ProductPlanParams(rule=FulfilmentRule(kind="category", category_ids=frozenset({8})))
    result = plan([item(1), item(2, Categories=[{"CategoryId": 8}])], [], by_category)
    assert list(result["merchant_sku"]) == ["HOL-2"]
    by_property = ProductPlanParams(
        rule=FulfilmentRule(kind="property", property_id=4, property_value_ids=frozenset({41}))
    )
    properties = {
        1: [{"PropertyId": 4, "PropertyValueId": 42}],
        2: [{"PropertyId": 4, "PropertyValueId": 41}],
    }
    result = plan([item(1), item(2)], [product(1)], by_property, properties=properties)
    assert row(result, "HOL-2")["status"] == "create"
    assert "without property 4 = 41" in row(result, "HOL-1")["reason"]
    with pytest.raises(ValueError, match="category_ids"):
        FulfilmentRule(kind="category")


@pytest.mark.slow
def test_two_ffn_products_with_one_sku_are_ambiguous_and_left_alone() -> None:
    twin = product(2, merchantSku="HOL-1")
    decided = row(plan([item(Name="Neu")], [product(), twin]), "HOL-1")
    assert decided["status"] == "ambiguous"
    assert decided["reason"] == "several FFN products carry this merchantSku (MERC0000001, MERC0000002)"


@pytest.mark.slow
def test_the_diff_has_one_row_per_field_with_before_and_after() -> None:
    result = plan(
        [item(1, Name="Neu", Dimensions={"Length": 31}), item(2, SKU="NEW-2")],
        [product(1)],
    )
    changes = field_changes(result)
    first = changes[changes["merchant_sku"] == "HOL-1"]
    assert first[["field", "before", "after"]].to_numpy().tolist() == [
        ["name", "Spielzeugkiste Buche", "Neu"],
        ["dimensions.length", "0.3", "0.31"],
    ]
    created = changes[changes["merchant_sku"] == "NEW-2"]
    assert set(created["action"]) == {"create"} and set(created["before"]) == {""}
    assert "dimensions.height" in set(created["field"]) and "bundles" not in set(created["field"])


@pytest.mark.slow
def test_the_diff_of_a_run_without_changes_is_empty_but_typed() -> None:
    changes = field_changes(plan([item()], [product()]))
    assert changes.empty and list(changes.columns)[:2] == ["merchant_sku", "jfsku"]


@pytest.mark.slow
def test_the_plan_schema_refuses_an_update_without_a_change() -> None:
    result = plan([item(Name="Neu")], [product()])
    broken = result.copy()
    broken.loc[broken["merchant_sku"] == "HOL-1", "changed"] = ""
    with pytest.raises(pandera.errors.SchemaError, match="an update without a change"):
        field_changes(broken)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda f: f.drop(columns="in_scope"), "column 'in_scope' not in dataframe", id="missing"
        ),
        pytest.param(lambda f: f.astype({"weight": "object"}), "weight", id="dtype"),
    ],
)
@pytest.mark.slow
def test_the_wawi_frame_schema(mutate: Any, message: str) -> None:
    frame = wawi_products_frame([item()], ProductPlanParams(), manufacturers=MAKERS)
    with pytest.raises(pandera.errors.SchemaError, match=message):
        plan_product_sync(mutate(frame), ffn_products_frame([]), ProductPlanParams())


def test_unreadable_entries_are_skipped_and_ffn_junk_reads_as_missing() -> None:
    frame = wawi_products_frame(["junk", {"Id": "7"}, item()], ProductPlanParams())  # type: ignore[list-item]
    assert list(frame["item_id"]) == [1]
    odd = copy.deepcopy(product())
    odd["weight"] = "schwer"
    odd["dimensions"] = "30x20"
    values = ffn_products_frame([odd]).iloc[0]
    assert pd.isna(values["weight"]) and pd.isna(values["length"])


# --------------------------------------------------------------------------------------------- in chunks
def _seeded_world() -> tuple[
    list[dict[str, Any]], dict[int, list[Any]], list[dict[str, Any]], dict[int, str]
]:
    """A generated world (its packaging units drift into bundles) with every kind of decision in it."""
    data = generate(seed=11, skus=240, orders=5, customers=5, suppliers=4)
    items = [copy.deepcopy(data.wawi.items[i]) for i in sorted(data.wawi.items)]
    products = [copy.deepcopy(p) for _, p in sorted(data.ffn.products.items())]
    suppliers = {i: copy.deepcopy(rows) for i, rows in data.wawi.item_suppliers.items()}
    makers = {m["Id"]: m["Name"] for m in data.wawi.manufacturers.values()}
    del products[3:9]  # created
    products.append({**products[20], "jfsku": "MERCTWIN0001"})  # ambiguous
    products.append({**products[21], "jfsku": "MERCSTRAY001", "merchantSku": "NOT-IN-WAWI"})  # vanished
    items[30]["SKU"] = items[200]["SKU"]  # a SKU two items far apart share: invalid, both
    items[40]["Identifiers"]["Gtin"] = "4006381333932"  # invalid
    items[50]["IsActive"] = False  # out of scope: its product vanished
    items[60]["SKU"] = ""  # no SKU
    del suppliers[items[70]["Id"]]  # vanished while its suppliers were read: bundles left alone
    return items, suppliers, products, makers


@pytest.mark.slow
@pytest.mark.parametrize("size", [1, 7, 64, 1000])
def test_planning_in_chunks_decides_as_planning_all_at_once(size: int) -> None:
    items, suppliers, products, makers = _seeded_world()
    params = ProductPlanParams()
    ffn = ffn_products_frame(products)
    whole = plan_product_sync(
        wawi_products_frame(items, params, manufacturers=makers, suppliers=suppliers), ffn, params
    )
    assert {"create", "update", "unchanged", "invalid", "ambiguous", "vanished"} <= set(whole["status"])
    assert (whole["bundles"].dropna() != "[]").any()  # packaging units became bundles

    framed = wawi_products_frame(items, params, manufacturers=makers)  # before any supplier row is read
    scoped = framed[framed["in_scope"]].sample(frac=1.0, random_state=size)  # chunks in any order
    parts = [plan_vanished(framed, ffn, params)]
    for start in range(0, len(scoped), size):
        chunk = scoped.iloc[start : start + size]
        read = {i: suppliers[i] for i in chunk["item_id"].tolist() if i in suppliers}
        parts.append(plan_items(with_bundles(chunk, read, params), ffn, params))
    pd.testing.assert_frame_equal(combine_plans(parts), whole)


def test_bundles_filled_in_later_are_those_framed_with_the_suppliers() -> None:
    items = [item(1), item(2), item(3)]
    suppliers = {1: [{"AmountPackagingUnit": 6, "PackagingUnit": "Karton", "IsStandard": True}], 2: []}
    params = ProductPlanParams()
    later = with_bundles(wawi_products_frame(items, params), suppliers, params)
    pd.testing.assert_frame_equal(later, wawi_products_frame(items, params, suppliers=suppliers))
    assert later["bundles"].tolist()[:2] == ['[{"name": "Karton", "quantity": 6.0}]', "[]"]
    assert later["bundles"].isna().tolist()[2]  # not read: FFN's bundles stay
    off = ProductPlanParams(packaging_units=False)
    assert with_bundles(wawi_products_frame(items, off), suppliers, off)["bundles"].isna().all()
