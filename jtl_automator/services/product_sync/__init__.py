"""Product master sync Wawi -> FFN as plain functions: settle, read, plan, write, report; exactly once.

- ``params``: what the merchant configures, and the names the stages share;
- ``reads``: Wawi items (all, or changed since the watermark), manufacturers, packaging units and the FFN
  products, in bulk;
- the plan is the pure transform ``jtl_automator.transforms.product_sync.plan_product_sync``, made chunk by
  chunk (``plan_items``) as the supplier rows arrive;
- ``apply``: each product created exactly once (ledger claim before the POST, lookup by merchantSku after a
  lost answer), updates as absolute PATCHes, authorisations for the fulfillers;
- ``chunks``: the per-item supplier reads, the plan and the writes overlapped chunk by chunk;
- ``report``: the summary, its markdown and the diff workbook;
- ``pipeline``: the sequence, defined once (``run_stages``), run by ``LocalStages`` and by the flow.
"""

from jtl_automator.services.product_sync.apply import (
    ADOPTED,
    CREATED,
    NOT_RECREATED,
    REJECTED,
    UPDATED,
    ApplyContext,
    Outcome,
    authorize,
    fulfillers_of,
    settle_pending,
)
from jtl_automator.services.product_sync.chunks import ChunkDone, SyncResult, read_plan_write
from jtl_automator.services.product_sync.params import (
    AUTH_KIND,
    KIND,
    LEASE_NAME,
    WATERMARK,
    ProductSyncParams,
    authorization_key,
    creation_key,
)
from jtl_automator.services.product_sync.pipeline import (
    LocalStages,
    Stages,
    lease_keeper,
    report_workbook,
    run_product_sync,
    run_stages,
    workbook_path,
)
from jtl_automator.services.product_sync.reads import SyncInputs, load_inputs
from jtl_automator.services.product_sync.report import (
    skipped,
    summary,
    summary_markdown,
    write_diff_workbook,
)

__all__ = [
    "ADOPTED",
    "AUTH_KIND",
    "CREATED",
    "KIND",
    "LEASE_NAME",
    "NOT_RECREATED",
    "REJECTED",
    "UPDATED",
    "WATERMARK",
    "ApplyContext",
    "ChunkDone",
    "LocalStages",
    "Outcome",
    "ProductSyncParams",
    "Stages",
    "SyncInputs",
    "SyncResult",
    "authorization_key",
    "authorize",
    "creation_key",
    "fulfillers_of",
    "lease_keeper",
    "load_inputs",
    "read_plan_write",
    "report_workbook",
    "run_product_sync",
    "run_stages",
    "settle_pending",
    "skipped",
    "summary",
    "summary_markdown",
    "workbook_path",
    "write_diff_workbook",
]
