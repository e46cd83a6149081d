"""Stage 5, shipping: FFN's outbound updates feed tells which of our outbounds shipped, with tracking.

Reads ``/outbounds/updates`` from the ``orders:ffn-updates`` watermark, then per shipped order its
shipping notifications; records ``shipped`` with the tracking numbers, writes them back to Wawi
(``ShippingDate`` and our comment line) and sends the shipping notice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from jtl_automator.clients.errors import ClientError
from jtl_automator.clients.ffn.models import OutboundShippingNotification
from jtl_automator.notify.mail import markdown_text
from jtl_automator.services.order_processing.fulfilment import Context, Journal
from jtl_automator.services.order_processing.params import FFN_WATERMARK
from jtl_automator.services.order_processing.report import Outcome
from jtl_automator.services.order_processing.writeback import tagged_comment, update_order
from jtl_automator.store import iso, parse_iso
from jtl_automator.transforms.orders import sales_orders_frame


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def trackings(
    notifications: Sequence[OutboundShippingNotification],
) -> tuple[list[str], list[str], datetime | None]:
    """Tracking numbers and links of every package (each once), and the latest shipping date."""
    values: list[str] = []
    urls: list[str] = []
    shipped: datetime | None = None
    for notification in notifications:
        for package in notification.packages:
            for ident in package.identifier:
                value = _text(ident.get("value")) if isinstance(ident, Mapping) else None
                if value and value not in values:
                    values.append(value)
            if package.tracking_url and package.tracking_url not in urls:
                urls.append(package.tracking_url)
            if package.shipping_date and (shipped is None or package.shipping_date > shipped):
                shipped = package.shipping_date
    return values, urls, shipped


def _contact(order: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(e-mail, name, comment) of one Wawi order, read by the same rules as the import stage."""
    if not order:
        return None, None, None
    row = sales_orders_frame([order]).iloc[0]
    email, name, comment = (None if pd.isna(row[c]) else str(row[c]) for c in _CONTACT_COLUMNS)
    return email, name, comment


_CONTACT_COLUMNS = ("contact_email", "contact_name", "comment")
_LINKABLE = re.compile(r"https?://[^\s<>\"']+")


def sync_shipments(ctx: Context, *, start: datetime, now: datetime) -> tuple[list[Outcome], str]:
    """Record ``shipped`` (with tracking) for our outbounds that FFN reports Shipped since the watermark.

    Returns the outcomes and the watermark to store once everything is recorded.
    """
    mark = parse_iso(ctx.store.get_watermark(FFN_WATERMARK))
    overlap = timedelta(minutes=ctx.params.overlap_minutes)
    begin = mark - overlap if mark else start
    shipped: dict[str, Any] = {}
    for outbound in ctx.ffn.outbounds.updates(begin, now):
        if outbound.merchant_outbound_number and outbound.status == "Shipped":
            shipped[outbound.merchant_outbound_number] = outbound
    ledger_rows = ctx.store.orders(shipped)
    out: list[Outcome] = []
    journal = Journal(ctx)
    try:
        for number, outbound in shipped.items():
            record = ledger_rows.get(number)
            if record is None or record.status != "outbound_created" or record.wawi_order_id is None:
                continue
            if record.outbound_id not in (None, outbound.outbound_id):
                continue
            found, urls, shipped_at = trackings(
                ctx.ffn.outbounds.shipping_notifications(outbound.outbound_id)
            )
            tracking = ", ".join(found) or None
            out.append(
                Outcome(
                    number,
                    record.wawi_order_id,
                    "shipped",
                    outbound_id=outbound.outbound_id,
                    tracking=tracking,
                    warehouse_id=record.warehouse_id,
                )
            )
            if ctx.dry_run:
                continue
            email: str | None = None
            customer: str | None = None
            try:
                email, customer, comment = _contact(ctx.wawi.sales_orders.raw(record.wawi_order_id))
                line = f"shipped via FFN outbound {outbound.outbound_id}; tracking {tracking or 'none'}"
                body: dict[str, Any] = {"Comment": tagged_comment(comment, line)}
                if shipped_at is not None:
                    body["SalesOrderShippingDetail"] = {"ShippingDate": shipped_at.isoformat()}
                update_order(ctx.wawi, record.wawi_order_id, body)
            except ClientError as exc:
                out.append(Outcome(number, record.wawi_order_id, "writeback_failed", str(exc)))
                journal.add("writeback_failed", order_number=number, detail={"error": str(exc)[:2000]})
            journal.add(
                "shipped",
                order_number=number,
                status="shipped",
                tracking=tracking,
                detail={"outbound_id": outbound.outbound_id, "tracking": found, "tracking_urls": urls},
            )
            if ctx.notifier is not None:
                ctx.notifier.event(
                    f"order:{number}:shipped",
                    {
                        "event": "order.shipped",
                        "order_number": number,
                        "wawi_order_id": record.wawi_order_id,
                        "outbound_id": outbound.outbound_id,
                        "tracking": found,
                        "tracking_urls": urls,
                    },
                    recipients=[email] if email and ctx.params.notify_customers else (),
                    subject=ctx.params.shipped_subject.format(order_number=number),
                    markdown=shipped_markdown(number, customer, found, urls),
                )
    finally:
        journal.flush()
    return out, iso(now)


def shipped_markdown(number: str, customer: str | None, trackings: Sequence[str], urls: Sequence[str]) -> str:
    """The customer's shipping notice with tracking numbers and links."""
    greeting = f"Hello {markdown_text(customer)}," if customer else "Hello,"
    lines = [greeting, "", f"your order **{markdown_text(number)}** has shipped.", ""]
    lines += [f"- Tracking number: {markdown_text(t)}" for t in trackings] or [
        "- (no tracking number was reported)"
    ]
    # A link only for a plain http(s) URL; anything else is shown as text.
    lines += [
        f"- Track it: <{u}>" if _LINKABLE.fullmatch(u) else f"- Track it: {markdown_text(u)}" for u in urls
    ]
    return "\n".join(lines)
