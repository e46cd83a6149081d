"""Stock sync FFN -> Wawi as plain functions: settle -> read -> plan -> apply -> report, exactly once.

- ``params``: what the merchant configures, and the names the stages share;
- ``reads``: FFN stock (all of it, or the change feed since the watermark) and Wawi items and stock;
- ``items``: an incremental run with few changed items reads, plans and adjusts each SKU on its own;
- the plan is the pure transform ``jtl_automator.transforms.stock_sync.plan_stock_adjustments``;
- ``apply``: Wawi's delta endpoint made exactly once (intent before the call, re-read after a lost answer);
- ``report``: the summary and its tables;
- ``pipeline``: the sequence, defined once (``run_stages``), run by ``LocalStages`` and by the flow.
"""

from jtl_automator.services.stock_sync.apply import (
    ApplyContext,
    Outcome,
    apply_adjustments,
    intent_key,
    settle_pending,
)
from jtl_automator.services.stock_sync.items import Synced, sync_items
from jtl_automator.services.stock_sync.params import KIND, LEASE_NAME, WATERMARK, StockSyncParams
from jtl_automator.services.stock_sync.pipeline import (
    LocalStages,
    Stages,
    lease_keeper,
    plan_params,
    run_stages,
    run_stock_sync,
)
from jtl_automator.services.stock_sync.reads import SyncInputs, load_inputs, wawi_level
from jtl_automator.services.stock_sync.report import skipped, summary, summary_markdown

__all__ = [
    "KIND",
    "LEASE_NAME",
    "WATERMARK",
    "ApplyContext",
    "LocalStages",
    "Outcome",
    "Stages",
    "StockSyncParams",
    "SyncInputs",
    "Synced",
    "apply_adjustments",
    "intent_key",
    "lease_keeper",
    "load_inputs",
    "plan_params",
    "run_stages",
    "run_stock_sync",
    "settle_pending",
    "skipped",
    "summary",
    "summary_markdown",
    "sync_items",
    "wawi_level",
]
