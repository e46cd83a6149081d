"""Product data quality: GTIN check digits, plausible weights and dimensions, and the quality report.

The one place for GTIN problems (the check digit itself is ``jtl_automator.gtin``) and plausibility
ranges (the enrichment's feed rows, the quality report and any later product check use these functions):

- **GTIN** (GS1 General Specifications, section 7.9): 8 (EAN-8), 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14)
  digits, the last one the check digit: the other digits weighted 3, 1, 3, … from the right, the check
  digit brings the sum to a multiple of 10. A code of only zeros is no GTIN. Codes are compared as
  14-digit numbers (``normalise_gtin``: EAN-13 ``4006381333931`` is GTIN-14 ``04006381333931``), so
  an EAN-13 and the same GTIN-14 count as one code in the duplicate check.
- **Plausible ranges** (:class:`Plausibility`): Wawi keeps weights in kg (the spec says so) and
  dimensions in cm (Wawi's item dialog; the spec names no unit). A value outside its range is a typo or a
  unit mistake (grams in a kg field), never a real article of this merchant: the defaults (1 g to
  1,000 kg, 1 mm to 3 m a side) cover parcels and pallet goods, and a merchant can tighten them.

Everything here is pure: frames in, frames out; each distinct GTIN is checked once, not once per row.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.gtin import gtin_check_digit
from jtl_automator.transforms.validation import validate_frame

#: Lengths GS1 issues GTINs in: EAN-8, UPC-A (GTIN-12), EAN-13, GTIN-14.
GTIN_LENGTHS = (8, 12, 13, 14)
_DIGITS = re.compile(r"^[0-9]+$")
_SCIENTIFIC = re.compile(r"^[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]+$")

# The quality report's checks (one row per item and problem).
MISSING_GTIN = "missing_gtin"
INVALID_GTIN = "invalid_gtin"
DUPLICATE_GTIN = "duplicate_gtin"
MISSING_WEIGHT = "missing_weight"
WEIGHT_OUT_OF_RANGE = "weight_out_of_range"
MISSING_DIMENSIONS = "missing_dimensions"
DIMENSIONS_OUT_OF_RANGE = "dimensions_out_of_range"
MISSING_DESCRIPTION = "missing_description"
MISSING_IMAGES = "missing_images"
MISSING_CATEGORY = "missing_category"
CHECKS = (
    MISSING_GTIN,
    INVALID_GTIN,
    DUPLICATE_GTIN,
    MISSING_WEIGHT,
    WEIGHT_OUT_OF_RANGE,
    MISSING_DIMENSIONS,
    DIMENSIONS_OUT_OF_RANGE,
    MISSING_DESCRIPTION,
    MISSING_IMAGES,
    MISSING_CATEGORY,
)
DIMENSION_FIELDS = ("length", "width", "height")


def gtin_problem(code: str | None) -> str | None:
    """Why ``code`` is not a valid GTIN (None when it is one); blanks count as absent, not invalid."""
    if code is None:
        return None
    text = str(code).strip()
    if not text:
        return None
    if _SCIENTIFIC.match(text):
        return f"{text} is a number in scientific notation (a spreadsheet cut its digits): not a GTIN"
    if not _DIGITS.match(text):
        return f"{text} has characters other than digits"
    if len(text) not in GTIN_LENGTHS:
        return f"{text} has {len(text)} digits; a GTIN has 8, 12, 13 or 14"
    if set(text) == {"0"}:
        return f"{text} is only zeros"
    expected = gtin_check_digit(text[:-1])
    if int(text[-1]) != expected:
        return f"{text} ends in check digit {text[-1]}, expected {expected}"
    return None


def normalise_gtin(code: str) -> str:
    """A valid GTIN as its 14-digit form (leading zeros), so EAN-13 and GTIN-14 of one code compare equal."""
    return str(code).strip().zfill(14)


def gtin_problems(codes: pd.Series) -> pd.Series:
    """:func:`gtin_problem` of each value, computed once per distinct value (NA where valid or blank)."""
    values, labels = pd.factorize(codes.astype("string").str.strip())
    verdicts = [gtin_problem(str(label)) for label in labels]
    table = np.asarray([*verdicts, None], dtype=object)
    return pd.Series(table[values], index=codes.index, dtype="string")


class Range(BaseModel):
    """A closed interval a value must lie in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float = Field(gt=0)
    max: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    def outside(self, values: pd.Series) -> pd.Series:
        """Rows whose value is set and outside the interval (NA counts as inside: it is missing instead)."""
        numbers = pd.to_numeric(values, errors="coerce")
        return ((numbers < self.min) | (numbers > self.max)).fillna(False).astype(bool)

    def text(self, unit: str) -> str:
        """``0.001–1000 kg``."""
        return f"{self.min:g}–{self.max:g} {unit}"


class Plausibility(BaseModel):
    """What a real article's data can be; outside it, a value is refused (feed) or reported (quality)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_weight_kg: Range = Range(min=0.001, max=1000)
    shipping_weight_kg: Range = Range(min=0.001, max=1500)
    dimension_cm: Range = Range(min=0.1, max=300)
    purchase_price: Range = Range(min=0.01, max=100_000)
    #: The shipping weight (article plus packaging) may not be below the article's own weight.
    shipping_at_least_item_weight: bool = True


def plausibility_problems(frame: pd.DataFrame, plausibility: Plausibility) -> pd.Series:
    """Per row, what is implausible about the numbers it has (NA where nothing is), in one text.

    Looks at the columns present of ``item_weight``, ``shipping_weight``, ``length``, ``width``,
    ``height`` and ``purchase_price``; missing values are not judged here.
    """
    problems = pd.Series(pd.NA, index=frame.index, dtype="string")

    def note(mask: pd.Series, text: pd.Series) -> None:
        nonlocal problems
        found = text.astype("string").where(mask)
        problems = (problems + "; " + found).fillna(problems).fillna(found)

    checks = [
        ("item_weight", plausibility.item_weight_kg, "kg", "item weight"),
        ("shipping_weight", plausibility.shipping_weight_kg, "kg", "shipping weight"),
        *((side, plausibility.dimension_cm, "cm", side) for side in DIMENSION_FIELDS),
        ("purchase_price", plausibility.purchase_price, "", "purchase price"),
    ]
    for column, bounds, unit, label in checks:
        if column not in frame:
            continue
        mask = bounds.outside(frame[column])
        if mask.any():
            shown = pd.to_numeric(frame[column], errors="coerce").map(_number).astype("string")
            unit_text = f" {unit}" if unit else ""
            note(mask, f"{label} " + shown + f"{unit_text} outside {bounds.text(unit).strip()}")
    if plausibility.shipping_at_least_item_weight and {"item_weight", "shipping_weight"} <= set(frame):
        item = pd.to_numeric(frame["item_weight"], errors="coerce")
        shipping = pd.to_numeric(frame["shipping_weight"], errors="coerce")
        mask = (shipping < item).fillna(False).astype(bool)
        if mask.any():
            text = (
                "shipping weight "
                + shipping.map(_number).astype("string")
                + " kg below item weight "
                + item.map(_number).astype("string")
                + " kg"
            )
            note(mask, text)
    return problems


# -- the quality report -------------------------------------------------------------------------------

QUALITY_INPUT_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("int64"),
        "sku": pa.Column("string", nullable=True),
        "name": pa.Column("string", nullable=True),
        "gtin": pa.Column("string", nullable=True),
        "item_weight": pa.Column("float64", nullable=True),
        "shipping_weight": pa.Column("float64", nullable=True),
        "length": pa.Column("float64", nullable=True),
        "width": pa.Column("float64", nullable=True),
        "height": pa.Column("float64", nullable=True),
        "description": pa.Column("string", nullable=True),
        "short_description": pa.Column("string", nullable=True),
        "category_count": pa.Column("int64"),
        # None: the images were not read (the check is left out for that item, not failed).
        "image_count": pa.Column("Int64", nullable=True),
    },
    name="quality_input",
    unique=["item_id"],
    coerce=True,
)
QUALITY_COLUMNS: dict[str, str] = {
    "item_id": "int64",
    "sku": "string",
    "name": "string",
    "check": "string",
    "value": "string",
    "detail": "string",
}
QUALITY_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(dtype, nullable=name in ("sku", "name", "value"))
        for name, dtype in QUALITY_COLUMNS.items()
    },
    checks=[pa.Check(lambda df: df["check"].isin(CHECKS).all(), error="an unknown check")],
    name="quality_report",
)


def _blank(values: pd.Series) -> pd.Series:
    """Missing text: NA, empty or only white space (HTML without any text counts as empty too)."""
    text = values.astype("string").str.replace(r"<[^>]*>", "", regex=True).str.strip()
    return (text.isna() | (text == "")).astype(bool)


def _unset(values: pd.Series) -> pd.Series:
    """A missing number: NA, or 0 (Wawi answers 0 for a weight or a side nobody entered)."""
    numbers = pd.to_numeric(values, errors="coerce")
    return (numbers.isna() | (numbers == 0)).astype(bool)


def quality_report(items: pd.DataFrame, plausibility: Plausibility | None = None) -> pd.DataFrame:
    """One row per item and problem: what is missing, invalid, duplicated or implausible, and its value.

    Checks: ``missing_gtin``, ``invalid_gtin`` (check digit, length, characters), ``duplicate_gtin``
    (one code on several items, compared as GTIN-14), ``missing_weight`` (no item and no shipping
    weight), ``weight_out_of_range`` (either weight outside its range, or shipping below item weight),
    ``missing_dimensions`` (any side unset), ``dimensions_out_of_range``, ``missing_description`` (neither
    description nor short description), ``missing_images`` (only where the images were read) and
    ``missing_category``. Sorted by SKU, then check.
    """
    plausibility = plausibility or Plausibility()
    items = validate_frame(QUALITY_INPUT_SCHEMA, items)
    parts: list[pd.DataFrame] = []

    def add(mask: pd.Series, check: str, value: pd.Series | None, detail: pd.Series | str) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        chosen = items[mask]
        detail_values = detail[mask] if isinstance(detail, pd.Series) else detail
        parts.append(
            pd.DataFrame(
                {
                    "item_id": chosen["item_id"],
                    "sku": chosen["sku"],
                    "name": chosen["name"],
                    "check": check,
                    "value": value[mask] if value is not None else pd.NA,
                    "detail": detail_values,
                }
            )
        )

    gtin = items["gtin"].astype("string").str.strip()
    gtin_blank = gtin.isna() | (gtin == "")
    add(gtin_blank, MISSING_GTIN, None, "no GTIN")
    problems = gtin_problems(gtin)
    add(problems.notna(), INVALID_GTIN, gtin, problems)
    valid = ~gtin_blank & problems.isna()
    normal = gtin.where(valid).str.zfill(14)
    counted = normal.map(normal.value_counts())
    duplicated = valid & (counted > 1).fillna(False)
    if duplicated.any():
        skus_of = (
            items.loc[duplicated]
            .groupby(normal[duplicated])["sku"]
            .agg(lambda s: ", ".join(sorted(str(v) for v in s)))
        )
        add(duplicated, DUPLICATE_GTIN, gtin, "GTIN on items " + normal.map(skus_of).astype("string"))

    both_unset = _unset(items["item_weight"]) & _unset(items["shipping_weight"])
    add(both_unset, MISSING_WEIGHT, None, "neither item nor shipping weight")
    weights = items[["item_weight", "shipping_weight"]]
    weights = weights.where(~weights.eq(0))
    weight_problems = plausibility_problems(weights, plausibility)
    add(weight_problems.notna(), WEIGHT_OUT_OF_RANGE, _weights_text(items), weight_problems)

    sides = items[list(DIMENSION_FIELDS)]
    unset_sides = pd.concat([_unset(sides[s]) for s in DIMENSION_FIELDS], axis=1)
    missing_dims = unset_sides.any(axis=1)
    which = pd.Series("", index=items.index, dtype="string")
    for position, side in enumerate(DIMENSION_FIELDS):
        which = which + np.where(unset_sides.iloc[:, position], side + ", ", "")
    add(missing_dims, MISSING_DIMENSIONS, None, "not set: " + which.str.removesuffix(", "))
    dim_problems = plausibility_problems(sides.where(~sides.eq(0)), plausibility)
    add(dim_problems.notna(), DIMENSIONS_OUT_OF_RANGE, _dimensions_text(items), dim_problems)

    no_text = _blank(items["description"]) & _blank(items["short_description"])
    add(no_text, MISSING_DESCRIPTION, None, "neither description nor short description")
    images = items["image_count"]
    add((images == 0).fillna(False), MISSING_IMAGES, None, "no image")
    add(items["category_count"] == 0, MISSING_CATEGORY, None, "in no category")

    if not parts:
        return _empty_report()
    report = pd.concat(parts, ignore_index=True).astype(QUALITY_COLUMNS)
    order = {check: position for position, check in enumerate(CHECKS)}
    report = report.assign(_order=report["check"].map(order)).sort_values(
        ["sku", "_order", "item_id"], kind="stable", na_position="last"
    )
    return QUALITY_SCHEMA.validate(report.drop(columns="_order").reset_index(drop=True))


def _weights_text(items: pd.DataFrame) -> pd.Series:
    return (
        items["item_weight"].map(_number).astype("string")
        + " / "
        + items["shipping_weight"].map(_number).astype("string")
        + " kg"
    )


def _dimensions_text(items: pd.DataFrame) -> pd.Series:
    text = items["length"].map(_number).astype("string")
    for side in DIMENSION_FIELDS[1:]:
        text = text + " × " + items[side].map(_number).astype("string")
    return text + " cm"


def _number(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):g}"


def _empty_report() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in QUALITY_COLUMNS.items()})


def quality_counts(report: pd.DataFrame) -> dict[str, int]:
    """Problems per check, every check listed (0 where none)."""
    counts = report["check"].value_counts()
    return {check: int(counts.get(check, 0)) for check in CHECKS}
