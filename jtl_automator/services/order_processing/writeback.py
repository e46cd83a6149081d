"""What the run writes into a Wawi sales order: one tagged status line in ``Comment``, and the hold.

People's own lines in the comment stay; only our line (it starts with ``TAG``) is replaced. Our PATCH
bodies set absolute values only (hold reason, comment, shipping date), so sending one again after a 5xx
or a lost answer leaves the order exactly as one successful PATCH would: the client may repeat it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import SalesOrder
from jtl_automator.services.order_processing.params import TAG

_COMMENT_LINE_MAX = 1000


def tagged_comment(existing: str | None, line: str) -> str:
    """The order's Comment with our one status line replaced; what people wrote there stays."""
    kept = [text for text in (existing or "").splitlines() if not text.startswith(TAG)]
    line = " ".join(line.split())[:_COMMENT_LINE_MAX]
    return "\n".join([*kept, f"{TAG} {line}"])


def has_tag(comment: Any) -> bool:
    """Whether the comment carries our status line (a hold without it was set by a person)."""
    return isinstance(comment, str) and any(text.startswith(TAG) for text in comment.splitlines())


class HoldKept(ValueError):
    """Wawi answered the release with the order still on hold: the release value does not clear it there."""


def update_order(wawi: WawiClient, order_id: int, body: Mapping[str, Any]) -> SalesOrder | None:
    """PATCH with the client's retry for idempotent bodies (ours only set absolute values)."""
    return wawi.sales_orders.update(order_id, body, idempotent=True)


def patch_order(wawi: WawiClient, order_id: int, hold_id: int | None, comment: str) -> None:
    """Write our comment line and, when given, the on-hold reason."""
    body: dict[str, Any] = {"Comment": comment}
    if hold_id is not None:
        body["SalesOrderShippingDetail"] = {"OnHoldReasonId": hold_id}
    update_order(wawi, order_id, body)


def release_order(wawi: WawiClient, order_id: int, release_value: int | None, comment: str) -> None:
    """Clear the on-hold reason (with the merchant's ``hold_release_value``) and check that it cleared.

    The spec documents no way to clear ``OnHoldReasonId``: a Wawi whose binder ignores nulls keeps a hold
    sent as null, one that validates reason ids may refuse 0. Wawi answers the PATCH with the order, so
    the release is checked instead of assumed; :class:`HoldKept` says which setting to try.
    """
    body = {"Comment": comment, "SalesOrderShippingDetail": {"OnHoldReasonId": release_value}}
    updated = update_order(wawi, order_id, body)
    detail = updated.sales_order_shipping_detail if updated is not None else None
    if detail is not None and detail.on_hold_reason_id not in (None, 0):
        raise HoldKept(
            f"Wawi kept on-hold reason {detail.on_hold_reason_id} after OnHoldReasonId "
            f"{'null' if release_value is None else release_value} was sent; set hold_release_value to "
            f"{'0' if release_value is None else 'null'} (params) if this Wawi clears holds that way"
        )
