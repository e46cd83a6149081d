"""ExcelBackend: string reads, typed writes that survive a reopen, and saves that are atomic."""

from __future__ import annotations

import datetime as dt
import os
import stat

import openpyxl
import pytest
from openpyxl.styles import Font
from openpyxl.workbook.workbook import Workbook

from jtl_automator.sheets import CellUpdate, ExcelBackend, HeaderNotFound, WorksheetNotFound
from jtl_automator.sheets.xlsx import cell_text


@pytest.fixture
def workbook_path(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Inbound Control"
    ws.append(["Wareneingang KW 12 – Lager Süd"])
    ws.append([])
    ws.append(["SKU", "Units", "Delivery date", "Status", "Note"])
    ws.append(["00123", 12, dt.date(2024, 5, 1), None, None])
    ws.append(["ÄÖÜ-ß", 12.0, dt.datetime(2024, 5, 2, 14, 30), None, None])
    ws.append(["SKU-3", 2.5, "gestern", None, None])
    ws.append([])
    ws.append(["SKU-4", "zwölf", None, None, None])
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 33
    ws["G4"] = "=B4*2"
    other = wb.create_sheet("Lieferanten")
    other.append(["Name", "Ort"])
    other.append(["Müller GmbH", "Köln"])
    path = tmp_path / "inbound.xlsx"
    wb.save(path)
    return path


def test_cell_text_formats_like_a_user_sees_it():
    assert cell_text(None) == ""
    assert cell_text(12) == "12"
    assert cell_text(12.0) == "12"
    assert cell_text(2.5) == "2.5"
    assert cell_text(True) == "TRUE"
    assert cell_text(dt.datetime(2024, 5, 1)) == "2024-05-01"
    assert cell_text(dt.datetime(2024, 5, 1, 14, 30)) == "2024-05-01 14:30:00"
    assert cell_text(dt.date(2024, 5, 1)) == "2024-05-01"
    assert cell_text(" 00123 ") == " 00123 "


def test_read_frame_gives_strings_with_row_numbers(workbook_path):
    backend = ExcelBackend(workbook_path)
    assert backend.worksheet_names() == ["Inbound Control", "Lieferanten"]
    frame = backend.read_frame("Inbound Control", header_names=["SKU", "Units"])
    assert frame.header_row == 3
    assert frame.columns == {"SKU": "A", "Units": "B", "Delivery date": "C", "Status": "D", "Note": "E"}
    data = frame.data
    assert list(data.index) == [4, 5, 6, 8]
    assert list(data.loc[4]) == ["00123", "12", "2024-05-01", "", ""]
    assert list(data.loc[5]) == ["ÄÖÜ-ß", "12", "2024-05-02 14:30:00", "", ""]
    assert data.loc[6, "Units"] == "2.5"
    assert data.loc[8, "Units"] == "zwölf"


def test_missing_worksheet_and_header(workbook_path):
    backend = ExcelBackend(workbook_path)
    with pytest.raises(WorksheetNotFound, match=r"'Inbound'.*'Inbound Control'"):
        backend.read_frame("Inbound")
    with pytest.raises(HeaderNotFound, match=r"'Inbound Control'.*'Menge'"):
        backend.read_frame("Inbound Control", header_names=["SKU", "Menge"])
    with pytest.raises(WorksheetNotFound):
        backend.write_cells("Nope", [CellUpdate(1, "A", "x")])
    frame = ExcelBackend(workbook_path).read_frame("inbound control", header_row=3)  # case-insensitive
    assert frame.columns["SKU"] == "A"


def test_writes_keep_types_and_the_rest_of_the_workbook(workbook_path):
    backend = ExcelBackend(workbook_path)
    frame = backend.read_frame("Inbound Control", header_names=["SKU"])
    written = backend.write_cells(
        "Inbound Control",
        [
            frame.cell(4, "Status", "MATCH"),
            frame.cell(5, "Status", "MISMATCH"),
            frame.cell(5, "Note", "erwartet 12, gebucht 10 – Überprüfung nötig"),
            frame.cell(6, "Status", '=HYPERLINK("http://evil")'),  # data, not a formula
            frame.cell(8, "Note", "00042"),
            CellUpdate(9, "B", 7),
            CellUpdate(9, "C", dt.date(2024, 6, 30)),
            CellUpdate(9, "E", 1.25),
        ],
    )
    assert written == 8

    wb = openpyxl.load_workbook(workbook_path)
    ws = wb["Inbound Control"]
    assert ws["D4"].value == "MATCH"
    assert ws["E5"].value == "erwartet 12, gebucht 10 – Überprüfung nötig"
    assert ws["D6"].value == '=HYPERLINK("http://evil")' and ws["D6"].data_type == "s"
    assert ws["E8"].value == "00042" and ws["E8"].data_type == "s"
    assert ws["B9"].value == 7 and ws["B9"].data_type == "n"
    assert ws["C9"].value == dt.datetime(2024, 6, 30) and ws["C9"].is_date
    assert ws["E9"].value == 1.25
    # untouched cells, formulas, formatting and other sheets survive
    assert ws["A4"].value == "00123" and ws["A4"].data_type == "s"
    assert ws["B4"].value == 12
    assert ws["C4"].value == dt.datetime(2024, 5, 1)
    assert ws["G4"].value == "=B4*2" and ws["G4"].data_type == "f"
    assert ws["A1"].font.bold and ws["A1"].font.size == 14
    assert ws.column_dimensions["A"].width == 33
    assert wb["Lieferanten"]["A2"].value == "Müller GmbH"

    again = ExcelBackend(workbook_path).read_frame("Inbound Control", header_names=["SKU"])
    assert again.data.loc[8, "Note"] == "00042"
    assert list(again.data.loc[9]) == ["", "7", "2024-06-30", "", "1.25"]


def test_write_column_range_and_append(workbook_path):
    backend = ExcelBackend(workbook_path)
    assert backend.write_column_range("Inbound Control", "D", 4, ["MATCH", "PENDING", "UNKNOWN_SKU"]) == 3
    ws = openpyxl.load_workbook(workbook_path)["Inbound Control"]
    ws["A30"].font = Font(italic=True)  # formatting alone does not make a row "used"
    ws.parent.save(workbook_path)
    first = backend.append_rows("Inbound Control", [["00777", 3, dt.date(2024, 7, 1)], ["SKU-9", "1"]])
    assert first == 9
    ws = openpyxl.load_workbook(workbook_path)["Inbound Control"]
    assert [c.value for c in ws["D"][3:6]] == ["MATCH", "PENDING", "UNKNOWN_SKU"]
    assert ws["A9"].value == "00777" and ws["B9"].value == 3 and ws["C9"].value == dt.datetime(2024, 7, 1)
    assert ws["A10"].value == "SKU-9" and ws["B10"].value == "1"


def test_crash_during_save_leaves_the_original_intact(workbook_path, monkeypatch):
    before = workbook_path.read_bytes()
    os.chmod(workbook_path, 0o640)
    real_save = Workbook.save

    def crashing_save(self, target):
        target.write(b"PK\x03\x04 half a zip")  # part of the new file is written ...
        raise OSError("disk full")  # ... then the process dies

    monkeypatch.setattr(Workbook, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        ExcelBackend(workbook_path).write_cells("Inbound Control", [CellUpdate(4, "D", "MATCH")])
    assert workbook_path.read_bytes() == before
    assert sorted(p.name for p in workbook_path.parent.iterdir()) == ["inbound.xlsx"]  # no temp file left

    monkeypatch.setattr(Workbook, "save", real_save)
    ExcelBackend(workbook_path).write_cells("Inbound Control", [CellUpdate(4, "D", "MATCH")])
    assert openpyxl.load_workbook(workbook_path)["Inbound Control"]["D4"].value == "MATCH"
    assert stat.S_IMODE(workbook_path.stat().st_mode) == 0o640  # permissions carried over to the new file
    assert sorted(p.name for p in workbook_path.parent.iterdir()) == ["inbound.xlsx"]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.xlsx"):
        ExcelBackend(tmp_path / "missing.xlsx").read_frame("x")
