"""Fill the Inbound Control sheet from executed plan lines, so the inbound verification checks them.

One row per executed line: SKU, units, Inbound = the ``merchantInboundNumber`` FFN holds its inbound
under (the purchase order number when the order goes to one warehouse; the verification looks an
inbound up by its id or that number), and the warehouse where the sheet has a Warehouse column. Status
and Note stay empty for the verification to write.

Exactly once without a ledger: the sheet is the record people edit, so its key columns are read again
right before the append, and a line already listed (its SKU with its inbound number or inbound id, in
its warehouse or with the warehouse cell left empty) is not appended again. A rerun, or a retry after a
lost answer, appends nothing. The header is found as the verification finds it
(:func:`~jtl_automator.services.inbound_sheet.read_inbound_sheet`), so a sheet the verification cannot
read is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jtl_automator.plans import LineKey, LineStatus, Plan, PlanError, PlanStore
from jtl_automator.resilience import TransientFailure
from jtl_automator.services.inbound_sheet import InboundSheet, SheetColumns, read_inbound_sheet
from jtl_automator.services.plan_execution.execute import LineOutcome
from jtl_automator.services.plan_execution.params import RESTOCK
from jtl_automator.sheets.a1 import CellValue, column_index
from jtl_automator.sheets.base import HeaderNotFound, SheetBackend, SheetError

#: The header of the warehouse column the fill writes to where the sheet has it and no other is named.
WAREHOUSE_HEADER = "Warehouse"
#: The key under which a line's ``execution`` records where it was listed.
RECORD_KEY = "inbound_control"


@dataclass(frozen=True)
class ControlRow:
    """One executed (or, in a dry run, to be executed) plan line as a row of the Inbound Control sheet."""

    plan_id: int
    sku: str
    units: int
    inbound: str  # merchantInboundNumber: what the row's Inbound cell says
    warehouse: str
    inbound_id: str | None = None  # a row naming the inbound by its id instead lists the same line

    @property
    def key(self) -> LineKey:
        """The plan line it comes from."""
        return LineKey(self.sku, self.warehouse)

    def as_row(self) -> dict[str, Any]:
        """A flat row for tables, artifacts and the command line."""
        return {
            "plan": self.plan_id,
            "sku": self.sku,
            "units": self.units,
            "inbound": self.inbound,
            "warehouse": self.warehouse,
        }


def executed_rows(plan: Plan, *, unlisted_only: bool = False) -> list[ControlRow]:
    """The plan's executed lines as rows; ``unlisted_only``: those no fill has recorded yet.

    Only restock plans: a transfer's or exchange's inbound is not a purchase the sheet checks.
    """
    if plan.kind != RESTOCK:
        return []
    rows = []
    for line in plan.lines:
        ref = line.execution
        if line.status is not LineStatus.EXECUTED or ref is None:
            continue
        extra = ref.extra or {}
        if unlisted_only and RECORD_KEY in extra:
            continue
        number = extra.get("merchant_inbound_number") or ref.inbound_id
        if number:
            rows.append(
                ControlRow(plan.id, line.sku, line.quantity, str(number), line.warehouse, ref.inbound_id)
            )
    return rows


def preview_rows(outcomes: Iterable[LineOutcome]) -> list[ControlRow]:
    """A dry run's lines that would be executed, as the rows they would become."""
    return [
        ControlRow(o.plan_id, o.sku, o.quantity, o.inbound_number, o.warehouse)
        for o in outcomes
        if o.status == "would_execute" and o.inbound_number
    ]


@dataclass(frozen=True)
class FillOutcome:
    """What a fill did (or in a dry run would do): rows appended, rows the sheet already had."""

    sheet: str
    worksheet: str
    dry_run: bool
    appended: tuple[ControlRow, ...]
    already: tuple[tuple[ControlRow, int], ...]  # with the sheet row that lists it
    first_row: int | None  # where the appended rows start (None: nothing appended, or not told)

    def summary_line(self) -> str:
        """``Inbound Control: 12 rows appended (3 already there)``."""
        there = f"({len(self.already)} already there)"
        if self.dry_run:
            return f"Inbound Control (dry run): {len(self.appended)} rows would be appended {there}"
        return f"Inbound Control: {len(self.appended)} rows appended {there}"

    def listed_at(self) -> list[tuple[ControlRow, int | None, bool]]:
        """Every line the sheet lists now: (row, its sheet row if known, appended by this fill)."""
        first = self.first_row
        appended = [(r, None if first is None else first + i, True) for i, r in enumerate(self.appended)]
        return [*appended, *((r, at, False) for r, at in self.already)]

    def as_dict(self) -> dict[str, Any]:
        """For the run's result and the artifacts."""
        return {
            "sheet": self.sheet,
            "worksheet": self.worksheet,
            "dry_run": self.dry_run,
            "appended": len(self.appended),
            "already_there": len(self.already),
            "first_row": self.first_row,
            "summary": self.summary_line(),
            "rows": [r.as_row() for r in self.appended],
        }


def _listed(sheet: InboundSheet, rows: Sequence[ControlRow]) -> dict[tuple[str, str, str], int]:
    """(SKU, inbound reference, warehouse or "") -> the first sheet row listing it, for the rows' SKUs only.

    Filtering by SKU first keeps a million-row sheet from becoming a million tuples.
    """
    frame = sheet.rows
    frame = frame.loc[frame["sku"].isin({r.sku for r in rows})]
    warehouses = frame["warehouse"] if "warehouse" in frame.columns else [""] * len(frame)
    found: dict[tuple[str, str, str], int] = {}
    for number, sku, inbound, warehouse in zip(
        frame["row_number"], frame["sku"], frame["inbound"], warehouses, strict=True
    ):
        found.setdefault((str(sku), str(inbound), str(warehouse)), int(number))
    return found


def _where_listed(row: ControlRow, listed: dict[tuple[str, str, str], int]) -> int | None:
    """The sheet row that already lists this line: its inbound by number or id, its warehouse or none."""
    for ref in filter(None, (row.inbound, row.inbound_id)):
        for warehouse in (row.warehouse, ""):
            at = listed.get((row.sku, ref, warehouse))
            if at is not None:
                return at
    return None


def _cells(sheet: InboundSheet, row: ControlRow) -> list[CellValue]:
    """The row from column A to its last key column; the other cells are left empty (None)."""
    values: dict[str, CellValue] = {"sku": row.sku, "units": row.units, "inbound": row.inbound}
    if "warehouse" in sheet.key_cols:
        values["warehouse"] = row.warehouse
    letters = {column_index(sheet.key_cols[role]): value for role, value in values.items()}
    return [letters.get(col) for col in range(1, max(letters) + 1)]


def fill_inbound_control(
    backend: SheetBackend,
    sheet: str,
    rows: Sequence[ControlRow],
    *,
    worksheet: str | None = None,
    columns: SheetColumns | None = None,
    dry_run: bool = False,
) -> FillOutcome:
    """Append the rows the sheet does not list yet, in one append; a dry run only says which.

    ``sheet`` names the sheet in the outcome (a spreadsheet id or a path). Raises the verification's
    :class:`~jtl_automator.sheets.base.SheetError` when the worksheet or a header is missing (the Inbound
    column included: the fill writes there), before anything is written.
    """
    layout = columns or SheetColumns()
    if layout.warehouse is None:  # optional for the verification; filled where the sheet has it
        layout = layout.model_copy(update={"warehouse": WAREHOUSE_HEADER})
    read = read_inbound_sheet(backend, worksheet, layout)
    if "inbound" not in read.key_cols:
        raise HeaderNotFound(
            [f"{layout.inbound or 'Inbound'} (the fill writes the inbound number there)"],
            read.worksheet,
            read.header_row,
        )
    listed = _listed(read, rows)
    new: list[ControlRow] = []
    already: list[tuple[ControlRow, int]] = []
    for row in dict.fromkeys(rows):  # the same line given twice is one row
        at = _where_listed(row, listed)
        if at is not None:
            already.append((row, at))
        else:
            new.append(row)
    first_row = None
    if new and not dry_run:
        first_row = backend.append_rows(read.worksheet, [_cells(read, r) for r in new]) or None
    return FillOutcome(sheet, read.worksheet, dry_run, tuple(new), tuple(already), first_row)


def record_fill(plans: PlanStore, outcome: FillOutcome, at: datetime) -> None:
    """Note on each listed line where the sheet lists it (appended now, or found there)."""
    if outcome.dry_run:
        return
    notes: dict[int, dict[LineKey, dict[str, Any]]] = {}
    for row, sheet_row, appended in outcome.listed_at():
        entry = {
            "sheet": outcome.sheet,
            "worksheet": outcome.worksheet,
            "row": sheet_row,
            "appended": appended,
            "at": at.isoformat(timespec="seconds"),
        }
        notes.setdefault(row.plan_id, {})[row.key] = {RECORD_KEY: entry}
    for plan_id, lines in notes.items():
        plans.annotate_execution(plan_id, lines)


class InboundControlNotFilled(SheetError):
    """The sheet could not be filled; the execution stands, and the message says how to fill it later."""

    def __init__(self, cause: SheetError, sheet: str, plan_ids: Sequence[int]) -> None:
        ids = " ".join(str(i) for i in plan_ids) or "ID"
        why = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        super().__init__(
            f"Inbound Control not filled: {why}. "
            f"The plans were executed; once the sheet is fixed, list their lines with: jtl-automator plans "
            f"fill-inbound-control {ids} --sheet {sheet}"
        )
        self.plan_ids = tuple(plan_ids)


@dataclass(frozen=True)
class InboundControlTarget:
    """Which sheet to fill and how to read it (the verification's defaults when not given)."""

    backend: SheetBackend
    sheet: str  # the spreadsheet id or workbook path, as the person gave it
    worksheet: str | None = None
    columns: SheetColumns | None = None


def _fill(
    target: InboundControlTarget, rows: Sequence[ControlRow], plan_ids: Sequence[int], *, dry_run: bool
) -> FillOutcome:
    try:
        return fill_inbound_control(
            target.backend,
            target.sheet,
            rows,
            worksheet=target.worksheet,
            columns=target.columns,
            dry_run=dry_run,
        )
    except SheetError as exc:
        if isinstance(exc, TransientFailure):
            raise  # a later attempt may get through (the task retries it)
        raise InboundControlNotFilled(exc, target.sheet, plan_ids) from exc


def fill_after_run(
    plans: PlanStore,
    target: InboundControlTarget,
    outcomes: Sequence[LineOutcome],
    *,
    dry_run: bool,
    at: datetime,
) -> FillOutcome:
    """After a run: list the executed lines of the plans it touched that no fill has listed yet.

    A dry run lists what its lines would become. Lines listed before (their ``execution`` says so) are not
    offered again, so a row someone removed from the sheet on purpose does not come back with the next
    run of a plan that still has waiting lines.
    """
    plan_ids = sorted({o.plan_id for o in outcomes})
    if dry_run:
        rows = preview_rows(outcomes)
    else:
        rows = [row for pid in plan_ids for row in executed_rows(plans.get(pid), unlisted_only=True)]
    if not rows:  # most runs: nothing executed, so the sheet is not even read (Google counts reads)
        return FillOutcome(target.sheet, target.worksheet or "", dry_run, (), (), None)
    outcome = _fill(target, rows, plan_ids, dry_run=dry_run)
    record_fill(plans, outcome, at)
    return outcome


def fill_plans(
    plans: PlanStore, target: InboundControlTarget, plan_ids: Sequence[int], *, dry_run: bool, at: datetime
) -> FillOutcome:
    """Every executed line of these plans (executed earlier), except what the sheet already lists.

    A plan without an executed line is refused (PlanError) before the sheet is read.
    """
    rows: list[ControlRow] = []
    for pid in plan_ids:
        plan = plans.get(pid)
        found = executed_rows(plan)
        if not found:
            raise PlanError(f"{plan.describe()} has no executed lines (it is {plan.status}): nothing to list")
        rows += found
    outcome = _fill(target, rows, plan_ids, dry_run=dry_run)
    record_fill(plans, outcome, at)
    return outcome
