"""The purchase order as the supplier sees it: its record, the xlsx document and the e-mail text.

The record (:class:`PurchaseOrderDoc`) is written once to the state store's ledger and every later step
(the e-mail, the inbounds, a rerun after a crash) works from that stored copy, so the dates and lines the
supplier got are the ones FFN is told about, whenever the run that finishes the job happens.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from pydantic import BaseModel, ConfigDict

from jtl_automator.notify.mail import Attachment, markdown_text

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Labels per supplier language; a language not listed gets English.
LABELS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Bestellung",
        "number": "Bestellnummer",
        "date": "Bestelldatum",
        "expected": "Gewünschter Liefertermin",
        "supplier": "Lieferant",
        "supplier_no": "Lieferantennummer",
        "position": "Pos.",
        "sku": "Artikelnummer",
        "supplier_sku": "Lieferanten-Art.-Nr.",
        "name": "Bezeichnung",
        "warehouse": "Lieferlager",
        "quantity": "Menge",
        "unit_price": "Einzelpreis netto",
        "total": "Gesamt netto",
        "greeting": "Sehr geehrte Damen und Herren,",
        "body": "anbei erhalten Sie unsere Bestellung **{number}** mit {count} Positionen. Bitte liefern "
        "Sie bis **{expected}** und geben Sie bei der Anlieferung die Bestellnummer an.",
        "closing": "Mit freundlichen Grüßen",
    },
    "en": {
        "title": "Purchase order",
        "number": "Purchase order number",
        "date": "Order date",
        "expected": "Requested delivery date",
        "supplier": "Supplier",
        "supplier_no": "Supplier number",
        "position": "Pos.",
        "sku": "SKU",
        "supplier_sku": "Supplier SKU",
        "name": "Description",
        "warehouse": "Deliver to warehouse",
        "quantity": "Quantity",
        "unit_price": "Unit price (net)",
        "total": "Total (net)",
        "greeting": "Dear Sir or Madam,",
        "body": "please find attached our purchase order **{number}** with {count} lines. Please deliver "
        "by **{expected}** and quote the purchase order number on delivery.",
        "closing": "Kind regards",
    },
}


def language_of(iso: str | None) -> str:
    """The document language for a Wawi ``LanguageISO`` (``DE`` -> ``de``); English where unknown."""
    code = (iso or "").strip().lower()[:2]
    return code if code in LABELS else "en"


class SupplierInfo(BaseModel):
    """The supplier as Wawi knows it, at the time of ordering."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str  # what the plan named (Wawi Id, supplier number or name)
    wawi_id: int
    number: str | None = None
    name: str
    email: str | None = None
    language: str = "en"


class OrderLine(BaseModel):
    """One position: a plan line with what FFN and the supplier need to know about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    warehouse: str
    quantity: int
    jfsku: str
    name: str | None = None
    supplier_sku: str | None = None
    unit_price: Decimal | None = None


class PurchaseOrderDoc(BaseModel):
    """One purchase order of one plan to one supplier, as recorded in the state database."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str
    plan_id: int
    supplier: SupplierInfo
    order_date: date
    expected_date: date
    currency: str = "EUR"
    lines: tuple[OrderLine, ...]
    wawi_id: int | None = None  # the Wawi purchase order, where Wawi API v2 is used

    @property
    def warehouses(self) -> list[str]:
        """The warehouses it delivers to: one FFN inbound each."""
        return sorted({line.warehouse for line in self.lines})

    def inbound_number(self, warehouse: str) -> str:
        """``merchantInboundNumber`` of its inbound into ``warehouse``.

        The purchase order number itself when it delivers to one warehouse; with several, FFN refuses a
        second inbound under a used number, so each gets the warehouse appended (``PO-7-L1-WH2``).
        """
        return self.number if len(self.warehouses) <= 1 else f"{self.number}-{warehouse}"

    def total(self) -> Decimal | None:
        """Net total, or None when a line has no price."""
        if any(line.unit_price is None for line in self.lines):
            return None
        return sum((line.quantity * (line.unit_price or Decimal(0)) for line in self.lines), Decimal(0))


def xlsx_bytes(doc: PurchaseOrderDoc) -> bytes:
    """The purchase order as an Excel workbook in the supplier's language."""
    label = LABELS[language_of(doc.supplier.language)]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = label["title"][:31]
    bold = Font(bold=True)
    ws.append([f"{label['title']} {doc.number}"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([label["number"], doc.number])
    ws.append([label["date"], doc.order_date])
    ws.append([label["expected"], doc.expected_date])
    ws.append([label["supplier"], doc.supplier.name])
    ws.append([label["supplier_no"], doc.supplier.number or ""])
    ws.append([])
    header = ["position", "sku", "supplier_sku", "name", "warehouse", "quantity", "unit_price", "total"]
    ws.append([label[h] for h in header])
    for cell in ws[ws.max_row]:
        cell.font = bold
    for pos, line in enumerate(doc.lines, start=1):
        price = float(line.unit_price) if line.unit_price is not None else None
        ws.append(
            [
                pos,
                line.sku,
                line.supplier_sku or "",
                line.name or "",
                line.warehouse,
                line.quantity,
                price,
                price * line.quantity if price is not None else None,
            ]
        )
    total = doc.total()
    if total is not None:
        ws.append(["", "", "", "", "", "", f"{label['total']} ({doc.currency})", float(total)])
        ws.cell(ws.max_row, 7).font = bold
    for column, width in zip("ABCDEFGH", (6, 18, 18, 36, 24, 10, 18, 14), strict=True):
        ws.column_dimensions[column].width = width
    for row in ws.iter_rows(min_row=2, max_row=4, min_col=2, max_col=2):
        for cell in row:
            cell.number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_xlsx_lines(data: bytes) -> list[tuple[str, int]]:
    """(SKU, quantity) of each position of a workbook made by :func:`xlsx_bytes` (tests, support)."""
    ws = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row and row[0] in ("Pos.",)) + 1
    return [(str(row[1]), int(str(row[5]))) for row in rows[start:] if isinstance(row[0], int)]


PDF_TYPE = "application/pdf"
_PAGE_W, _PAGE_H, _MARGIN, _LEADING = 595, 842, 50, 14  # A4 in points
#: x of each column of the positions table: pos, SKU, description, warehouse, quantity, price, total.
_COLUMNS = (50, 75, 160, 285, 385, 420, 515)
_HEADERS = ("position", "sku", "name", "warehouse", "quantity", "unit_price", "total")


def _pdf_text(value: object) -> bytes:
    """A PDF string literal in WinAnsi (cp1252: German umlauts and ß included), escaped."""
    raw = str(value).encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def pdf_bytes(doc: PurchaseOrderDoc) -> bytes:
    """The purchase order as a plain PDF (built in-house: no PDF library is among the dependencies).

    Helvetica, WinAnsi, uncompressed text: a header block and the positions as a table, as many A4
    pages as the lines need.
    """
    label = LABELS[language_of(doc.supplier.language)]
    rows: list[list[tuple[int, str, bool]]] = [
        [(_MARGIN, f"{label['title']} {doc.number}", True)],
        [],
        [(_MARGIN, f"{label['supplier']}: {doc.supplier.name} ({doc.supplier.number or ''})", False)],
        [(_MARGIN, f"{label['date']}: {doc.order_date.isoformat()}", False)],
        [(_MARGIN, f"{label['expected']}: {doc.expected_date.isoformat()}", False)],
        [],
        [(x, label[h], True) for x, h in zip(_COLUMNS, _HEADERS, strict=True)],
    ]
    for pos, line in enumerate(doc.lines, start=1):
        price = f"{line.unit_price:.2f}" if line.unit_price is not None else ""
        total = f"{line.unit_price * line.quantity:.2f}" if line.unit_price is not None else ""
        cells = (str(pos), line.sku[:16], (line.name or "")[:24], line.warehouse[:19], str(line.quantity))
        rows.append([(x, text, False) for x, text in zip(_COLUMNS, (*cells, price, total), strict=True)])
    if (sum_net := doc.total()) is not None:
        rows += [[], [(_COLUMNS[4], f"{label['total']} ({doc.currency}): {sum_net:.2f}", True)]]
    per_page = (_PAGE_H - 2 * _MARGIN) // _LEADING
    pages = [rows[i : i + per_page] for i in range(0, len(rows), per_page)] or [[]]
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree (filled in below)
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    kids: list[int] = []
    for page in pages:
        ops = [b"BT"]
        for index, row in enumerate(page):
            y = _PAGE_H - _MARGIN - index * _LEADING
            for x, text, bold in row:
                font = b"/F2" if bold else b"/F1"
                ops.append(font + b" 9 Tf 1 0 0 1 %d %d Tm " % (x, y) + _pdf_text(text) + b" Tj")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>" % (_PAGE_W, _PAGE_H, content)
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def filename(doc: PurchaseOrderDoc, extension: str) -> str:
    """``Bestellung PO-7-L10001.xlsx`` / ``Purchase order PO-7-L10001.xlsx``."""
    return f"{LABELS[language_of(doc.supplier.language)]['title']} {doc.number}.{extension}"


def attachments(doc: PurchaseOrderDoc) -> list[Attachment]:
    """What the e-mail carries: the order as xlsx (to import) and as PDF (to read and file)."""
    return [
        Attachment(filename(doc, "xlsx"), xlsx_bytes(doc), XLSX_TYPE),
        Attachment(filename(doc, "pdf"), pdf_bytes(doc), PDF_TYPE),
    ]


def email_subject(doc: PurchaseOrderDoc, subjects: dict[str, str]) -> str:
    """The subject in the supplier's language (English, else the first configured, as the fallback)."""
    lang = language_of(doc.supplier.language)
    template = subjects.get(lang) or subjects.get("en") or next(iter(subjects.values()), "{number}")
    return template.format(number=doc.number)


def email_markdown(doc: PurchaseOrderDoc, signature: str = "") -> str:
    """The e-mail body in the supplier's language; the positions are in the attachment."""
    label = LABELS[language_of(doc.supplier.language)]
    body = label["body"].format(
        number=markdown_text(doc.number), count=len(doc.lines), expected=doc.expected_date.isoformat()
    )
    lines = [label["greeting"], "", body, ""]
    for line in doc.lines:
        name = f" {markdown_text(line.name)}" if line.name else ""
        lines.append(f"- {line.quantity} × {markdown_text(line.sku)}{name}")
    lines += ["", label["closing"]]
    if signature:
        lines.append(markdown_text(signature))
    return "\n".join(lines)
