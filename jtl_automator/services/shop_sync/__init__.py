"""Shop sync check as plain functions: read (shop and Wawi) -> evaluate -> record -> alert -> report.

- ``params``: what the merchant configures (grace period, thresholds, tolerances, warehouse map, ...);
- ``reads``: the shop's orders by cursor with their carts and every product page; Wawi's orders by
  external number, items, stock rows and the channel prices that are needed; each side failing on its own;
  Wawi's reads that need nothing from the shop beside the shop's, the others as soon as the shop answered;
- ``evaluate``: the pure comparisons (``jtl_automator.transforms.shop_sync``) and the incident plan
  (``jtl_automator.transforms.shop_incidents``), only for what both sides were read for;
- ``record``: the history in the state database, and the alerts (once raised, once cleared);
- ``report``: the summary, the table and the markdown;
- ``pipeline``: the sequence, defined once (``run_stages``), run by ``LocalStages`` and by the flow.
"""

from jtl_automator.services.shop_sync.evaluate import Evaluation, evaluate
from jtl_automator.services.shop_sync.params import ShopSyncParams
from jtl_automator.services.shop_sync.pipeline import (
    LocalStages,
    Stages,
    run_shop_sync_check,
    run_stages,
)
from jtl_automator.services.shop_sync.reads import ShopInputs, ShopReader, WawiInputs, read_inputs
from jtl_automator.services.shop_sync.record import Recorded, alert, alert_message, record
from jtl_automator.services.shop_sync.report import current_incidents, summary, summary_markdown, table_rows

__all__ = [
    "Evaluation",
    "LocalStages",
    "Recorded",
    "ShopInputs",
    "ShopReader",
    "ShopSyncParams",
    "Stages",
    "WawiInputs",
    "alert",
    "alert_message",
    "current_incidents",
    "evaluate",
    "read_inputs",
    "record",
    "run_shop_sync_check",
    "run_stages",
    "summary",
    "summary_markdown",
    "table_rows",
]
