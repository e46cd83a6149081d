"""A write changes the written cells and nothing else of a workbook made by a spreadsheet program.

``fixtures/rich.xlsx``/``.xlsm`` come from LibreOffice (see ``fixtures/make_workbooks.py``): formulas
with cached values across sheets, styles, merged cells, validations, conditional formats with an x14
extension, comments, a hyperlink, defined names, a table, a chart, a pivot table and (``.xlsm``) a
VBA project. The comparison is part by part: every part byte-identical except the written worksheet
(and the workbook part's recalculate-on-open flag), and in the worksheet every cell, row and other
element equal (canonical XML) except the cells written.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from jtl_automator.sheets import CellUpdate, ExcelBackend
from tests.sheets.workbooks import (
    cell_value,
    copy_fixture,
    excel_style_workbook,
    q,
    sheet_cells,
    sheet_frame,
    sheet_rows,
    zip_names,
    zip_parts,
)

SHEET = "xl/worksheets/sheet1.xml"
# openpyxl, used here as an independent reader, warns about the extensions it would drop on a save.
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")

# What the flow writes into the LibreOffice workbook: statuses, notes, checked-at stamps, into cells
# that hold a value (E4), exist empty with a style (F5), do not exist (G4), and a row below the table.
WRITES = [
    CellUpdate(4, "E", "MATCH"),
    CellUpdate(5, "E", "MISMATCH"),
    CellUpdate(5, "F", "received 10 of 12 (difference -2)"),
    CellUpdate(6, "E", "MATCH"),
    CellUpdate(6, "F", ""),
    CellUpdate(4, "G", "2024-06-30T08:00:00"),
    CellUpdate(5, "G", "2024-06-30T08:00:00"),
    CellUpdate(8, "E", "UNKNOWN_SKU"),  # the anchor of the merged E8:F8
    CellUpdate(12, "E", "PENDING"),
]
WRITTEN = {"E4", "E5", "F5", "E6", "F6", "G4", "G5", "E8", "E12"}


def _formula_values(path: Path) -> dict[tuple[str, str], object]:
    """The cached value of every formula cell in every sheet."""
    formulas = openpyxl.load_workbook(path, data_only=False)
    values = openpyxl.load_workbook(path, data_only=True)
    found: dict[tuple[str, str], object] = {}
    for sheet in formulas.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    found[(sheet.title, cell.coordinate)] = values[sheet.title][cell.coordinate].value
    return found


def _assert_only_cells_changed(
    before: bytes, after: bytes, written: set[str], dimension: str | None = None
) -> None:
    frame_before, frame_after = sheet_frame(before), sheet_frame(after)
    if dimension is not None:  # the used range grew by the written cells
        assert etree.fromstring(after).find(q("dimension")).get("ref") == dimension
        frame_before, frame_after = frame_before[:2] + frame_before[3:], frame_after[:2] + frame_after[3:]
    assert frame_after == frame_before  # root, views, cols, merges, validations, extLst …
    rows_before, rows_after = sheet_rows(before), sheet_rows(after)
    assert {r: a for r, a in rows_after.items() if r in rows_before} == rows_before
    cells_before, cells_after = sheet_cells(before), sheet_cells(after)
    unchanged = set(cells_before) - written
    assert {ref: cells_after[ref] for ref in unchanged} == {ref: cells_before[ref] for ref in unchanged}
    assert set(cells_after) - set(cells_before) <= written


@pytest.mark.parametrize("name", ["rich.xlsx", "rich.xlsm"])
@pytest.mark.slow
def test_only_the_written_cells_change_in_a_libreoffice_workbook(tmp_path, name):
    path = copy_fixture(name, tmp_path)
    before = zip_parts(path)
    cached_before = _formula_values(path)
    assert cached_before and all(v is not None for v in cached_before.values())

    backend = ExcelBackend(path)
    assert backend.write_cells("Inbound Control", WRITES) == len(WRITES)
    assert backend.skipped == []

    after = zip_parts(path)
    assert list(after) == list(before)  # same parts, same order
    changed = {part for part in before if after[part] != before[part]}
    assert changed == {SHEET, "xl/workbook.xml"}
    _assert_only_cells_changed(before[SHEET], after[SHEET], WRITTEN)
    # The workbook part differs only in calcPr/@fullCalcOnLoad (Excel recomputes formulas on open).
    workbook_before, workbook_after = (
        etree.fromstring(before["xl/workbook.xml"]),
        etree.fromstring(after["xl/workbook.xml"]),
    )
    calc = workbook_after.find(q("calcPr"))
    assert calc is not None and calc.attrib.pop("fullCalcOnLoad") == "1"
    assert etree.tostring(workbook_after, method="c14n") == etree.tostring(workbook_before, method="c14n")
    assert any(part.startswith("xl/charts/") for part in after)
    assert any(part.startswith("xl/pivotCache/") for part in after)
    if name.endswith(".xlsm"):
        assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]

    # The written values, as text in the cells (inline strings; the shared strings are untouched).
    assert cell_value(after[SHEET], "E4") == ("inlineStr", "MATCH")
    assert cell_value(after[SHEET], "F5") == ("inlineStr", "received 10 of 12 (difference -2)")
    assert cell_value(after[SHEET], "E12") == ("inlineStr", "PENDING")
    # Every formula of every sheet keeps its cached value: the next run reads the same Units.
    assert _formula_values(path) == cached_before
    grid = backend.read_grid("Inbound Control")
    assert [row[1] for row in grid[3:9]] == ["12", "12", "20", "30", "7", "24"]
    assert [row[4] for row in grid[3:9]] == ["MATCH", "MISMATCH", "MATCH", "", "UNKNOWN_SKU", "MATCH"]
    assert grid[11][4] == "PENDING"
    values = openpyxl.load_workbook(path, data_only=True)["Inbound Control"]
    assert values["F5"].value == "received 10 of 12 (difference -2)" and values["F5"].font.i  # style kept
    assert values["B4"].value == 12 and values["B4"].number_format == "[$-407]#,##0"


def test_a_second_identical_write_leaves_the_file_alone(tmp_path):
    path = copy_fixture("rich.xlsx", tmp_path)
    ExcelBackend(path).write_cells("Inbound Control", WRITES)
    written = path.read_bytes()
    stamp = path.stat().st_mtime_ns
    assert ExcelBackend(path).write_cells("Inbound Control", WRITES) == len(WRITES)
    assert path.read_bytes() == written and path.stat().st_mtime_ns == stamp


def test_excel_style_prefixes_and_x14_validation_survive(tmp_path):
    path = excel_style_workbook(tmp_path / "excel.xlsx")
    before = zip_parts(path)
    backend = ExcelBackend(path)
    written = backend.write_cells(
        "Inbound Control",
        [
            CellUpdate(2, "C", "MATCH"),
            CellUpdate(2, "D", "  leading and trailing spaces  "),
            CellUpdate(3, "C", "MISMATCH"),
            CellUpdate(3, "D", "zeile 3\nzweite Zeile"),
            CellUpdate(6, "C", "UNKNOWN_SKU"),  # a new row
        ],
    )
    assert written == 5
    after = zip_parts(path)
    assert {p for p in before if after[p] != before[p]} == {SHEET, "xl/workbook.xml"}
    _assert_only_cells_changed(before[SHEET], after[SHEET], {"C2", "D2", "C3", "D3", "C6"}, "A1:D6")
    root = etree.fromstring(after[SHEET])
    assert root.nsmap["x14ac"] == "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"
    assert (
        root.get("{http://schemas.openxmlformats.org/markup-compatibility/2006}Ignorable")
        == "x14ac xr xr2 xr3"
    )
    text = after[SHEET].decode()
    assert "<x14:dataValidations" in text and "<xm:sqref>C2:C100</xm:sqref>" in text  # prefixes kept
    assert 'x14ac:dyDescent="0.25"' in text and "ns0:" not in text
    assert text.count("xmlns:x14ac=") == 1  # declared once, on the root, not on every written row
    row6 = root.find(f"{q('sheetData')}/{q('row')}[@r='6']")
    assert row6 is not None and row6.getprevious().get("r") == "4"  # rows stay in order
    grid = backend.read_grid("Inbound Control")
    assert grid[1][2:] == ["MATCH", "  leading and trailing spaces  "]
    assert grid[2][3] == "zeile 3\nzweite Zeile"
    assert grid[5][2] == "UNKNOWN_SKU"


def test_a_date_adds_one_cell_format_and_changes_nothing_else_in_the_styles(tmp_path):
    path = excel_style_workbook(tmp_path / "excel.xlsx")
    before = zip_parts(path)
    ExcelBackend(path).write_cells(
        "Inbound Control", [CellUpdate(2, "D", dt.date(2024, 6, 30)), CellUpdate(3, "D", dt.date(2024, 7, 1))]
    )
    after = zip_parts(path)
    styles_before, styles_after = (
        etree.fromstring(before["xl/styles.xml"]),
        etree.fromstring(after["xl/styles.xml"]),
    )
    formats = styles_after.find(q("cellXfs"))
    assert formats.get("count") == "4" and len(formats) == 4
    added = formats[-1]
    assert (added.get("numFmtId"), added.get("applyNumberFormat")) == ("14", "1")
    formats.remove(added)
    formats.set("count", "3")
    assert etree.tostring(styles_after, method="c14n") == etree.tostring(styles_before, method="c14n")
    cell = openpyxl.load_workbook(path)["Inbound Control"]["D2"]
    assert cell.value == dt.datetime(2024, 6, 30) and cell.is_date


def test_the_1904_date_system_is_respected(tmp_path):
    path = excel_style_workbook(tmp_path / "mac.xlsx", date1904=True)
    ExcelBackend(path).write_cells("Inbound Control", [CellUpdate(2, "D", dt.date(2024, 6, 30))])
    assert cell_value(zip_parts(path)[SHEET], "D2") == (
        None,
        str((dt.date(2024, 6, 30) - dt.date(1904, 1, 1)).days),
    )
    assert ExcelBackend(path).read_grid("Inbound Control")[1][3] == "2024-06-30"


def test_a_workbook_without_formulas_keeps_its_workbook_part(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Inbound Control"
    wb.active.append(["SKU", "Units", "Status"])
    wb.active.append(["00123", 12, None])
    path = tmp_path / "plain.xlsx"
    wb.save(path)
    before = zip_parts(path)
    ExcelBackend(path).write_cells("Inbound Control", [CellUpdate(2, "C", "MATCH")])
    after = zip_parts(path)
    assert {p for p in before if after[p] != before[p]} == {SHEET}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed here")
def test_libreoffice_opens_the_written_workbook(tmp_path):
    path = copy_fixture("rich.xlsx", tmp_path)
    ExcelBackend(path).write_cells("Inbound Control", WRITES)
    out = tmp_path / "csv"
    subprocess.run(
        [  # noqa: S607
            "soffice",
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",  # comma, double quote, UTF-8
            "--outdir",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    lines = (out / "rich.csv").read_text(encoding="utf-8").splitlines()
    assert lines[3].split(",")[4:7] == ["MATCH", "", "2024-06-30T08:00:00"]
    assert lines[4].split(",")[4:6] == ["MISMATCH", "received 10 of 12 (difference -2)"]
    assert lines[11].split(",")[4] == "PENDING"


def test_zip_entries_keep_their_metadata(tmp_path):
    path = copy_fixture("rich.xlsm", tmp_path)
    with zipfile.ZipFile(path) as package:
        before = [(i.filename, i.date_time, i.compress_type, i.external_attr) for i in package.infolist()]
    ExcelBackend(path).write_cells("Inbound Control", WRITES)
    with zipfile.ZipFile(path) as package:
        after = [(i.filename, i.date_time, i.compress_type, i.external_attr) for i in package.infolist()]
        assert package.testzip() is None
    assert after == before
    assert zip_names(path) == [b[0] for b in before]
