"""Helpers for the Excel tests: the committed fixtures, zip part comparison, Excel-style packages.

``fixtures/rich.xlsx`` and ``rich.xlsm`` were made by LibreOffice (``fixtures/make_workbooks.py``);
:func:`excel_style_workbook` writes a small package the way Excel writes one (prefixed extension
namespaces, ``mc:Ignorable``, ``x14ac`` row attributes, an ``x14`` data validation in ``extLst``),
which LibreOffice does not produce.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from lxml import etree

FIXTURES = Path(__file__).parent / "fixtures"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def q(local: str) -> str:
    return f"{{{MAIN}}}{local}"


def copy_fixture(name: str, folder: Path) -> Path:
    target = folder / name
    shutil.copyfile(FIXTURES / name, target)
    return target


def zip_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {info.filename: package.read(info) for info in package.infolist()}


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as package:
        return package.namelist()


def canonical(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n")


def sheet_cells(part: bytes) -> dict[str, bytes]:
    """Every cell of a worksheet part, canonical, by reference."""
    root = etree.fromstring(part)
    return {c.get("r"): canonical(c) for c in root.iter(q("c"))}


def sheet_rows(part: bytes) -> dict[str, dict[str, str]]:
    """Every row's attributes, by row number."""
    root = etree.fromstring(part)
    return {row.get("r"): dict(row.attrib) for row in root.iter(q("row"))}


def sheet_frame(part: bytes) -> list[bytes]:
    """Everything of a worksheet part but its cells and rows: the root and every other element."""
    root = etree.fromstring(part)
    frame = [repr(sorted(root.nsmap.items(), key=str)).encode(), repr(sorted(root.attrib.items())).encode()]
    frame += [canonical(child) for child in root if child.tag != q("sheetData")]
    return frame


def cell_value(part: bytes, ref: str) -> tuple[str | None, str | None]:
    """(type, text) of one cell: the ``t`` attribute and its ``v`` or inline string text."""
    root = etree.fromstring(part)
    for cell in root.iter(q("c")):
        if cell.get("r") == ref:
            text = cell.findtext(q("v"))
            if text is None:
                text = "".join(cell.find(q("is")).itertext()) if cell.find(q("is")) is not None else None
            return cell.get("t"), text
    raise KeyError(ref)


CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

CONTENT_TYPES = f"""
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
  <Default Extension="xml" ContentType="application/xml"/>
  <Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>
  <Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CT}.worksheet+xml"/>
  <Override PartName="/xl/worksheets/sheet2.xml" ContentType="{CT}.worksheet+xml"/>
  <Override PartName="/xl/styles.xml" ContentType="{CT}.styles+xml"/>
  <Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>
</Types>"""

ROOT_RELS = f"""
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""

WORKBOOK = """
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x15"
    xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main">
  <fileVersion appName="xl" lastEdited="7" lowestEdited="7" rupBuild="27328"/>
  <workbookPr {workbook_pr}/>
  <bookViews><workbookView xWindow="0" yWindow="0" windowWidth="28800" windowHeight="12300"/></bookViews>
  <sheets>
    <sheet name="Inbound Control" sheetId="1" r:id="rId1"/>
    <sheet name="Lists" sheetId="2" state="hidden" r:id="rId2"/>
  </sheets>
  {calc}
</workbook>"""

# Targets relative and absolute, in no particular order, as writers do.
WORKBOOK_RELS = f"""
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Id="rId3" Type="{REL}/styles" Target="styles.xml"/>
  <Relationship Id="rId2" Type="{REL}/worksheet" Target="worksheets/sheet2.xml"/>
  <Relationship Id="rId1" Type="{REL}/worksheet" Target="/xl/worksheets/sheet1.xml"/>
  <Relationship Id="rId4" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>
</Relationships>"""

# Format 0: default (locked); 1: unlocked (the Status column of a protected sheet); 2: a date.
STYLES = """
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac"
    xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">
  <fonts count="1" x14ac:knownFonts="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>
  <fills count="2">
    <fill><patternFill patternType="none"/></fill>
    <fill><patternFill patternType="gray125"/></fill>
  </fills>
  <borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
  <cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
  <cellXfs count="3">
    <xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
    <xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyProtection="1">
      <protection locked="0"/>
    </xf>
    <xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
  </cellXfs>
  <cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
  <dxfs count="0"/>
  <tableStyles count="0"/>
</styleSheet>"""

SHARED_STRINGS = """
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="8" uniqueCount="8">
  <si><t>SKU</t></si><si><t>Units</t></si><si><t>Status</t></si><si><t>Note</t></si>
  <si><t>00123</t></si><si><t>SKU-2</t></si><si><t xml:space="preserve">PENDING </t></si><si><t>MATCH</t></si>
</sst>"""

SHEET_HEAD = """
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac xr xr2 xr3"
    xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"
    xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision"
    xmlns:xr2="http://schemas.microsoft.com/office/spreadsheetml/2015/revision2"
    xmlns:xr3="http://schemas.microsoft.com/office/spreadsheetml/2016/revision3"
    xr:uid="{{00000000-0001-0000-0000-000000000000}}">
  <dimension ref="{dimension}"/>
  <sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews>
  <sheetFormatPr defaultRowHeight="15" x14ac:dyDescent="0.25"/>
  <cols><col min="3" max="4" width="14" style="{status_style}" customWidth="1"/></cols>"""

#: Rows as Excel writes them: shared strings, a shared formula, x14ac row attributes, spans.
SHEET_DATA = """
  <sheetData>
    <row r="1" spans="1:4" x14ac:dyDescent="0.25">
      <c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>
      <c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c>
    </row>
    <row r="2" spans="1:4" x14ac:dyDescent="0.25">
      <c r="A2" t="s"><v>4</v></c><c r="B2"><f>Lists!B1*2</f><v>12</v></c>
      <c r="C2" s="{status_style}" t="s"><v>6</v></c>
    </row>
    <row r="3" spans="1:4" x14ac:dyDescent="0.25">
      <c r="A3" t="s"><v>5</v></c><c r="B3"><f t="shared" ref="B3:B4" si="0">Lists!B2*2</f><v>8</v></c>
      <c r="C3" s="{status_style}"/>
    </row>
    <row r="4" spans="1:4" x14ac:dyDescent="0.25"><c r="B4"><f t="shared" si="0"/><v>4</v></c></row>
  </sheetData>"""

SHEET_TAIL = """
  {protection}
  <mergeCells count="1"><mergeCell ref="C4:D4"/></mergeCells>
  <pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>
  <extLst>
    <ext xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
        uri="{{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}}">
      <x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">
        <x14:dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1"
            xr:uid="{{6F1B2F1A-0000-4000-8000-000000000001}}">
          <x14:formula1><xm:f>Lists!$A$1:$A$3</xm:f></x14:formula1>
          <xm:sqref>C2:C100</xm:sqref>
        </x14:dataValidation>
      </x14:dataValidations>
    </ext>
  </extLst>
</worksheet>"""

LISTS = """
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
  <dimension ref="A1:B3"/>
  <sheetData>
    <row r="1"><c r="A1" t="inlineStr"><is><t>MATCH</t></is></c><c r="B1"><v>6</v></c></row>
    <row r="2"><c r="A2" t="inlineStr"><is><t>MISMATCH</t></is></c><c r="B2"><v>4</v></c></row>
    <row r="3"><c r="A3" t="inlineStr"><is><t>PENDING</t></is></c><c r="B3"><v>2</v></c></row>
  </sheetData>
</worksheet>"""


def _compact(xml: str) -> bytes:
    """The part as Excel writes it: no whitespace between elements, a standalone declaration."""
    root = etree.fromstring(xml.strip().encode(), etree.XMLParser(remove_blank_text=True))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def excel_style_workbook(
    path: Path,
    *,
    sheet_data: str = SHEET_DATA,
    protected: bool = False,
    status_style: int = 0,
    dimension: str = "A1:D4",
    date1904: bool = False,
    calc: str = '<calcPr calcId="191029"/>',
) -> Path:
    """A workbook written the way Excel writes one (see the module docstring)."""
    protection = '<sheetProtection sheet="1" objects="1" scenarios="1"/>' if protected else ""
    sheet = (
        SHEET_HEAD.format(dimension=dimension, status_style=status_style)
        + sheet_data.format(status_style=status_style)
        + SHEET_TAIL.format(protection=protection)
    )
    workbook_pr = 'date1904="1"' if date1904 else 'defaultThemeVersion="166925"'
    parts = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": WORKBOOK.format(workbook_pr=workbook_pr, calc=calc),
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        "xl/styles.xml": STYLES,
        "xl/sharedStrings.xml": SHARED_STRINGS,
        "xl/worksheets/sheet1.xml": sheet,
        "xl/worksheets/sheet2.xml": LISTS,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, xml in parts.items():
            package.writestr(name, _compact(xml))
    return path
