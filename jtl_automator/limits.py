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

#: A plan kind's name (``restock``, ``markdown``, …): a short identifier.
PLAN_KIND_MAX = 50
#: A plan's period (``2026-W48``, ``2026-11``, ``2026-11-26``): what the caller groups runs by.
PLAN_PERIOD_MAX = 64
#: Who approved or cancelled a plan: a person's or a run's name.
PERSON_MAX = 200
#: A plan line's SKU and warehouse are FFN's identifiers (merchantSku, warehouseId).
PLAN_LINE_KEY_MAX = FFN_TEXT_MAX
#: What executing a line created: a Wawi purchase order number, an FFN inbound id.
EXECUTION_REF_MAX = FFN_TEXT_MAX
#: A plan line's unit price: 15 significant digits, 4 of them decimals. SQLite keeps NUMERIC as a
#: double, which holds 15 significant digits exactly; a wider price would come back rounded there and
#: exact on PostgreSQL.
PRICE_DIGITS = 15
PRICE_DECIMALS = 4
#: A price target: ``base``, ``special`` or ``<sales channel>/<customer group>`` (a channel id is short).
PRICE_TARGET_MAX = 100
#: A price rule's name (the rule file allows 100 characters) or a markdown strategy.
PRICE_RULE_MAX = 100

#: A report's name (``daily``, ``weekly``, ``monthly``) and a KPI's key (``revenue_net``).
REPORT_NAME_MAX = 50
KPI_NAME_MAX = 100

#: The event gateway: a source's name (a path segment), an event type (``order.held``), the sender's event id.
GATEWAY_SOURCE_MAX = 64
GATEWAY_TYPE_MAX = 100
GATEWAY_EVENT_ID_MAX = 200
#: A workflow's name (a slug), a node's id and an action's name in a workflow document.
WORKFLOW_NAME_MAX = 100
WORKFLOW_NODE_MAX = 64
WORKFLOW_ACTION_MAX = 100
#: What fired a run, once per entity per change (``stock_changed:SKU@W1:<change>``); with the workflow's
#: name, version and node it makes a step's side-effect key, which must fit SIDE_EFFECT_KEY_MAX.
WORKFLOW_TRIGGER_KEY_MAX = 300
#: Where a workflow was loaded from (a file path).
WORKFLOW_SOURCE_MAX = 1000

#: The shop sync check's incidents: a kind (``stuck_order``, ``stale_stock``, …) and its key (an order
#: number, a SKU with a shop warehouse or a customer group: a SKU of FFN_TEXT_MAX plus a short suffix).
SHOP_INCIDENT_KIND_MAX = 30
SHOP_INCIDENT_KEY_MAX = FFN_TEXT_MAX + 45
