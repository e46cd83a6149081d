"""The parts of an ``.xlsx``/``.xlsm`` package the reader and the writer need, with one-line errors.

A workbook is a zip of XML parts tied together by relationships: ``_rels/.rels`` names the workbook
part, the workbook lists its sheets (title, hidden or not, relationship id), the workbook's
relationships name each sheet's part and the styles. Everything is found through those relationships,
never by guessing part names, so workbooks from Excel, LibreOffice and other writers all work.

Whatever is wrong with a file (empty, truncated, not a zip, an ``.xls`` or encrypted file in disguise,
an OpenDocument file, a part that is not XML) becomes a :class:`CorruptWorkbook` or
:class:`UnsupportedWorkbook` whose message is one line naming the file, never a library's traceback.
"""

from __future__ import annotations

import contextlib
import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

from jtl_automator.sheets.base import SheetError
from jtl_automator.sheets.workbook_file import SUPPORTED_TEXT, CorruptWorkbook, UnsupportedWorkbook

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_MAIN_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOCUMENT = f"{REL_NS}/officeDocument"

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SHEET_KINDS = {
    "worksheet": "worksheet",
    "chartsheet": "chart sheet",
    "dialogsheet": "dialog sheet",
    "xlMacrosheet": "macro sheet",
    "xlIntlMacrosheet": "macro sheet",
}


def q(local: str) -> str:
    """``{main namespace}local``: the tag of a SpreadsheetML element."""
    return f"{{{MAIN_NS}}}{local}"


def xml_parser() -> etree.XMLParser:
    """A parser that never fetches or expands anything a file asks for (one per use: not thread-safe)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class NotAWorksheet(SheetError):
    """The tab exists but is a chart or dialog sheet: it has no cells to read or write."""

    def __init__(self, title: str, kind: str) -> None:
        self.title = title
        self.kind = kind
        super().__init__(f"tab {title!r} is a {kind}, not a worksheet with cells")


@dataclass(frozen=True)
class SheetEntry:
    """One tab of the workbook: its title, visibility, kind and the part that holds it."""

    title: str
    state: str  # visible | hidden | veryHidden
    kind: str  # worksheet | chart sheet | dialog sheet | macro sheet
    part: str

    @property
    def visible(self) -> bool:
        """Shown as a tab (Excel's ``hidden`` and ``veryHidden`` are not)."""
        return self.state == "visible"


@dataclass(frozen=True)
class CellFormat:
    """What the writer needs to know of one ``cellXfs`` entry."""

    number_format_id: int
    is_date: bool
    locked: bool


@dataclass(frozen=True)
class Styles:
    """The cell formats of the workbook (``styles.xml``'s ``cellXfs``), by index."""

    part: str | None
    formats: tuple[CellFormat, ...] = field(default_factory=tuple)

    def format(self, index: int) -> CellFormat:
        """Format ``index``; an index past the list falls back to the default format, as Excel does."""
        if 0 <= index < len(self.formats):
            return self.formats[index]
        return CellFormat(0, False, True)


@dataclass(frozen=True)
class PackageIndex:
    """The workbook part, its tabs in order, and the date system."""

    workbook_part: str
    sheets: tuple[SheetEntry, ...]
    date1904: bool
    styles_part: str | None

    @property
    def titles(self) -> list[str]:
        """Every tab's title, in workbook order."""
        return [s.title for s in self.sheets]

    def visible_worksheets(self) -> list[str]:
        """Titles of the worksheets a user sees as tabs."""
        return [s.title for s in self.sheets if s.visible and s.kind == "worksheet"]

    def entry(self, title: str) -> SheetEntry:
        """The tab with exactly this title."""
        return next(s for s in self.sheets if s.title == title)


@contextlib.contextmanager
def reading(shown: Path) -> Iterator[None]:
    """Turn what zipfile, zlib and lxml raise on a damaged file into one line naming the file."""
    try:
        yield
    except zipfile.BadZipFile as exc:
        raise CorruptWorkbook(shown, f"is corrupt ({exc}); {SUPPORTED_TEXT}") from None
    except (zlib.error, EOFError) as exc:
        raise CorruptWorkbook(shown, f"is truncated or corrupt ({exc}); {SUPPORTED_TEXT}") from None
    except etree.XMLSyntaxError as exc:
        raise CorruptWorkbook(shown, f"holds a part that is not well-formed XML ({exc})") from None


def open_package(target: Path, shown: Path) -> zipfile.ZipFile:
    """Open the zip after checking it is one; ``shown`` is the path the user gave (for messages)."""
    try:
        with target.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise CorruptWorkbook(shown, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise CorruptWorkbook(shown, f"is empty (0 bytes), not a workbook; {SUPPORTED_TEXT}")
    if head == _OLE2_MAGIC:
        raise UnsupportedWorkbook(
            shown,
            "is an encrypted (password-protected) workbook or an Excel 97-2003 .xls file; "
            f"remove the password or save it as .xlsx; {SUPPORTED_TEXT}",
        )
    if not head.startswith(b"PK"):
        raise UnsupportedWorkbook(
            shown,
            f"is not a zip archive, so no .xlsx workbook (a renamed CSV or HTML file?); {SUPPORTED_TEXT}",
        )
    try:
        return zipfile.ZipFile(target)
    except zipfile.BadZipFile as exc:
        raise CorruptWorkbook(shown, f"is truncated or corrupt: {exc}") from None
    except (OSError, EOFError, ValueError) as exc:
        raise CorruptWorkbook(shown, f"is truncated or corrupt: {exc}") from None


def read_part(package: zipfile.ZipFile, name: str, shown: Path) -> bytes:
    """A part's bytes; a missing part names the file and the part."""
    try:
        with reading(shown):
            return package.read(name)
    except KeyError:
        raise CorruptWorkbook(shown, f"lacks its part {name}") from None


def parse_part(package: zipfile.ZipFile, name: str, shown: Path) -> etree._Element:
    """A small part (workbook, relationships, styles) as a tree."""
    data = read_part(package, name, shown)
    with reading(shown):
        return etree.fromstring(data, xml_parser())


def open_part(package: zipfile.ZipFile, name: str, shown: Path) -> IO[bytes]:
    """A part as a stream (sheets are streamed, never held whole)."""
    try:
        with reading(shown):
            return package.open(name)
    except KeyError:
        raise CorruptWorkbook(shown, f"lacks its part {name}") from None


def rels_part(part: str) -> str:
    """``xl/workbook.xml`` -> ``xl/_rels/workbook.xml.rels``."""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _target(source_part: str, target: str) -> str:
    """A relationship's target as a part name (relative to the source's folder, or absolute)."""
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def relationships(package: zipfile.ZipFile, part: str, shown: Path) -> dict[str, tuple[str, str]]:
    """``{id: (type, target part)}`` of a part's internal relationships (none if it has no .rels)."""
    name = rels_part(part)
    if name not in package.NameToInfo:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for rel in parse_part(package, name, shown).iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        found[rel.get("Id", "")] = (rel.get("Type", ""), _target(part, rel.get("Target", "")))
    return found


def _workbook_part(package: zipfile.ZipFile, shown: Path) -> str:
    names = package.NameToInfo
    if "_rels/.rels" in names:
        for rel in parse_part(package, "_rels/.rels", shown).iter(f"{{{PKG_REL_NS}}}Relationship"):
            if rel.get("Type") == OFFICE_DOCUMENT:
                return _target("", rel.get("Target", ""))
    if "content.xml" in names and "mimetype" in names:
        raise UnsupportedWorkbook(shown, f"is an OpenDocument spreadsheet (.ods); {SUPPORTED_TEXT}")
    if "xl/workbook.bin" in names:
        raise UnsupportedWorkbook(shown, f"is an Excel binary (.xlsb) workbook; {SUPPORTED_TEXT}")
    raise UnsupportedWorkbook(shown, f"is a zip archive but not an Excel workbook; {SUPPORTED_TEXT}")


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("1", "true")


def read_index(package: zipfile.ZipFile, shown: Path) -> PackageIndex:
    """The workbook's tabs (title, state, kind, part), its styles part and date system."""
    workbook_part = _workbook_part(package, shown)
    if workbook_part.endswith(".bin"):
        raise UnsupportedWorkbook(shown, f"is an Excel binary (.xlsb) workbook; {SUPPORTED_TEXT}")
    root = parse_part(package, workbook_part, shown)
    if root.tag == f"{{{STRICT_MAIN_NS}}}workbook":
        raise UnsupportedWorkbook(
            shown, f"is a Strict Open XML workbook; save it as an Excel Workbook (.xlsx); {SUPPORTED_TEXT}"
        )
    if root.tag != q("workbook"):
        raise UnsupportedWorkbook(shown, f"is not an Excel workbook ({workbook_part}); {SUPPORTED_TEXT}")
    rels = relationships(package, workbook_part, shown)
    sheets: list[SheetEntry] = []
    for sheet in root.iterfind(f"{q('sheets')}/{q('sheet')}"):
        title = sheet.get("name", "")
        rel_type, part = rels.get(sheet.get(f"{{{REL_NS}}}id", ""), ("", ""))
        if not part:
            raise CorruptWorkbook(shown, f"tab {title!r} points to no part")
        kind = _SHEET_KINDS.get(rel_type.rsplit("/", 1)[-1], "sheet of an unknown kind")
        sheets.append(SheetEntry(title, sheet.get("state", "visible"), kind, part))
    properties = root.find(q("workbookPr"))
    date1904 = _flag(properties.get("date1904") if properties is not None else None, False)
    styles = next((target for kind, target in rels.values() if kind == f"{REL_NS}/styles"), None)
    return PackageIndex(workbook_part, tuple(sheets), date1904, styles)


def read_styles(package: zipfile.ZipFile, index: PackageIndex, shown: Path) -> Styles:
    """Number format, date-ness and protection of every cell format."""
    if index.styles_part is None or index.styles_part not in package.NameToInfo:
        return Styles(None)
    root = parse_part(package, index.styles_part, shown)
    custom = {
        int(fmt.get("numFmtId", "0")): fmt.get("formatCode", "")
        for fmt in root.iterfind(f"{q('numFmts')}/{q('numFmt')}")
    }
    formats: list[CellFormat] = []
    for xf in root.iterfind(f"{q('cellXfs')}/{q('xf')}"):
        number_format = int(xf.get("numFmtId", "0"))
        code = custom.get(number_format, BUILTIN_FORMATS.get(number_format))
        protection = xf.find(q("protection"))
        locked = _flag(protection.get("locked") if protection is not None else None, True)
        formats.append(CellFormat(number_format, bool(is_date_format(code)), locked))
    return Styles(index.styles_part, tuple(formats))
