"""Lengths the systems agree on, in one place: the API validation, the order rules and the state database.

JTL-FFN's spec gives identifiers (merchantOutboundNumber, merchantSku, outboundId, warehouseId, …) at
most 255 characters. A Wawi order number longer than that can never become an outbound, so the order
rules refuse it as an item (ORDER_NUMBER_TOO_LONG) and the state database's columns are sized to hold
every value the rules let through: PostgreSQL enforces column lengths, SQLite does not, and a value
that only PostgreSQL refuses would fail a whole run there while every test on SQLite passed.
"""

from __future__ import annotations

#: FFN's maxLength for identifiers and names (OpenAPI: 255).
FFN_TEXT_MAX = 255
#: The longest order number the order ledger keys on (the same as FFN's merchantOutboundNumber).
ORDER_NUMBER_MAX = FFN_TEXT_MAX
#: Idempotency keys: a prefix, an order number, an event and a channel.
SIDE_EFFECT_KEY_MAX = 512
#: An inbound check's row key: SKU, inbound reference and warehouse, each at most FFN_TEXT_MAX, joined by "|".
ROW_KEY_MAX = 3 * FFN_TEXT_MAX + 2
