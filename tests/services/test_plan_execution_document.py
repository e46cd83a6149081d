"""The purchase order documents: xlsx read back with openpyxl, the in-house PDF checked structurally."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from jtl_automator.services.plan_execution.document import (
    OrderLine,
    PurchaseOrderDoc,
    SupplierInfo,
    attachments,
    email_markdown,
    email_subject,
    pdf_bytes,
    read_xlsx_lines,
    xlsx_bytes,
)


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
    from io import BytesIO

    from openpyxl import load_workbook

    data = xlsx_bytes(_doc())
    assert read_xlsx_lines(data) == [("SKU-000", 1), ("SKU-001", 2), ("SKU-002", 3)]
    ws = load_workbook(BytesIO(data)).worksheets[0]
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    assert ws.title == "Bestellung" and values[0][0] == "Bestellung PO-7-L10001"
    assert values[-1][6] == "Gesamt netto (EUR)" and values[-1][7] == 15.0  # (1 + 2 + 3) × 2.50
    english = load_workbook(BytesIO(xlsx_bytes(_doc(language="en", price=None)))).worksheets[0]
    rows = list(english.iter_rows(values_only=True))
    assert rows[0][0] == "Purchase order PO-7-L10001" and rows[-1][6] is None  # no prices: no total


def test_pdf_is_well_formed_and_spreads_long_orders_over_pages() -> None:
    data = pdf_bytes(_doc(lines=120))
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n", data).group(1))  # type: ignore[union-attr]
    assert data[startxref:].startswith(b"xref\n")
    count = int(re.search(rb"xref\n0 (\d+)\n", data).group(1))  # type: ignore[union-attr]
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n \n", data)]
    assert len(offsets) == count - 1
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    for match in re.finditer(rb"<< /Length (\d+) >>\nstream\n", data):
        length = int(match.group(1))
        assert data[match.end() + length : match.end() + length + 10] == b"\nendstream"
    assert b"/Count 3" in data  # 7 header rows + 120 positions + total, 52 rows a page
    assert b"(Bestellung PO-7-L10001)" in data
    assert "(Müller \\(Süd\\) GmbH \\(L10001\\))".encode("cp1252") in data.replace(b"Lieferant: ", b"")


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
