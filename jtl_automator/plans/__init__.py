"""Plans: item lines a person reviews and approves, which the project then executes once.

One concept for restock (inventory), markdown (pricing) and the declarative workflows' rebalance,
supplier return and supplier exchange; see docs/plans.md.
"""

from jtl_automator.plans.model import (
    TRANSITIONS,
    ExecutionRef,
    IllegalTransition,
    LineKey,
    LineStatus,
    NewLine,
    Opened,
    Plan,
    PlanError,
    PlanKind,
    PlanLine,
    PlanNotEditable,
    PlanNotFound,
    PlanScope,
    PlanStatus,
    UnknownLines,
    UnknownPlanKind,
    iso_week,
    plan_kind,
    plan_kinds,
    register_plan_kind,
)
from jtl_automator.plans.store import PlanStore

__all__ = [
    "TRANSITIONS",
    "ExecutionRef",
    "IllegalTransition",
    "LineKey",
    "LineStatus",
    "NewLine",
    "Opened",
    "Plan",
    "PlanError",
    "PlanKind",
    "PlanLine",
    "PlanNotEditable",
    "PlanNotFound",
    "PlanScope",
    "PlanStatus",
    "PlanStore",
    "UnknownLines",
    "UnknownPlanKind",
    "iso_week",
    "plan_kind",
    "plan_kinds",
    "register_plan_kind",
]
