"""The purchase order documents: xlsx read back with openpyxl, the PDF opened again with pypdf."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from jtl_automator.services.plan_execution.document import (
    OrderLine,
    PurchaseOrderDoc,
    SupplierInfo,
    attachments,
    email_markdown,
    email_subject,
    pdf_bytes,
    xlsx_bytes,
)


def read_xlsx_lines(data: bytes) -> list[tuple[str, int]]:
    """(SKU, quantity) of each position of a workbook made by ``xlsx_bytes``, read back with openpyxl."""
    ws = load_workbook(BytesIO(data), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row and row[0] in ("Pos.",)) + 1
    return [(str(row[1]), int(str(row[5]))) for row in rows[start:] if isinstance(row[0], int)]


def _doc(lines: int = 3, language: str = "de", price: Decimal | None = Decimal("2.50")) -> PurchaseOrderDoc:
    return PurchaseOrderDoc(
        number="PO-7-L10001",
        plan_id=7,
        supplier=SupplierInfo(
            key="L10001", wawi_id=1, number="L10001", name="Müller (Süd) GmbH", language=language
        ),
        order_date=date(2026, 11, 26),
        expected_date=date(2026, 12, 10),
        lines=tuple(
            OrderLine(
                sku=f"SKU-{i:03d}",
                warehouse="W1" if i % 2 else "W2",
                quantity=i + 1,
                jfsku=f"J{i}",
                name="Kühlschrank (groß)",
                unit_price=price,
            )
            for i in range(lines)
        ),
    )


def test_xlsx_holds_every_position_and_the_total_in_the_suppliers_language() -> None:
    data = xlsx_bytes(_doc())
    assert read_xlsx_lines(data) == [("SKU-000", 1), ("SKU-001", 2), ("SKU-002", 3)]
    ws = load_workbook(BytesIO(data)).worksheets[0]
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    assert ws.title == "Bestellung" and values[0][0] == "Bestellung PO-7-L10001"
    assert values[-1][6] == "Gesamt netto (EUR)" and values[-1][7] == 15.0  # (1 + 2 + 3) × 2.50
    english = load_workbook(BytesIO(xlsx_bytes(_doc(language="en", price=None)))).worksheets[0]
    rows = list(english.iter_rows(values_only=True))
    assert rows[0][0] == "Purchase order PO-7-L10001" and rows[-1][6] is None  # no prices: no total


def _pdf_text(data: bytes) -> list[str]:
    """Each page's text, as a PDF reader extracts it."""
    reader = PdfReader(BytesIO(data))
    return [page.extract_text() for page in reader.pages]


@pytest.mark.slow
def test_pdf_opens_and_spreads_long_orders_over_pages_with_the_heading_on_each() -> None:
    pages = _pdf_text(pdf_bytes(_doc(lines=120)))
    assert len(pages) >= 2
    assert "Bestellung PO-7-L10001" in pages[0]
    assert "Müller (Süd) GmbH (L10001)" in pages[0]
    assert all("Menge" in page for page in pages)  # the table heading repeats on every page
    text = "\n".join(pages)
    assert all(f"SKU-{i:03d}" in text for i in range(120))  # every position, none lost at a page break
    assert "Gesamt netto (EUR)" in pages[-1]


def test_pdf_speaks_english_and_replaces_what_its_font_cannot_show() -> None:
    doc = _doc(language="en", price=None).model_copy(
        update={"supplier": SupplierInfo(key="L1", wawi_id=1, number="L1", name="Łódź → Ltd", language="en")}
    )
    page = _pdf_text(pdf_bytes(doc))[0]
    assert "Purchase order PO-7-L10001" in page
    assert "?ódź" not in page and "?" in page  # outside Latin-1 becomes '?', the PDF is still written
    assert "Total (net) (EUR)" not in page  # no prices: no total line (the column heading stays)
    priced = _pdf_text(pdf_bytes(_doc(language="en")))[0]
    assert "Total (net) (EUR): 15.00" in priced  # (1 + 2 + 3) x 2.50


def test_the_email_carries_xlsx_and_pdf_and_speaks_the_suppliers_language() -> None:
    doc = _doc()
    assert [a.filename for a in attachments(doc)] == [
        "Bestellung PO-7-L10001.xlsx",
        "Bestellung PO-7-L10001.pdf",
    ]
    assert (
        email_subject(doc, {"de": "Bestellung {number}", "en": "Order {number}"}) == "Bestellung PO-7-L10001"
    )
    assert (
        email_subject(_doc(language="fr"), {"de": "B {number}", "en": "Order {number}"})
        == "Order PO-7-L10001"
    )
    body = email_markdown(doc, "Einkauf")
    assert body.startswith("Sehr geehrte") and "**2026-12-10**" in body and body.endswith("Einkauf")
