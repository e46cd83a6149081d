"""Reading the ``Freigabe (x)`` marks of a Bestellvorschlag back into the restock plans.

A person ticks lines in the workbook (or the Google Sheet) instead of typing ``plans approve``. Every
supplier row carries its plan id, SKU and warehouse, so a mark names exactly one plan line; a row whose
plan is no longer open, or whose line the plan no longer has, is reported and never matched to something
similar. Lines already approved are skipped, so reading the same sheet twice approves nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jtl_automator.plans import LineKey, Plan, PlanNotFound, PlanStatus, PlanStore
from jtl_automator.services.replenishment.output import APPROVAL_HEADER, PLAN_HEADER
from jtl_automator.sheets.base import SheetBackend, header_key

#: Marks that approve a line (compared case-insensitively, trimmed). Anything else non-empty is reported:
#: "nein", "später" or "?" must not approve by accident.
APPROVING_MARKS = frozenset({"x", "✓", "✔", "ja", "j", "yes", "y", "1", "ok", "true", "wahr"})
_KEY_HEADERS = ("SKU", "Warehouse", PLAN_HEADER, APPROVAL_HEADER)
_OPEN = (PlanStatus.DRAFT, PlanStatus.APPROVED)


@dataclass(frozen=True)
class ApprovalRow:
    """One marked supplier row as read: where it is, the line it names and the mark."""

    tab: str
    row: int
    plan: str
    sku: str
    warehouse: str
    mark: str

    @property
    def where(self) -> str:
        """``tab 'Acme' row 5``: how a problem points at the cell to fix."""
        return f"tab {self.tab!r} row {self.row}"


@dataclass
class Approvals:
    """The lines to approve per plan (in sheet order) and one message per row that was not taken."""

    to_approve: dict[int, list[LineKey]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_approval_rows(backend: SheetBackend) -> list[ApprovalRow]:
    """Every row with a non-empty ``Freigabe (x)`` cell, from every tab whose first row has the headers.

    Tabs without them (low stock, not orderable, a person's notes) are skipped; one read per tab.
    """
    found: list[ApprovalRow] = []
    wanted = [header_key(h) for h in _KEY_HEADERS]
    for tab in backend.worksheet_names():
        grid = backend.read_grid(tab)
        if not grid:
            continue
        header = [header_key(cell) for cell in grid[0]]
        if not all(w in header for w in wanted):
            continue
        sku, warehouse, plan, mark = (header.index(w) for w in wanted)
        for number, cells in enumerate(grid[1:], start=2):

            def cell(index: int, cells: list[str] = cells) -> str:
                return cells[index].strip() if index < len(cells) else ""

            if cell(mark):
                found.append(ApprovalRow(tab, number, cell(plan), cell(sku), cell(warehouse), cell(mark)))
    return found


def approvals_from_rows(rows: Sequence[ApprovalRow], plans: Mapping[int, Plan | None]) -> Approvals:
    """Which proposed lines the marks approve, per plan; every other marked row as a problem.

    ``plans`` maps each plan id the rows name to the plan with its lines (``None``: not found). Lines
    already approved or executed are left out without a problem: that is what makes a re-run a no-op.
    """
    result = Approvals()
    seen: set[tuple[int, LineKey]] = set()
    for row in rows:
        if row.mark.casefold() not in APPROVING_MARKS:
            result.problems.append(
                f"{row.where}: mark {row.mark!r} is not an approval (use x, ja or yes); "
                f"{row.sku} not approved"
            )
            continue
        if not row.plan.isdigit():
            result.problems.append(
                f"{row.where}: no plan id (a dry run's workbook cannot approve); {row.sku} not approved"
            )
            continue
        plan_id = int(row.plan)
        plan = plans.get(plan_id)
        if plan is None:
            result.problems.append(f"{row.where}: plan {plan_id} does not exist; {row.sku} not approved")
            continue
        if plan.status not in _OPEN:
            result.problems.append(
                f"{row.where}: {plan.describe()} is {plan.status.value}, no longer open for approval; "
                f"{row.sku} not approved"
            )
            continue
        key = LineKey(row.sku, row.warehouse)
        line = next((line for line in plan.lines if line.key == key), None)
        if line is None:
            result.problems.append(
                f"{row.where}: {plan.describe()} has no line {key} (any more); not approved"
            )
            continue
        if line.approved or (plan_id, key) in seen:
            continue
        seen.add((plan_id, key))
        result.to_approve.setdefault(plan_id, []).append(key)
    return result


def load_plans(store: PlanStore, rows: Sequence[ApprovalRow]) -> dict[int, Plan | None]:
    """The plans the rows name, with their lines (``None`` for an id the database does not know)."""
    plans: dict[int, Plan | None] = {}
    for plan_id in sorted({int(r.plan) for r in rows if r.plan.isdigit()}):
        try:
            plans[plan_id] = store.get(plan_id)
        except PlanNotFound:
            plans[plan_id] = None
    return plans


@dataclass(frozen=True)
class Applied:
    """What one read-back did: the plans after approval and the lines approved, and the problems."""

    approved: list[tuple[Plan, list[LineKey]]]
    problems: list[str]


def approve_from_sheet(backend: SheetBackend, store: PlanStore, by: str) -> Applied:
    """Read the marks and approve exactly those lines through ``PlanStore.approve`` (one call per plan)."""
    rows = read_approval_rows(backend)
    approvals = approvals_from_rows(rows, load_plans(store, rows))
    done = [(store.approve(pid, by, keys), keys) for pid, keys in approvals.to_approve.items()]
    return Applied(done, approvals.problems)
