"""The streaming worksheet editor on its own: XML in, XML out, the cells placed where Excel expects them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lxml import etree

from jtl_automator.sheets.ooxml import CellFormat, Styles
from jtl_automator.sheets.sheet_xml import (
    EXCEL_MAX_CELL_CHARS,
    SheetEditor,
    fit_cell_text,
    from_ooxml_text,
    ooxml_text,
    scan_sheet,
)
from jtl_automator.sheets.workbook_file import CorruptWorkbook
from tests.sheets.workbooks import MAIN, q

SHOWN = Path("control.xlsx")
STYLES = Styles(
    "xl/styles.xml", (CellFormat(0, False, True), CellFormat(0, False, False), CellFormat(14, True, True))
)


def _sheet(data: str, head: str = "", tail: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}">'
        f"{head}{data}{tail}</worksheet>"
    ).encode()


def _edit(part: bytes, cells: dict[tuple[int, int], object]) -> tuple[etree._Element, object]:
    scan = scan_sheet(io.BytesIO(part), SHOWN)
    out = io.BytesIO()
    result = SheetEditor(cells, scan, STYLES, date1904=False, shown=SHOWN).run(io.BytesIO(part), out)  # type: ignore[arg-type]
    return etree.fromstring(out.getvalue()), result


def _rows(root: etree._Element) -> list[tuple[str, list[str]]]:
    return [(row.get("r"), [c.get("r") for c in row.iter(q("c"))]) for row in root.iter(q("row"))]


def test_new_rows_and_cells_go_in_order():
    part = _sheet(
        '<sheetData><row r="2"><c r="B2"><v>1</v></c><c r="D2"><v>2</v></c></row><row r="5"/></sheetData>'
    )
    root, result = _edit(
        part, {(1, 1): "a", (2, 3): "c", (2, 5): "e", (2, 1): "a2", (4, 2): "x", (9, 1): "z"}
    )
    assert _rows(root) == [
        ("1", ["A1"]),
        ("2", ["A2", "B2", "C2", "D2", "E2"]),
        ("4", ["B4"]),
        ("5", []),
        ("9", ["A9"]),
    ]
    assert result.changed and len(result.written) == 6


def test_rows_and_cells_without_references_keep_their_place():
    part = _sheet(
        "<sheetData><row><c><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row></sheetData>"
    )
    root, _ = _edit(part, {(1, 4): "D1", (2, 1): "A2"})
    assert _rows(root) == [("1", ["A1", "B1", "D1"]), ("2", ["A2"])]
    values = {c.get("r"): "".join(c.itertext()) for c in root.iter(q("c"))}
    assert values == {"A1": "1", "B1": "2", "D1": "D1", "A2": "A2"}  # the 3 in A2 was overwritten


def test_an_empty_sheet_gets_its_rows():
    root, _ = _edit(_sheet("<sheetData/>", head='<dimension ref="A1"/>'), {(3, 2): "x"})
    assert _rows(root) == [("3", ["B3"])]
    assert root.find(q("dimension")).get("ref") == "A1:B3"


def test_a_sheet_without_sheet_data_is_corrupt():
    with pytest.raises(CorruptWorkbook, match=r"control\.xlsx: a sheet has no <sheetData>"):
        _edit(_sheet("", head='<dimension ref="A1"/>'), {(1, 1): "x"})


@pytest.mark.parametrize("row", ['<row r="x1"/>', '<row r="1"><c r="1A"><v>1</v></c></row>'])
def test_bad_references_are_named(row):
    with pytest.raises(CorruptWorkbook, match=r"control\.xlsx: is damaged: a (row|cell) has the"):
        _edit(_sheet(f"<sheetData>{row}</sheetData>"), {(1, 1): "x"})


def test_spans_grow_to_include_a_new_cell():
    part = _sheet(
        '<sheetData><row r="1" spans="1:2"><c r="A1"><v>1</v></c></row><row r="2" spans="x"/></sheetData>'
    )
    root, _ = _edit(part, {(1, 6): "F", (2, 1): "A"})
    rows = list(root.iter(q("row")))
    assert rows[0].get("spans") == "1:6"
    assert rows[1].get("spans") is None  # unusable hint dropped


def test_a_new_cell_takes_the_row_or_column_format_a_typing_user_would_get():
    head = '<cols><col min="3" max="5" width="9" style="1"/></cols>'
    data = '<sheetData><row r="1" s="2" customFormat="1"/><row r="2"/></sheetData>'
    root, _ = _edit(_sheet(data, head=head), {(1, 1): "row", (2, 4): "col", (2, 1): "none"})
    styles = {c.get("r"): c.get("s") for c in root.iter(q("c"))}
    assert styles == {"A1": "2", "D2": "1", "A2": None}


def test_comments_and_unknown_elements_are_copied():
    data = '<sheetData><row r="1"><c r="A1"><v>1</v></c></row><!-- between rows --><row r="2"/></sheetData>'
    head = '<!-- before --><sheetPr xmlns:foo="urn:foo" foo:bar="1"><foo:x>text</foo:x></sheetPr>'
    root, _ = _edit(_sheet(data, head=head, tail="<!-- after -->"), {(2, 1): "x"})
    text = etree.tostring(root).decode()
    assert "<!-- before -->" in text and "<!-- between rows -->" in text and "<!-- after -->" in text
    assert '<sheetPr xmlns:foo="urn:foo" foo:bar="1"><foo:x>text</foo:x></sheetPr>' in text


def test_writing_the_values_a_cell_already_holds_is_no_change():
    data = (
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t/></is></c>'
        '<c r="B1"><v>5</v></c></row></sheetData>'
    )
    _, result = _edit(_sheet(data), {(1, 1): "", (1, 2): 5, (1, 3): None})
    assert not result.changed and len(result.written) == 3


def test_a_date_in_a_cell_without_a_date_format_gets_one_copied_from_its_format():
    import datetime as dt

    data = '<sheetData><row r="1"><c r="A1" s="1"/><c r="B1" s="2"/></row></sheetData>'
    root, result = _edit(
        _sheet(data),
        {(1, 1): dt.date(2024, 6, 30), (1, 2): dt.date(2024, 6, 30), (1, 3): dt.date(2024, 7, 1)},
    )
    styles = {c.get("r"): c.get("s") for c in root.iter(q("c"))}
    assert styles == {"A1": "3", "B1": "2", "C1": "4"}  # B1 already shows dates
    assert result.new_formats == [(1, 14), (0, 14)]


def test_cells_outside_excels_grid_are_skipped():
    root, result = _edit(
        _sheet("<sheetData/>"), {(1_048_577, 1): "x", (1, 16_385): "y", (1_048_576, 16_384): "z"}
    )
    assert [str(s) for s in result.skipped] == [
        "XFE1: outside Excel's grid (the last cell is XFD1048576)",
        "A1048577: outside Excel's grid (the last cell is XFD1048576)",
    ]
    assert _rows(root) == [("1048576", ["XFD1048576"])]


def test_cut_and_escape_helpers():
    assert fit_cell_text("x" * EXCEL_MAX_CELL_CHARS) == "x" * EXCEL_MAX_CELL_CHARS
    cut = fit_cell_text("x" * (EXCEL_MAX_CELL_CHARS + 1))
    assert len(cut) == EXCEL_MAX_CELL_CHARS and cut.endswith(" … (truncated)")
    for text in ("plain", "a\x01b", "_x0041_", "_x005F_", "\ufffe", "tab\tline\n"):
        assert from_ooxml_text(ooxml_text(text)) == text
    assert ooxml_text("a\x01b_x0041_") == "a_x0001_b_x005F_x0041_"
