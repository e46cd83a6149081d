"""Replenishment: restock plans per supplier, the Bestellvorschlag workbook and the low-stock list.

``output`` turns the lines of ``jtl_automator.transforms.replenishment`` into draft restock plans and an
Excel workbook; see docs/replenishment.md.
"""

from jtl_automator.services.replenishment.output import (
    ProposedPlan,
    propose_restock_plans,
    summary_rows,
    write_workbook,
)

__all__ = ["ProposedPlan", "propose_restock_plans", "summary_rows", "write_workbook"]
