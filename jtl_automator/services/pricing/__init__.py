"""The pricing flow as plain functions: read -> price -> write once -> propose plans -> workbook.

- ``params``: what the merchant configures beside the rule file, the rule file itself, shared names;
- ``reads``: Wawi's prices and what the rules match on (bulk where the API allows), FFN's stock and the
  demand for markdowns;
- the decisions are the pure transforms ``jtl_automator.transforms.pricing.price_frame`` and
  ``jtl_automator.transforms.markdown.markdown_frame``;
- ``write``: absolute prices claimed in the ledger, each written once with its history row;
- ``plans``: the day's ``price_change`` and ``markdown`` plans, and executing the approved ones;
- ``output``: the workbook, the tables and the summary;
- ``pipeline``: the sequence, defined once (``run_stages``), run by ``LocalStages`` and by the flow.
"""

from jtl_automator.services.pricing.output import summary_markdown
from jtl_automator.services.pricing.params import (
    DEFAULT_RULES_FILE,
    LEASE_NAME,
    LEDGER_KIND,
    MARKDOWN,
    PRICE_CHANGE,
    PricingParams,
    load_rules,
)
from jtl_automator.services.pricing.pipeline import (
    Computed,
    LocalStages,
    Stages,
    Streamed,
    compute,
    lease_keeper,
    markdown_writes,
    period_of,
    price_pages,
    proposals,
    read_special_setup,
    rule_writes,
    run_pricing,
    run_stages,
    skipped,
    workbook_path,
    write_run_workbook,
)
from jtl_automator.services.pricing.plans import ExecutedPlan, ProposedPlan, execute_approved_plans
from jtl_automator.services.pricing.reads import PriceInputs, load_price_inputs, stream_price_inputs, streams
from jtl_automator.services.pricing.write import (
    PriceWrite,
    WriteContext,
    WriteOutcome,
    settle_pending,
    write_prices,
)

__all__ = [
    "DEFAULT_RULES_FILE",
    "LEASE_NAME",
    "LEDGER_KIND",
    "MARKDOWN",
    "PRICE_CHANGE",
    "Computed",
    "ExecutedPlan",
    "LocalStages",
    "PriceInputs",
    "PriceWrite",
    "PricingParams",
    "ProposedPlan",
    "Stages",
    "Streamed",
    "WriteContext",
    "WriteOutcome",
    "compute",
    "execute_approved_plans",
    "lease_keeper",
    "load_price_inputs",
    "load_rules",
    "markdown_writes",
    "period_of",
    "price_pages",
    "proposals",
    "read_special_setup",
    "rule_writes",
    "run_pricing",
    "run_stages",
    "settle_pending",
    "skipped",
    "stream_price_inputs",
    "streams",
    "summary_markdown",
    "workbook_path",
    "write_prices",
    "write_run_workbook",
]
