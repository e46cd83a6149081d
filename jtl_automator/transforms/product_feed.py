"""A supplier's product feed, read through its column mapping into one normalised frame (pure).

A feed is a CSV file (``;`` and German decimals by default), an ``.xlsx`` workbook or a Google Sheet;
the merchant keeps one mapping per supplier in a YAML file (:class:`FeedMappings`, see
docs/product-enrichment.md). Reading happens in two steps that share one shape, a grid of texts:

1. :func:`csv_grid` turns CSV bytes into that grid with pandas (``read_csv``: the separator from the
   mapping, every cell as text, the encoding UTF-8 or else Windows-1252 unless the mapping names one).
   Workbooks and Google Sheets come as the same grid from the sheet backends.
2. :func:`normalise_feed` finds the mapped headers, parses the numbers, converts units (g → kg,
   mm/m → cm), checks GTINs and plausible ranges and returns the usable rows and the rejected ones, each
   with its reason. A bad row never stops the feed; a missing column, an empty file or an unreadable
   encoding does (:class:`FeedError`), because then no row can be trusted.

**Numbers are parsed strictly, not by ``read_csv``.** With ``thousands='.'`` pandas reads the English
``1.5`` as 15 without a word, which would make a 1.5 kg article weigh 15 kg. So cells stay text and each
number must have the feed's exact format: ``1.234,5``, ``1234,5`` and ``12`` in a German CSV; a ``1.5``
there is refused as ambiguous (row rejected with the cell named). Workbooks and Google Sheets hold real
numbers (read as ``1.5``); a number a person typed as German text there (``1,5``) is read too.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.sheets.base import HeaderNotFound, SheetError, header_key, locate_header
from jtl_automator.transforms.product_quality import Plausibility, gtin_problems, plausibility_problems

#: The fields a feed can fill, in the order they are shown; the first three can match a feed row to an item.
KEY_FIELDS = ("supplier_sku", "gtin", "manufacturer_number")
NUMBER_FIELDS = ("item_weight", "shipping_weight", "length", "width", "height", "purchase_price")
TEXT_FIELDS = ("short_description",)
FEED_FIELDS = (*KEY_FIELDS, *NUMBER_FIELDS, *TEXT_FIELDS)
#: What a CSV line pandas had to skip (more fields than the header) becomes in the grid, so rows keep
#: their line numbers and the line is rejected with its reason instead of disappearing.
_BAD_LINE = "\u27e6unreadable line\u27e7"
_SKIPPING = re.compile(r"Skipping line (\d+): (.*)")
_WEIGHT_FACTOR = {"kg": 1.0, "g": 0.001}
_LENGTH_FACTOR = {"cm": 1.0, "mm": 0.1, "m": 100.0}


class FeedError(ValueError):
    """A feed that cannot be read at all (no row of it can be trusted); the message names the source."""


class FeedColumns(BaseModel):
    """Header of the feed's column for each field (compared ignoring case and spacing); unset: not read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    supplier_sku: str | None = Field(default=None, min_length=1, description="The supplier's article number.")
    gtin: str | None = Field(default=None, min_length=1, description="EAN/GTIN.")
    manufacturer_number: str | None = Field(
        default=None, min_length=1, description="Manufacturer part number."
    )
    item_weight: str | None = Field(default=None, min_length=1)
    shipping_weight: str | None = Field(default=None, min_length=1)
    length: str | None = Field(default=None, min_length=1)
    width: str | None = Field(default=None, min_length=1)
    height: str | None = Field(default=None, min_length=1)
    purchase_price: str | None = Field(default=None, min_length=1, description="Net purchase price.")
    short_description: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _a_key(self) -> FeedColumns:
        if not any(getattr(self, name) for name in KEY_FIELDS):
            raise ValueError("map at least one of supplier_sku, gtin, manufacturer_number (to find the item)")
        headers = [header_key(v) for v in self.model_dump().values() if v]
        twice = sorted({h for h in headers if headers.count(h) > 1})
        if twice:
            raise ValueError(f"one header mapped to two fields: {', '.join(twice)}")
        return self

    def mapped(self) -> dict[str, str]:
        """Field -> header, for the mapped fields only."""
        return {name: header for name, header in self.model_dump().items() if header}


class CsvOptions(BaseModel):
    """How the CSV is written: separator, number format and encoding."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sep: str = Field(default=";", min_length=1, max_length=1)
    decimal: Literal[",", "."] = ","
    thousands: Literal[".", ",", " ", ""] = "."
    encoding: Literal["auto", "utf-8", "cp1252"] = Field(
        default="auto", description="auto: UTF-8 (with or without BOM), else Windows-1252."
    )

    @model_validator(mode="after")
    def _distinct(self) -> CsvOptions:
        if self.thousands == self.decimal:
            raise ValueError(f"decimal and thousands separators are both {self.decimal!r}")
        return self


class FeedMapping(BaseModel):
    """One supplier's feed: which Wawi supplier it is, where the table is and what each column means."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wawi_supplier: str | int | None = Field(
        default=None,
        description="The Wawi supplier: its Id, name or supplier number (default: the mapping's name).",
    )
    columns: FeedColumns
    worksheet: str | None = Field(default=None, description="Workbook/Google Sheet tab (default: the first).")
    header_row: int | None = Field(default=None, ge=1, description="1-based; default: found by the headers.")
    weight_unit: Literal["kg", "g"] = "kg"
    dimension_unit: Literal["cm", "mm", "m"] = "cm"
    csv: CsvOptions = CsvOptions()


class FeedMappings(BaseModel):
    """The mapping file: one entry per supplier, by the name given on the command line (``--supplier``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    suppliers: dict[str, FeedMapping] = Field(min_length=1)

    def get(self, name: str) -> FeedMapping:
        """The mapping of ``name`` (exact, else the one equal ignoring case); KeyError naming the others."""
        if name in self.suppliers:
            return self.suppliers[name]
        folded = [key for key in self.suppliers if key.casefold() == name.casefold()]
        if len(folded) == 1:
            return self.suppliers[folded[0]]
        raise KeyError(f"no feed mapping for supplier {name!r} (mapped: {', '.join(sorted(self.suppliers))})")


# -- reading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvGrid:
    """A CSV file's cells as text, a row per line (line 1 is row 1), and how it was decoded."""

    rows: list[list[str]]
    encoding: str
    #: Line number -> why pandas could not read the line (it stays in ``rows`` as a marked row).
    bad_lines: dict[int, str] = field(default_factory=dict)


def decode(data: bytes, encoding: str, source: str) -> tuple[str, str]:
    """The text and the encoding it was read with: UTF-8 (BOM or not), else Windows-1252 when ``auto``."""
    if not data.strip():
        raise FeedError(f"{source}: the file is empty")
    candidates = (
        ("utf-8-sig", "cp1252") if encoding == "auto" else ("utf-8-sig" if encoding == "utf-8" else encoding,)
    )
    for candidate in candidates:
        try:
            return data.decode(candidate), "utf-8" if candidate == "utf-8-sig" else candidate
        except UnicodeDecodeError as exc:
            last = exc
    where = f"byte 0x{data[last.start]:02x} at position {last.start}"
    if encoding == "auto":
        raise FeedError(f"{source}: neither UTF-8 nor Windows-1252 ({where}); save the feed as UTF-8")
    hint = "cp1252" if encoding == "utf-8" else "utf-8"
    raise FeedError(f"{source}: not {encoding} ({where}); is it {hint}? Set csv.encoding in the feed mapping")


def csv_grid(data: bytes, options: CsvOptions, source: str) -> CsvGrid:
    """The CSV's cells as text with pandas ``read_csv``; lines with too many fields stay as marked rows."""
    text, used = decode(data, options.encoding, source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=options.sep,
                header=None,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                on_bad_lines="warn",
                engine="c",
            )
        except pd.errors.EmptyDataError:
            raise FeedError(f"{source}: the file is empty") from None
        except pd.errors.ParserError as exc:
            raise FeedError(f"{source}: not readable as CSV with separator {options.sep!r}: {exc}") from None
    bad: dict[int, str] = {}
    for warning in caught:
        for text in str(warning.message).splitlines():
            found = _SKIPPING.match(text.strip())
            if found:
                bad[int(found.group(1))] = found.group(2)
    rows = frame.fillna("").astype(str).to_numpy().tolist()
    for number in sorted(bad):
        rows.insert(number - 1, [_BAD_LINE] * max(1, frame.shape[1]))
    return CsvGrid(rows, used, bad)


# -- numbers ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written in a feed; ``machine``: also ``1.5`` and ``1e3`` (spreadsheet cells)."""

    decimal: str = ","
    thousands: str = "."
    machine: bool = False

    def describe(self) -> str:
        """``decimal ',', thousands '.'``."""
        thousands = repr(self.thousands) if self.thousands else "none"
        return f"decimal {self.decimal!r}, thousands {thousands}"


#: Workbooks and Google Sheets: their numbers arrive as ``1.5``; a German ``1,5`` typed as text is read too.
SHEET_NUMBERS = NumberFormat(decimal=",", thousands=".", machine=True)
_MACHINE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _pattern(number: NumberFormat) -> re.Pattern[str]:
    dec, th = re.escape(number.decimal), re.escape(number.thousands)
    grouped = rf"\d{{1,3}}(?:{th}\d{{3}})+" if number.thousands else r"(?!)"
    return re.compile(rf"[+-]?(?:{grouped}|\d+)(?:{dec}\d+)?")


def parse_numbers(text: pd.Series, number: NumberFormat) -> tuple[pd.Series, pd.Series]:
    """Numbers of a text column in the feed's format, and where a non-blank cell was not such a number."""
    cleaned = text.astype("string").str.strip()
    blank = cleaned.isna() | (cleaned == "")
    values = pd.Series(np.nan, index=text.index, dtype="float64")
    machine = pd.Series(False, index=text.index)
    if number.machine:  # a spreadsheet's own numbers first: its 1.409 is 1.409, not 1,409
        machine = cleaned.str.fullmatch(_MACHINE).fillna(False).astype(bool)
        if machine.any():
            values[machine] = pd.to_numeric(cleaned[machine], errors="coerce")
    local = ~machine & cleaned.str.fullmatch(_pattern(number)).fillna(False).astype(bool)
    if local.any():
        plain = cleaned[local]
        if number.thousands:
            plain = plain.str.replace(number.thousands, "", regex=False)
        values[local] = pd.to_numeric(plain.str.replace(number.decimal, ".", regex=False), errors="coerce")
    local = local | machine
    return values, (~blank & ~local).astype(bool)


# -- the normalised feed --------------------------------------------------------------------------------

FEED_SCHEMA = pa.DataFrameSchema(
    {
        "row": pa.Column("int64", pa.Check.ge(1)),
        **{name: pa.Column("string", nullable=True) for name in KEY_FIELDS},
        **{name: pa.Column("float64", pa.Check.gt(0), nullable=True) for name in NUMBER_FIELDS},
        "short_description": pa.Column("string", nullable=True),
    },
    checks=[
        pa.Check(
            lambda df: not df["supplier_sku"].dropna().duplicated().any(), error="a supplier SKU on two rows"
        ),
        pa.Check(lambda df: df[list(KEY_FIELDS)].notna().any(axis=1).all(), error="a row without any key"),
    ],
    name="supplier_feed",
    unique=["row"],
    coerce=True,
)
REJECTED_COLUMNS = {"row": "int64", "supplier_sku": "string", "reason": "string"}


@dataclass(frozen=True)
class NormalisedFeed:
    """The usable rows (``FEED_SCHEMA``), the rejected ones with their reason, and the mapped headers."""

    rows: pd.DataFrame
    rejected: pd.DataFrame
    headers: dict[str, str]
    total_rows: int


def _texts(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def normalise_feed(
    grid: Sequence[Sequence[str]],
    mapping: FeedMapping,
    *,
    source: str,
    number: NumberFormat,
    plausibility: Plausibility | None = None,
    bad_lines: dict[int, str] | None = None,
) -> NormalisedFeed:
    """The mapped columns of ``grid`` as :data:`FEED_SCHEMA` rows, and every rejected row with its reason.

    A row is rejected (and the rest goes on) when a number is not in the feed's format, a GTIN is invalid,
    a value is implausible (:class:`Plausibility`, after unit conversion), it has no supplier SKU, GTIN
    nor manufacturer number, or pandas could not split it. Rows sharing a supplier SKU: an exact copy is
    rejected as a duplicate of the first; copies that differ are all rejected (which one is right?).
    Blank rows are left out silently. ``row`` is the row of the sheet or the line of the CSV.
    """
    plausibility = plausibility or Plausibility()
    wanted = mapping.columns.mapped()
    if not any(cell.strip() for row in grid for cell in row if cell != _BAD_LINE):
        raise FeedError(f"{source}: the feed is empty")
    data = _mapped_table(grid, mapping, wanted, source)
    reasons: dict[int, list[str]] = {}

    def reject(mask: pd.Series, text: pd.Series | str) -> None:
        texts = text if isinstance(text, pd.Series) else pd.Series(text, index=mask.index)
        for row, reason in texts[mask.fillna(False).astype(bool)].items():
            reasons.setdefault(int(str(row)), []).append(str(reason))

    raw = data.astype("string")
    bad_line = (raw == _BAD_LINE).any(axis=1)
    for line in data.index[bad_line]:
        why = (bad_lines or {}).get(int(line), "the line could not be split into the header's fields")
        reasons.setdefault(int(line), []).append(f"not readable: {why}")
    frame = pd.DataFrame({"row": data.index.astype("int64")}, index=data.index)
    for name in (*KEY_FIELDS, *TEXT_FIELDS):
        frame[name] = (
            _texts(raw[name]).mask(bad_line)
            if name in raw
            else pd.Series(pd.NA, index=data.index, dtype="string")
        )
    factors = {
        "item_weight": _WEIGHT_FACTOR[mapping.weight_unit],
        "shipping_weight": _WEIGHT_FACTOR[mapping.weight_unit],
        **dict.fromkeys(("length", "width", "height"), _LENGTH_FACTOR[mapping.dimension_unit]),
        "purchase_price": 1.0,
    }
    for name in NUMBER_FIELDS:
        if name not in raw:
            frame[name] = np.nan
            continue
        values, bad = parse_numbers(raw[name], number)
        header = wanted[name]
        reject(
            bad & ~bad_line, f"{header}: " + raw[name].str.strip() + f" is not a number ({number.describe()})"
        )
        frame[name] = (values * factors[name]).round(6)
    problems = gtin_problems(frame["gtin"])
    reject(problems.notna(), f"{wanted.get('gtin', 'GTIN')}: " + problems)
    implausible = plausibility_problems(frame[list(NUMBER_FIELDS)], plausibility)
    reject(implausible.notna(), implausible)
    no_key = frame[list(KEY_FIELDS)].isna().all(axis=1) & ~bad_line
    reject(no_key, "no supplier SKU, GTIN or manufacturer number")

    usable = frame[~frame.index.isin(list(reasons))]
    sku = usable["supplier_sku"]
    shared = sku.notna() & sku.duplicated(keep=False)
    if shared.any():
        fields = list(FEED_FIELDS)
        for value, group in usable[shared].groupby("supplier_sku", sort=False):
            lines = [int(r) for r in group["row"]]
            same = len(group[fields].astype("string").fillna("\x00").drop_duplicates()) == 1
            if same:
                for row in lines[1:]:
                    reasons.setdefault(row, []).append(f"duplicate of row {lines[0]} (supplier SKU {value})")
            else:
                listed = ", ".join(str(r) for r in lines)
                for row in lines:
                    reasons.setdefault(row, []).append(
                        f"supplier SKU {value} is on rows {listed} with different data"
                    )
    good = frame[~frame.index.isin(list(reasons))]
    rows = FEED_SCHEMA.validate(good[list(FEED_SCHEMA.columns)].reset_index(drop=True))
    rejected = pd.DataFrame(
        {
            "row": list(reasons),
            "supplier_sku": frame["supplier_sku"].reindex(list(reasons)).to_numpy(),
            "reason": ["; ".join(texts) for texts in reasons.values()],
        }
    ).astype(REJECTED_COLUMNS)
    rejected = rejected.sort_values("row", kind="stable").reset_index(drop=True)
    return NormalisedFeed(rows, rejected, wanted, len(data))


def _mapped_table(
    grid: Sequence[Sequence[str]], mapping: FeedMapping, wanted: dict[str, str], source: str
) -> pd.DataFrame:
    """The mapped columns below the header row as text (index: 1-based row); blank rows left out.

    Only the mapped headers must be found, once each: a feed may carry any other columns, even two with
    one name.
    """
    names = list(wanted.values())
    try:
        if mapping.header_row is None:
            index = locate_header(grid, names, source)
        else:
            index = mapping.header_row - 1
            if index >= len(grid):
                raise HeaderNotFound(names, source, mapping.header_row)
    except SheetError as exc:
        raise FeedError(f"{source}: {exc} (the feed's headers: {_first_headers(grid)})") from None
    header = [header_key(cell) for cell in grid[index]]
    positions: dict[str, int] = {}
    missing: list[str] = []
    for name, text in wanted.items():
        found = [position for position, cell in enumerate(header) if cell == header_key(text)]
        if not found:
            missing.append(text)
        elif len(found) > 1:
            raise FeedError(
                f"{source}: the mapped header {text!r} is on {len(found)} columns of row {index + 1}"
            )
        else:
            positions[name] = found[0]
    if missing:
        shown = ", ".join(repr(m) for m in missing)
        raise FeedError(
            f"{source}: header(s) {shown} not found in row {index + 1} (the feed's headers: "
            f"{_first_headers(grid[index:])})"
        )
    rows: list[list[str]] = []
    numbers: list[int] = []
    for line in range(index + 1, len(grid)):
        cells = list(grid[line])
        if cells[:1] == [_BAD_LINE]:
            values = [_BAD_LINE] * len(positions)
        else:
            values = [cells[p] if p < len(cells) else "" for p in positions.values()]
        if all(not v.strip() for v in values):
            continue
        rows.append(values)
        numbers.append(line + 1)
    return pd.DataFrame(rows, columns=list(positions), index=pd.Index(numbers, dtype="int64"), dtype=str)


def _first_headers(grid: Sequence[Sequence[str]]) -> str:
    for row in grid:
        cells = [cell.strip() for cell in row if cell.strip() and cell != _BAD_LINE]
        if cells:
            return ", ".join(repr(c) for c in cells[:20])
    return "none"
