"""GTIN check digits with real codes, plausible ranges and the quality report."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from jtl_automator.gtin import gtin_check_digit, gtin_valid
from jtl_automator.transforms.product_quality import (
    Plausibility,
    Range,
    gtin_problem,
    gtin_problems,
    normalise_gtin,
    plausibility_problems,
    quality_counts,
    quality_report,
)

# Real codes: a Stabilo pen's EAN-13, GS1's EAN-13 example, Wikipedia's EAN-8 and UPC-A examples (the
# UPC-A is a Wrigley chewing gum), GS1's GTIN-14 example, a German EAN-8 in use.
VALID = {
    "EAN-13": "4006381333931",
    "EAN-13 (GS1 example)": "5901234123457",
    "EAN-8": "96385074",
    "EAN-8 (German)": "40170725",
    "UPC-12": "036000291452",
    "GTIN-14": "00012345600012",
}


@pytest.mark.parametrize("code", VALID.values(), ids=VALID.keys())
def test_real_gtins_are_valid_and_a_changed_last_digit_is_not(code: str) -> None:
    assert gtin_valid(code) and gtin_problem(code) is None
    assert gtin_check_digit(code[:-1]) == int(code[-1])
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert not gtin_valid(wrong)
    assert gtin_problem(wrong) == f"{wrong} ends in check digit {wrong[-1]}, expected {code[-1]}"


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("400638133393", "ends in check digit 3, expected 0"),  # an EAN-13 missing its check digit, as UPC-12
        ("4006381", "has 7 digits; a GTIN has 8, 12, 13 or 14"),
        ("40063813339310", "ends in check digit 0, expected 4"),  # a digit too many is a different GTIN-14
        ("4006381-333931", "has characters other than digits"),
        ("4.00638E+12", "scientific notation"),
        ("00000000", "only zeros"),
        ("400638133393100", "has 15 digits"),
    ],
)
def test_invalid_codes_say_why(code: str, problem: str) -> None:
    found = gtin_problem(code)
    assert found is not None and problem in found and not gtin_valid(code)


def test_blank_is_absent_not_invalid() -> None:
    assert gtin_problem(None) is None and gtin_problem("  ") is None
    assert not gtin_valid(None) and not gtin_valid("")
    with pytest.raises(ValueError, match="digits only"):
        gtin_check_digit("12a")


def test_an_ean13_and_its_gtin14_are_one_code() -> None:
    assert normalise_gtin("4006381333931") == normalise_gtin("04006381333931") == "04006381333931"
    assert normalise_gtin("036000291452") == "00036000291452"


def test_gtin_problems_checks_each_distinct_value_once() -> None:
    codes = pd.Series(["4006381333931", "4006381333932", None, "4006381333932", ""])
    problems = gtin_problems(codes)
    assert problems.isna().tolist() == [True, False, True, False, True]
    assert problems[1] == problems[3]


def test_ranges_refuse_upside_down_bounds() -> None:
    with pytest.raises(ValidationError, match="above max"):
        Range(min=5, max=1)


def test_plausibility_names_every_implausible_value() -> None:
    frame = pd.DataFrame(
        {
            "item_weight": [1.0, 2500.0, 0.5, None],
            "shipping_weight": [1.1, 2600.0, 0.4, None],
            "length": [10.0, 0.01, 20.0, None],
            "purchase_price": [5.0, 5.0, 0.0, None],
        }
    )
    problems = plausibility_problems(frame, Plausibility())
    assert pd.isna(problems[0]) and pd.isna(problems[3])
    assert problems[1] == (
        "item weight 2500 kg outside 0.001–1000 kg; shipping weight 2600 kg outside 0.001–1500 kg; "
        "length 0.01 cm outside 0.1–300 cm"
    )
    assert problems[2] == (
        "purchase price 0 outside 0.01–100000; shipping weight 0.4 kg below item weight 0.5 kg"
    )


def _item(item_id: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "item_id": item_id,
        "sku": f"S-{item_id}",
        "name": f"Item {item_id}",
        "gtin": None,
        "item_weight": 1.0,
        "shipping_weight": 1.2,
        "length": 10.0,
        "width": 10.0,
        "height": 5.0,
        "description": "<p>Text</p>",
        "short_description": "Short",
        "category_count": 1,
        "image_count": 1,
    }
    return {**item, **overrides}


def test_the_report_lists_each_problem_once_with_its_value() -> None:
    items = pd.DataFrame(
        [
            _item(1, gtin="4006381333931"),
            _item(2, gtin="04006381333931"),  # the same code as GTIN-14
            _item(3, gtin="4006381333932", item_weight=0.0, shipping_weight=None),
            _item(4, gtin="96385074", length=0.0, width=None, height=900.0),
            _item(5, gtin="036000291452", description="<p> </p>", short_description="", image_count=0),
            _item(6, gtin="", category_count=0, image_count=None, shipping_weight=0.5),
        ]
    )
    report = quality_report(items)
    found = {(row.sku, row.check): row.detail for row in report.itertuples()}
    assert found == {
        ("S-1", "duplicate_gtin"): "GTIN on items S-1, S-2",
        ("S-2", "duplicate_gtin"): "GTIN on items S-1, S-2",
        ("S-3", "invalid_gtin"): "4006381333932 ends in check digit 2, expected 1",
        ("S-3", "missing_weight"): "neither item nor shipping weight",
        ("S-4", "missing_dimensions"): "not set: length, width",
        ("S-4", "dimensions_out_of_range"): "height 900 cm outside 0.1–300 cm",
        ("S-5", "missing_description"): "neither description nor short description",
        ("S-5", "missing_images"): "no image",
        ("S-6", "missing_gtin"): "no GTIN",
        ("S-6", "weight_out_of_range"): "shipping weight 0.5 kg below item weight 1 kg",
        ("S-6", "missing_category"): "in no category",
    }
    assert report.loc[report["check"] == "invalid_gtin", "value"].tolist() == ["4006381333932"]
    counts = quality_counts(report)
    assert counts["duplicate_gtin"] == 2 and counts["missing_images"] == 1 and sum(counts.values()) == 11


def test_a_clean_catalogue_has_an_empty_report_with_its_columns() -> None:
    report = quality_report(pd.DataFrame([_item(1, gtin="4006381333931")]))
    assert report.empty and list(report.columns) == ["item_id", "sku", "name", "check", "value", "detail"]
    assert quality_counts(report) == dict.fromkeys(quality_counts(report), 0)


def test_tighter_ranges_from_the_merchant() -> None:
    items = pd.DataFrame([_item(1, gtin="4006381333931", item_weight=40.0, shipping_weight=41.0)])
    parcel = Range(min=0.01, max=31.5)
    tight = Plausibility(item_weight_kg=parcel, shipping_weight_kg=parcel)
    report = quality_report(items, tight)
    assert report["detail"].tolist() == [
        "item weight 40 kg outside 0.01–31.5 kg; shipping weight 41 kg outside 0.01–31.5 kg"
    ]
