"""What the run writes into a Wawi sales order: one tagged status line in ``Comment``, and the hold.

People's own lines in the comment stay; only our line (it starts with ``TAG``) is replaced. Our PATCH
bodies set absolute values only (hold reason, comment, shipping date), so sending one again after a 5xx
or a lost answer leaves the order exactly as one successful PATCH would: the client may repeat it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jtl_automator.clients.wawi.client import WawiClient
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


def update_order(wawi: WawiClient, order_id: int, body: Mapping[str, Any]) -> None:
    """PATCH with the client's retry for idempotent bodies (ours only set absolute values)."""
    wawi.sales_orders.update(order_id, body, idempotent=True)


def patch_order(wawi: WawiClient, order_id: int, hold_id: int | None, comment: str) -> None:
    """Write our comment line and, when given, the on-hold reason (0 releases a hold)."""
    body: dict[str, Any] = {"Comment": comment}
    if hold_id is not None:
        body["SalesOrderShippingDetail"] = {"OnHoldReasonId": hold_id}
    update_order(wawi, order_id, body)
