"""Executing approved plans, each side effect exactly once.

Restock plans become a purchase order, a supplier e-mail and FFN inbounds; the movement kinds (rebalance,
supplier return and exchange) FFN outbounds and inbounds, or an export for a person.


- ``params``: what the merchant configures, the ledger kinds and the lease name;
- ``document``: the purchase order record, its xlsx and the e-mail text in the supplier's language;
- ``execute``: plan by plan, order by order, every side effect claimed in the ledger first;
- ``movements``: rebalance, supplier return and exchange plans as FFN shipments (or an .xlsx export);
- ``inbound_control``: the executed lines as rows of the Inbound Control sheet, each listed once;
- ``pipeline``: one run (lease, plans, summary) without Prefect.

See docs/plan-execution.md.
"""

from jtl_automator.notify.mail import AttachmentMailer
from jtl_automator.services.ffn_once import find_inbound
from jtl_automator.services.plan_execution.document import (
    OrderLine,
    PurchaseOrderDoc,
    SupplierInfo,
    xlsx_bytes,
)
from jtl_automator.services.plan_execution.execute import (
    ExecutionContext,
    LineOutcome,
    MissingWawiScope,
    plans_to_execute,
    po_number,
)
from jtl_automator.services.plan_execution.inbound_control import (
    ControlRow,
    FillOutcome,
    InboundControlNotFilled,
    InboundControlTarget,
    executed_rows,
    fill_after_run,
    fill_inbound_control,
    fill_plans,
)
from jtl_automator.services.plan_execution.params import LEASE_NAME, PlanExecutionParams
from jtl_automator.services.plan_execution.pipeline import (
    LEASE_HELD,
    lease_keeper,
    run_plan_execution,
    skipped,
    summary,
    summary_markdown,
)
from jtl_automator.services.plan_execution.runner import execute_plan, execute_plans

__all__ = [
    "LEASE_HELD",
    "LEASE_NAME",
    "AttachmentMailer",
    "ControlRow",
    "ExecutionContext",
    "FillOutcome",
    "InboundControlNotFilled",
    "InboundControlTarget",
    "LineOutcome",
    "MissingWawiScope",
    "OrderLine",
    "PlanExecutionParams",
    "PurchaseOrderDoc",
    "SupplierInfo",
    "execute_plan",
    "execute_plans",
    "executed_rows",
    "fill_after_run",
    "fill_inbound_control",
    "fill_plans",
    "find_inbound",
    "lease_keeper",
    "plans_to_execute",
    "po_number",
    "run_plan_execution",
    "skipped",
    "summary",
    "summary_markdown",
    "xlsx_bytes",
]
