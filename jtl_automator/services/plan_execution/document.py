"""The purchase order as the supplier sees it: its record, the xlsx document and the e-mail text.

The record (:class:`PurchaseOrderDoc`) is written once to the state store's ledger and every later step
(the e-mail, the inbounds, a rerun after a crash) works from that stored copy, so the dates and lines the
supplier got are the ones FFN is told about, whenever the run that finishes the job happens.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from openpyxl import Workbook
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


PDF_TYPE = "application/pdf"
_MARGIN = 42  # points (A4 is 595 x 842)
#: Column widths (points) of the positions table: pos, SKU, description, warehouse, quantity, price, total.
_WIDTHS = (28, 90, 150, 90, 50, 50, 53)
_HEADERS = ("position", "sku", "name", "warehouse", "quantity", "unit_price", "total")
_ALIGN = ("RIGHT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT")


def _latin(value: object) -> str:
    """Text the PDF core fonts can show (Latin-1: German umlauts and ß included; the rest becomes '?')."""
    return str(value).encode("latin-1", errors="replace").decode("latin-1")


def pdf_bytes(doc: PurchaseOrderDoc) -> bytes:
    """The purchase order as a PDF (fpdf2): a header block and the positions as a table over A4 pages.

    The table repeats its heading on every page, so a long order stays readable when printed.
    """
    label = LABELS[language_of(doc.supplier.language)]
    pdf = FPDF(orientation="portrait", unit="pt", format="A4")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN)
    pdf.set_title(_latin(f"{label['title']} {doc.number}"))
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=13)
    pdf.cell(0, 18, _latin(f"{label['title']} {doc.number}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9)
    for text in (
        f"{label['supplier']}: {doc.supplier.name} ({doc.supplier.number or ''})",
        f"{label['date']}: {doc.order_date.isoformat()}",
        f"{label['expected']}: {doc.expected_date.isoformat()}",
    ):
        pdf.cell(0, 13, _latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)
    with pdf.table(col_widths=_WIDTHS, text_align=_ALIGN, line_height=12, width=sum(_WIDTHS)) as table:
        heading = table.row()
        for name in _HEADERS:
            heading.cell(_latin(label[name]))
        for pos, line in enumerate(doc.lines, start=1):
            price = f"{line.unit_price:.2f}" if line.unit_price is not None else ""
            total = f"{line.unit_price * line.quantity:.2f}" if line.unit_price is not None else ""
            row = table.row()
            for text in (
                str(pos),
                line.sku,
                line.name or "",
                line.warehouse,
                str(line.quantity),
                price,
                total,
            ):
                row.cell(_latin(text))
    if (sum_net := doc.total()) is not None:
        pdf.ln(6)
        pdf.set_font("Helvetica", style="B", size=9)
        pdf.cell(sum(_WIDTHS), 13, _latin(f"{label['total']} ({doc.currency}): {sum_net:.2f}"), align="R")
    return bytes(pdf.output())


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
