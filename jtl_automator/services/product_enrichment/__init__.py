"""Product enrichment as plain functions: feed -> read -> plan -> write -> report, each write exactly once.

- ``params``: what the merchant configures, and the names the stages share;
- ``sources``: the supplier's feed (CSV, workbook or Google Sheet) as a grid, with its fingerprint;
- ``reads``: Wawi's catalogue (items, categories; suppliers, images, properties, makers as needed);
- the decisions are the pure transforms ``product_feed``, ``product_enrichment``, ``categorisation`` and
  ``product_quality`` in ``jtl_automator.transforms``;
- ``apply``: fills (``PATCH /items/{id}``) and category assignments, claimed in the ledger first;
- ``report``: the workbook and the summary;
- ``pipeline``: the sequence, defined once (``run_stages``), run by ``LocalStages`` and by the flow.
"""

from jtl_automator.services.product_enrichment.apply import (
    ApplyContext,
    WriteOutcome,
    apply_assignments,
    apply_fills,
    settle_pending,
)
from jtl_automator.services.product_enrichment.params import (
    CATEGORY_KIND,
    FILL_KIND,
    LEASE_NAME,
    ProductEnrichmentParams,
)
from jtl_automator.services.product_enrichment.pipeline import (
    Config,
    LocalStages,
    Plan,
    Request,
    Stages,
    feed_mark,
    lease_keeper,
    load_config,
    needs,
    plan_run,
    run_product_enrichment,
    run_stages,
    workbook_path,
    write_report,
)
from jtl_automator.services.product_enrichment.reads import Catalogue, Needs, load_catalogue
from jtl_automator.services.product_enrichment.report import summary_markdown
from jtl_automator.services.product_enrichment.sources import FeedRead, read_feed

__all__ = [
    "CATEGORY_KIND",
    "FILL_KIND",
    "LEASE_NAME",
    "ApplyContext",
    "Catalogue",
    "Config",
    "FeedRead",
    "LocalStages",
    "Needs",
    "Plan",
    "ProductEnrichmentParams",
    "Request",
    "Stages",
    "WriteOutcome",
    "apply_assignments",
    "apply_fills",
    "feed_mark",
    "lease_keeper",
    "load_catalogue",
    "load_config",
    "needs",
    "plan_run",
    "read_feed",
    "run_product_enrichment",
    "run_stages",
    "settle_pending",
    "summary_markdown",
    "workbook_path",
    "write_report",
]
