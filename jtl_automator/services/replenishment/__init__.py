"""Replenishment: what to reorder from which supplier and why, as draft restock plans and a workbook.

``reads`` fetches the FFN and Wawi data, ``output`` turns the lines of
``jtl_automator.transforms.replenishment`` into draft restock plans, the Bestellvorschlag workbook and
the summary rows, and ``pipeline`` runs the stages in order; see docs/replenishment.md.
"""

from jtl_automator.services.replenishment.output import (
    ProposedPlan,
    propose_restock_plans,
    summary_rows,
    workbook_tabs,
    write_workbook,
)
from jtl_automator.services.replenishment.pipeline import (
    LocalStages,
    Stages,
    compute_lines,
    run_replenishment,
    run_stages,
    summary,
    summary_markdown,
    table_rows,
    workbook_path,
)
from jtl_automator.services.replenishment.reads import (
    ReplenishmentInputs,
    ReplenishmentRunParams,
    history_window,
    load_inputs,
    local_today,
)

__all__ = [
    "LocalStages",
    "ProposedPlan",
    "ReplenishmentInputs",
    "ReplenishmentRunParams",
    "Stages",
    "compute_lines",
    "history_window",
    "load_inputs",
    "local_today",
    "propose_restock_plans",
    "run_replenishment",
    "run_stages",
    "summary",
    "summary_markdown",
    "summary_rows",
    "table_rows",
    "workbook_path",
    "workbook_tabs",
    "write_workbook",
]
