"""Order processing as plain functions: import -> lookups -> plan -> fulfil -> ship -> report, exactly once.

One module per stage, read in this order:

- ``params``: what the merchant configures, and the names every stage shares;
- ``importer``: Wawi orders since the watermark, read once into the orders and lines frames;
- ``lookups``: catalogue, stock, existing outbounds and on-hold reasons, each in bulk;
- ``planning``: one decision per order (pure);
- ``fulfilment``: holds in Wawi, outbounds in FFN, exactly once (the claim/lookup design is there);
- ``shipping``: tracking from FFN's updates feed back to the ledger, Wawi and the customer;
- ``report``: outcomes counted and rendered;
- ``pipeline``: the sequence, defined once (``run_stages``), run without Prefect by ``LocalStages`` and
  by the flow through ``tasks.order_processing.TaskStages``.
"""

from jtl_automator.notify.notifier import Notifier
from jtl_automator.services.order_processing.amendments import amend_outbounds
from jtl_automator.services.order_processing.changes import Change, detect_changes
from jtl_automator.services.order_processing.fulfilment import Context, Journal, apply_actions
from jtl_automator.services.order_processing.importer import ImportedBatch, import_orders, import_window
from jtl_automator.services.order_processing.lookups import FulfilmentData, load_fulfilment_data
from jtl_automator.services.order_processing.params import (
    DELIVERED_ELSEWHERE,
    FFN_WATERMARK,
    LEASE_NAME,
    TAG,
    WAWI_WATERMARK,
    ConfigurationError,
    OrderProcessingParams,
)
from jtl_automator.services.order_processing.pipeline import (
    LocalStages,
    Stages,
    alert_lease_stuck,
    finish,
    lease_keeper,
    run_order_processing,
    run_stages,
)
from jtl_automator.services.order_processing.planning import Action, Plan, plan_orders
from jtl_automator.services.order_processing.report import (
    Outcome,
    held_table,
    skipped,
    summary,
    summary_markdown,
)
from jtl_automator.services.order_processing.shipping import sync_shipments
from jtl_automator.services.order_processing.writeback import tagged_comment
from jtl_automator.store.lease_keeper import LeaseLost

__all__ = [
    "DELIVERED_ELSEWHERE",
    "FFN_WATERMARK",
    "LEASE_NAME",
    "TAG",
    "WAWI_WATERMARK",
    "Action",
    "Change",
    "ConfigurationError",
    "Context",
    "FulfilmentData",
    "ImportedBatch",
    "Journal",
    "LeaseLost",
    "LocalStages",
    "Notifier",
    "OrderProcessingParams",
    "Outcome",
    "Plan",
    "Stages",
    "alert_lease_stuck",
    "amend_outbounds",
    "apply_actions",
    "detect_changes",
    "finish",
    "held_table",
    "import_orders",
    "import_window",
    "lease_keeper",
    "load_fulfilment_data",
    "plan_orders",
    "run_order_processing",
    "run_stages",
    "skipped",
    "summary",
    "summary_markdown",
    "sync_shipments",
    "tagged_comment",
]
