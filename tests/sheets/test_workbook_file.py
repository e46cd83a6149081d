"""The workbook as a file: what is taken for a workbook, damaged files, locks, read-only, links, atomicity."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import openpyxl
import pytest

from jtl_automator.resilience import TransientFailure
from jtl_automator.sheets import CellUpdate, ExcelBackend
from jtl_automator.sheets import xlsx as xlsx_module
from jtl_automator.sheets.workbook_file import (
    CorruptWorkbook,
    UnsupportedWorkbook,
    WorkbookChanged,
    WorkbookLocked,
    WorkbookNotFound,
    WorkbookReadOnly,
    workbook_path,
)
from tests.sheets.workbooks import copy_fixture, zip_parts

WRITE = [CellUpdate(4, "E", "MATCH")]


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "Inbound Control"
    for row in (["Lager Süd"], [], ["SKU", "Units", "Inbound", "Date", "Status"], ["00123", 12, "INB-1"]):
        sheet.append(row)
    path = tmp_path / "inbound.xlsx"
    wb.save(path)
    return path


def _only(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


# -- which names are workbooks ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["control.xlsx", "Control.XLSX", "makros.xlsm", " /data/in bound.xlsx "])
def test_xlsx_and_xlsm_paths_are_workbooks(name):
    assert workbook_path(name) == Path(name.strip())


def test_a_home_relative_path_is_expanded():
    assert workbook_path("~/control.xlsx") == Path.home() / "control.xlsx"


@pytest.mark.parametrize("sheet_id", ["1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", "inbound-control-demo"])
def test_google_ids_are_not_paths(sheet_id):
    assert workbook_path(sheet_id) is None


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("control.xls", "Excel 97-2003 (.xls) workbook"),
        ("export.CSV", "CSV file"),
        ("control.ods", "OpenDocument spreadsheet"),
        ("control.xlsb", "binary (.xlsb)"),
        ("vorlage.xltx", "template"),
    ],
)
def test_other_spreadsheet_files_fail_in_one_line_instead_of_going_to_google(name, what):
    with pytest.raises(UnsupportedWorkbook) as caught:
        workbook_path(name)
    message = str(caught.value)
    assert message.startswith(f"{name}: is ") and what in message
    assert "supported: .xlsx, .xlsm, or a Google spreadsheet id" in message and "\n" not in message


@pytest.mark.parametrize(
    "name", ["reports/control", "https://docs.google.com/spreadsheets/d/abc/edit", "a b"]
)
def test_names_that_are_neither_fail_clearly(name):
    with pytest.raises(UnsupportedWorkbook, match=r"supported: \.xlsx, \.xlsm, or a Google spreadsheet id"):
        workbook_path(name)


def test_the_flow_never_sends_an_xls_path_to_google():
    from tasks.resources import sheet_backend

    with pytest.raises(UnsupportedWorkbook, match=r"control\.xls: is an Excel 97-2003"):
        sheet_backend("control.xls")  # fails before any block or credential is looked at
    assert isinstance(sheet_backend("/nowhere/control.xlsm"), ExcelBackend)


# -- damaged files: one line, the file named, no library traceback ------------------------------------


def _damaged(tmp_path: Path, workbook: Path) -> dict[str, tuple[Path, str]]:
    data = workbook.read_bytes()
    cases: dict[str, tuple[bytes, str]] = {
        "empty": (b"", "is empty (0 bytes)"),
        "truncated": (data[: len(data) // 2], "truncated or corrupt"),
        "csv": (b"SKU;Units\n00123;12\n", "is not a zip archive"),
        "xls": (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504,
            "encrypted (password-protected) workbook or an Excel 97-2003",
        ),
        "html": (b"<html><body><table></table></body></html>", "is not a zip archive"),
    }
    found = {}
    for name, (content, problem) in cases.items():
        path = tmp_path / f"{name}.xlsx"
        path.write_bytes(content)
        found[name] = (path, problem)
    ods = tmp_path / "ods.xlsx"
    with zipfile.ZipFile(ods, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        package.writestr("content.xml", "<office:document-content/>")
    found["ods"] = (ods, "is an OpenDocument spreadsheet")
    other_zip = tmp_path / "zip.xlsx"
    with zipfile.ZipFile(other_zip, "w") as package:
        package.writestr("readme.txt", "hello")
    found["zip"] = (other_zip, "is a zip archive but not an Excel workbook")
    broken_xml = tmp_path / "xml.xlsx"
    with zipfile.ZipFile(workbook) as source, zipfile.ZipFile(broken_xml, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]  # cut in the middle of an element
            target.writestr(info, content)
    found["xml"] = (broken_xml, "not well-formed XML")
    no_sheet = tmp_path / "part.xlsx"
    with zipfile.ZipFile(workbook) as source, zipfile.ZipFile(no_sheet, "w") as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info))
    found["part"] = (no_sheet, "lacks its part xl/worksheets/sheet1.xml")
    return found


@pytest.mark.parametrize("case", ["empty", "truncated", "csv", "xls", "html", "ods", "zip", "xml", "part"])
@pytest.mark.slow
def test_damaged_workbooks_fail_with_one_line_naming_the_file(tmp_path, workbook, case):
    path, problem = _damaged(tmp_path, workbook)[case]
    for action in (
        lambda b: b.read_frame("Inbound Control"),
        lambda b: b.write_cells("Inbound Control", WRITE),
    ):
        content = path.read_bytes()
        with pytest.raises((CorruptWorkbook, UnsupportedWorkbook)) as caught:
            action(ExcelBackend(path))
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and problem in message and "\n" not in message
        error = caught.value  # no chained traceback of the library underneath
        assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
        assert path.read_bytes() == content


def test_a_crc_error_inside_the_zip_is_named(tmp_path, workbook):
    data = bytearray(workbook.read_bytes())
    with zipfile.ZipFile(workbook) as package:
        info = package.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF  # flip bits inside the compressed sheet
    workbook.write_bytes(bytes(data))
    with pytest.raises(
        CorruptWorkbook, match=r"inbound\.xlsx: (is corrupt|is truncated or corrupt|cannot be read)"
    ):
        ExcelBackend(workbook).read_grid("Inbound Control")


def test_a_missing_workbook_and_a_dangling_link(tmp_path):
    with pytest.raises(WorkbookNotFound, match=r"missing\.xlsx: workbook not found") as caught:
        ExcelBackend(tmp_path / "missing.xlsx").read_frame("x")
    assert isinstance(caught.value, FileNotFoundError)
    link = tmp_path / "link.xlsx"
    link.symlink_to(tmp_path / "gone.xlsx")
    with pytest.raises(
        WorkbookNotFound, match=r"link\.xlsx: is a symbolic link to .*gone\.xlsx, which does not exist"
    ):
        ExcelBackend(link).write_cells("Inbound Control", WRITE)


def test_a_folder_named_like_a_workbook(tmp_path):
    (tmp_path / "folder.xlsx").mkdir()
    with pytest.raises(UnsupportedWorkbook, match=r"folder\.xlsx: is not a file"):
        ExcelBackend(tmp_path / "folder.xlsx").worksheet_names()


# -- locks, read-only, links, mode -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lock_name", "content", "held_by"),
    [
        (
            "~$inbound.xlsx",
            b"\x04Anna" + b" " * 49 + b"\x04\x00A\x00n\x00n\x00a\x00",
            "open in Excel by 'Anna'",
        ),
        (
            ".~lock.inbound.xlsx#",
            "Jörg Müller,joerg,lager-pc,26.11.2026 07:59,file:///x;".encode(),
            "LibreOffice by 'Jörg Müller'",
        ),
        ("~$bound.xlsx", b"", "open in Excel (lock file ~$bound.xlsx)"),
    ],
)
def test_an_open_workbook_is_not_written(tmp_path, workbook, lock_name, content, held_by):
    (tmp_path / lock_name).write_bytes(content)
    before = workbook.read_bytes()
    with pytest.raises(WorkbookLocked) as caught:
        ExcelBackend(workbook).write_cells("Inbound Control", WRITE)
    assert held_by in str(caught.value) and "nothing was written" in str(caught.value)
    assert workbook.read_bytes() == before
    assert ExcelBackend(workbook).read_grid("Inbound Control")[3][0] == "00123"  # reading is fine
    (tmp_path / lock_name).unlink()
    assert ExcelBackend(workbook).write_cells("Inbound Control", WRITE) == 1


def test_a_lock_beside_the_link_or_the_target_counts(tmp_path, workbook):
    other = tmp_path / "shared"
    other.mkdir()
    link = other / "control.xlsx"
    link.symlink_to(workbook)
    (other / ".~lock.control.xlsx#").write_text(",anna,pc,now,file;")
    with pytest.raises(WorkbookLocked, match="LibreOffice by 'anna'"):
        ExcelBackend(link).write_cells("Inbound Control", WRITE)
    (other / ".~lock.control.xlsx#").unlink()
    (tmp_path / "~$inbound.xlsx").write_bytes(b"")
    with pytest.raises(WorkbookLocked):
        ExcelBackend(link).write_cells("Inbound Control", WRITE)


def test_a_read_only_workbook_is_refused_not_replaced(tmp_path, workbook):
    os.chmod(workbook, 0o444)
    before = workbook.read_bytes()
    with pytest.raises(
        WorkbookReadOnly, match=r"inbound\.xlsx: the workbook is read-only; nothing was written"
    ):
        ExcelBackend(workbook).write_cells("Inbound Control", WRITE)
    assert workbook.read_bytes() == before and _only(tmp_path) == ["inbound.xlsx"]
    assert ExcelBackend(workbook).read_grid("Inbound Control")[3][0] == "00123"


def test_an_unwritable_folder_is_refused(tmp_path, workbook, monkeypatch):
    real_access = os.access

    def access(path, mode, **kwargs):  # root may write anywhere; pretend to be a normal user here
        if Path(path) == tmp_path:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(WorkbookReadOnly, match=r"its folder .* is not writable"):
        ExcelBackend(workbook).write_cells("Inbound Control", WRITE)


def test_a_symlinked_workbook_is_written_through_the_link(tmp_path, workbook):
    links = tmp_path / "links"
    links.mkdir()
    first = links / "first.xlsx"
    first.symlink_to(Path("..") / "inbound.xlsx")  # relative
    second = links / "control.xlsx"
    second.symlink_to(first)  # a chain
    assert ExcelBackend(second).write_cells("Inbound Control", WRITE) == 1
    assert second.is_symlink() and first.is_symlink()
    assert os.readlink(first) == str(Path("..") / "inbound.xlsx")
    assert openpyxl.load_workbook(workbook)["Inbound Control"]["E4"].value == "MATCH"
    assert _only(links) == ["control.xlsx", "first.xlsx"]


def test_mode_and_owner_are_kept(tmp_path, workbook):
    os.chmod(workbook, 0o640)
    if os.getuid() == 0:
        os.chown(workbook, 1234, 2345)
    ExcelBackend(workbook).write_cells("Inbound Control", WRITE)
    info = workbook.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    if os.getuid() == 0:
        assert (info.st_uid, info.st_gid) == (1234, 2345)


# -- atomicity ------------------------------------------------------------------------------------------


def test_a_crash_while_writing_leaves_the_workbook_intact(tmp_path, workbook, monkeypatch):
    before = workbook.read_bytes()
    real_copy = xlsx_module._copy_package

    def crashing_copy(package, out, replaced, shown):
        out.write(b"PK\x03\x04 half a zip")  # part of the new file is written ...
        raise OSError("disk full")  # ... then the disk fills up

    monkeypatch.setattr(xlsx_module, "_copy_package", crashing_copy)
    with pytest.raises(OSError, match="disk full"):
        ExcelBackend(workbook).write_cells("Inbound Control", WRITE)
    assert workbook.read_bytes() == before and _only(tmp_path) == ["inbound.xlsx"]  # no temp file left

    monkeypatch.setattr(xlsx_module, "_copy_package", real_copy)
    ExcelBackend(workbook).write_cells("Inbound Control", WRITE)
    assert openpyxl.load_workbook(workbook)["Inbound Control"]["E4"].value == "MATCH"
    assert _only(tmp_path) == ["inbound.xlsx"]


def test_a_save_by_someone_else_during_the_write_wins(tmp_path, workbook, monkeypatch):
    real_copy = xlsx_module._copy_package
    theirs = copy_fixture("rich.xlsx", tmp_path).read_bytes()

    def copy_while_someone_saves(package, out, replaced, shown):
        real_copy(package, out, replaced, shown)
        workbook.write_bytes(theirs)  # Excel saved the workbook in the meantime

    monkeypatch.setattr(xlsx_module, "_copy_package", copy_while_someone_saves)
    with pytest.raises(
        WorkbookChanged, match="saved by someone else during the write; nothing was written"
    ) as caught:
        ExcelBackend(workbook).write_cells("Inbound Control", WRITE)
    assert isinstance(caught.value, TransientFailure)  # the task retries, starting from their version
    assert workbook.read_bytes() == theirs


def test_a_lock_taken_during_the_write_stops_the_replace(tmp_path, workbook, monkeypatch):
    real_copy = xlsx_module._copy_package
    before = workbook.read_bytes()

    def copy_while_someone_opens(package, out, replaced, shown):
        real_copy(package, out, replaced, shown)
        (tmp_path / "~$inbound.xlsx").write_bytes(b"")

    monkeypatch.setattr(xlsx_module, "_copy_package", copy_while_someone_opens)
    with pytest.raises(WorkbookLocked):
        ExcelBackend(workbook).write_cells("Inbound Control", WRITE)
    assert workbook.read_bytes() == before


def test_a_copy_that_does_not_read_back_right_never_replaces_the_workbook(tmp_path, workbook, monkeypatch):
    real_copy = xlsx_module._copy_package
    before = zip_parts(workbook)

    def copy_without_the_change(package, out, replaced, shown):
        real_copy(package, out, {}, shown)  # a writer bug: the new sheet part is lost

    monkeypatch.setattr(xlsx_module, "_copy_package", copy_without_the_change)
    with pytest.raises(
        Exception, match=r"reads '' at 'Inbound Control'!E4 instead of 'MATCH'; the workbook is"
    ):
        ExcelBackend(workbook).write_cells("Inbound Control", WRITE)
    assert zip_parts(workbook) == before and _only(tmp_path) == ["inbound.xlsx"]
