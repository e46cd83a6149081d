"""Plans in the state database: create-or-get, lines, approval, execution, listing.

Every step that changes a plan first locks its row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
transactions are serialised by the store), so a job adding lines, a person approving and a run
starting the execution never interleave: whatever happens first decides what the others may do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jtl_automator.plans.model import (
    ExecutionRef,
    IllegalTransition,
    LineKey,
    LineStatus,
    NewLine,
    Opened,
    Plan,
    PlanError,
    PlanLine,
    PlanNotEditable,
    PlanNotFound,
    PlanScope,
    PlanStatus,
    UnknownLines,
    can_move,
    check_period,
    check_person,
    plan_kind,
)
from jtl_automator.store.models import PlanLineRow, PlanRow, utcnow
from jtl_automator.store.store import StateStore

_NOTE_MAX = 2000

#: What to tell a person who tries a step the plan's status does not allow.
_HINTS: dict[PlanStatus, str] = {
    PlanStatus.DRAFT: "approve it first (jtl-automator plans approve ID)",
    PlanStatus.APPROVED: "its execution has not started (mark it executing first)",
    PlanStatus.EXECUTING: "wait until its run is done (a failed run makes it approved again)",
    PlanStatus.DONE: "it was executed; the next run of its job proposes a new plan for the next period",
    PlanStatus.CANCELLED: "a cancelled plan stays cancelled; the next period gets a new plan",
}


def _aware(value: datetime | None) -> datetime | None:
    """SQLite drops tzinfo; every datetime leaving the store is UTC-aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class PlanStore:
    """The plan operations on a StateStore (thread-safe like the store; share one per process)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    # -- creating and filling ----------------------------------------------------------------------

    def create_or_get(
        self,
        kind: str,
        scope: PlanScope,
        period: str,
        *,
        deadline: datetime | None = None,
        created_by: str | None = None,
    ) -> Opened:
        """The one plan of this kind, scope and period: made as a draft if there is none yet.

        Race-safe: concurrent callers insert with ``ON CONFLICT DO NOTHING`` against the unique
        constraint, and all of them then read the same row. An existing plan is returned whatever its
        status (a cancelled or executed plan is not replaced within its period).
        """
        plan_kind(kind)
        check_period(period)
        if created_by is not None:
            check_person(created_by)
        now = utcnow()
        with self.store.session() as s:
            ins = self.store._insert(s)
            new_id = s.execute(
                ins(PlanRow)
                .values(
                    kind=kind,
                    scope_hash=scope.key_hash(),
                    scope=scope.as_json(),
                    period=period,
                    status=PlanStatus.DRAFT.value,
                    deadline=deadline,
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
                .returning(PlanRow.id)
            ).scalar()
            row = s.execute(
                select(PlanRow).where(
                    PlanRow.kind == kind, PlanRow.scope_hash == scope.key_hash(), PlanRow.period == period
                )
            ).scalar_one()
            return Opened(self._plan(s, row, with_lines=False), created=new_id is not None)

    def add_lines(self, plan_id: int, lines: Iterable[NewLine]) -> Plan:
        """Add or update lines (by SKU and warehouse) of a draft plan; a rerun's lines replace its own.

        Refused with ``PlanNotEditable`` once the plan left draft: a person approved what it showed.
        Within one call the last line of a key wins.
        """
        latest: dict[LineKey, NewLine] = {}
        for line in lines:
            latest[line.key] = line
        now = utcnow()
        with self.store.session() as s:
            row = self._locked(s, plan_id)
            status = PlanStatus(row.status)
            if status is not PlanStatus.DRAFT:
                raise PlanNotEditable(
                    plan_id,
                    status,
                    "add lines to",
                    "lines are only added to a draft plan; the job's next period gets a new plan",
                )
            existing = {
                LineKey(r.sku, r.warehouse): r
                for r in s.execute(select(PlanLineRow).where(PlanLineRow.plan_id == plan_id)).scalars()
            }
            for key, line in latest.items():
                target = existing.get(key)
                if target is None:
                    target = PlanLineRow(
                        plan_id=plan_id,
                        sku=key.sku,
                        warehouse=key.warehouse,
                        status=LineStatus.PROPOSED.value,
                        created_at=now,
                    )
                    s.add(target)
                target.quantity = line.quantity
                target.unit_price = line.unit_price
                target.reason = line.reason
                target.score = line.score
                target.details = line.details
                target.updated_at = now
            row.updated_at = now
            s.flush()
            return self._plan(s, row, with_lines=True)

    # -- a person's decisions ----------------------------------------------------------------------

    def approve(self, plan_id: int, by: str, lines: Iterable[LineKey] | None = None) -> Plan:
        """Approve all lines (``lines=None``) or the named ones, recording who and when.

        An approved plan may be approved again to add lines to the approval; lines approved before keep
        their approver. Naming a line the plan does not have changes nothing and says which.
        """
        check_person(by)
        now = utcnow()
        with self.store.session() as s:
            row = self._locked(s, plan_id)
            self._check_move(row, PlanStatus.APPROVED, "approve")
            rows = {
                LineKey(r.sku, r.warehouse): r
                for r in s.execute(select(PlanLineRow).where(PlanLineRow.plan_id == plan_id)).scalars()
            }
            if not rows:
                raise PlanError(
                    f"cannot approve plan {plan_id}: it has no lines; wait for its job to propose some"
                )
            if lines is None:
                chosen = list(rows.values())
            else:
                keys = list(dict.fromkeys(lines))
                missing = [k for k in keys if k not in rows]
                if missing:
                    raise UnknownLines(
                        f"plan {plan_id} has no line {', '.join(map(str, missing))}; "
                        f"see its lines with: jtl-automator plans show {plan_id}"
                    )
                if not keys:
                    raise PlanError(f"cannot approve plan {plan_id}: no lines named")
                chosen = [rows[k] for k in keys]
            for line in chosen:
                if line.status == LineStatus.PROPOSED.value:
                    line.status = LineStatus.APPROVED.value
                    line.approved_by, line.approved_at, line.updated_at = by, now, now
            row.status = PlanStatus.APPROVED.value
            row.approved_by, row.approved_at, row.updated_at = by, now, now
            s.flush()
            return self._plan(s, row, with_lines=True)

    def cancel(self, plan_id: int, by: str, reason: str | None = None) -> Plan:
        """Cancel a draft or approved plan: it is never executed, and its period gets no other plan."""
        check_person(by)
        now = utcnow()
        with self.store.session() as s:
            row = self._locked(s, plan_id)
            self._check_move(row, PlanStatus.CANCELLED, "cancel")
            row.status = PlanStatus.CANCELLED.value
            row.cancelled_by, row.cancelled_at, row.updated_at = by, now, now
            if reason:
                row.note = reason[:_NOTE_MAX]
            return self._plan(s, row, with_lines=False)

    # -- execution ---------------------------------------------------------------------------------

    def mark_executing(self, plan_id: int) -> Plan:
        """Start executing an approved plan; only one caller wins (the others get IllegalTransition).

        The plan comes back with its lines: the approved ones not yet executed are the work.
        """
        now = utcnow()
        with self.store.session() as s:
            row = self._locked(s, plan_id)
            self._check_move(row, PlanStatus.EXECUTING, "execute")
            row.status = PlanStatus.EXECUTING.value
            row.execution_started_at, row.updated_at = now, now
            return self._plan(s, row, with_lines=True)

    def record_execution(self, plan_id: int, refs: Mapping[LineKey, ExecutionRef]) -> Plan:
        """Record what executing lines created, as it happens (so a crash after it loses nothing)."""
        with self.store.session() as s:
            row = self._locked(s, plan_id)
            status = PlanStatus(row.status)
            if status is not PlanStatus.EXECUTING:
                raise IllegalTransition(plan_id, status, "record the execution of", "start it first")
            self._apply_refs(s, plan_id, refs)
            row.updated_at = utcnow()
            return self._plan(s, row, with_lines=True)

    def mark_done(self, plan_id: int, refs: Mapping[LineKey, ExecutionRef] | None = None) -> Plan:
        """Finish an execution, recording the last lines' references."""
        now = utcnow()
        with self.store.session() as s:
            row = self._locked(s, plan_id)
            self._check_move(row, PlanStatus.DONE, "finish")
            self._apply_refs(s, plan_id, refs or {})
            row.status = PlanStatus.DONE.value
            row.done_at, row.updated_at, row.note = now, now, None
            return self._plan(s, row, with_lines=True)

    def mark_failed(
        self, plan_id: int, error: str, refs: Mapping[LineKey, ExecutionRef] | None = None
    ) -> Plan:
        """A failed execution goes back to approved with the error; executed lines keep their references."""
        with self.store.session() as s:
            row = self._locked(s, plan_id)
            status = PlanStatus(row.status)
            if status is not PlanStatus.EXECUTING:
                raise IllegalTransition(
                    plan_id, status, "fail the execution of", "only an executing plan can fail"
                )
            self._apply_refs(s, plan_id, refs or {})
            row.status = PlanStatus.APPROVED.value
            row.note = error[:_NOTE_MAX]
            row.execution_started_at, row.updated_at = None, utcnow()
            return self._plan(s, row, with_lines=True)

    def annotate_execution(self, plan_id: int, notes: Mapping[LineKey, Mapping[str, Any]]) -> Plan:
        """Add keys to executed lines' ``execution`` (what a follow-up step did with them, e.g. a sheet row).

        Allowed in every status, ``done`` included: it records, it changes nothing that was executed.
        """
        with self.store.session() as s:
            row = self._locked(s, plan_id)
            lines = self._lines_for(
                s,
                plan_id,
                notes,
                refuse=lambda status: status != LineStatus.EXECUTED.value,
                why="was not executed; only an executed line's record can be added to",
            )
            now = utcnow()
            for key, extra in notes.items():
                line = lines[key]
                line.execution = {**(line.execution or {}), **extra}  # a new dict: the JSON column sees it
                line.updated_at = now
            row.updated_at = now
            return self._plan(s, row, with_lines=True)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, plan_id: int) -> Plan:
        """One plan with its lines (by SKU, then warehouse)."""
        with self.store.session() as s:
            row = s.get(PlanRow, plan_id)
            if row is None:
                raise _not_found(plan_id)
            return self._plan(s, row, with_lines=True)

    def list_plans(self, *, kind: str | None = None, status: PlanStatus | None = None) -> list[Plan]:
        """Plans without their lines (but with line counts), newest first."""
        if kind is not None:
            plan_kind(kind)
        with self.store.session() as s:
            stmt = select(PlanRow).order_by(PlanRow.id.desc())
            if kind is not None:
                stmt = stmt.where(PlanRow.kind == kind)
            if status is not None:
                stmt = stmt.where(PlanRow.status == status.value)
            rows = list(s.execute(stmt).scalars())
            counts = self._counts(s, [r.id for r in rows])
            return [self._plan(s, r, with_lines=False, counts=counts.get(r.id, (0, 0))) for r in rows]

    # -- helpers ---------------------------------------------------------------------------------

    def _locked(self, s: Session, plan_id: int) -> PlanRow:
        row = s.get(PlanRow, plan_id, with_for_update=True)
        if row is None:
            raise _not_found(plan_id)
        return row

    @staticmethod
    def _check_move(row: PlanRow, target: PlanStatus, action: str) -> None:
        status = PlanStatus(row.status)
        if not can_move(status, target):
            raise IllegalTransition(row.id, status, action, _HINTS[status])

    @staticmethod
    def _lines_for(
        s: Session, plan_id: int, keys: Iterable[LineKey], *, refuse: Callable[[str], bool], why: str
    ) -> dict[LineKey, PlanLineRow]:
        """The plan's lines by key, after checking every key names one and none is in a refused status."""
        wanted = list(keys)
        lines = {
            LineKey(r.sku, r.warehouse): r
            for r in s.execute(select(PlanLineRow).where(PlanLineRow.plan_id == plan_id)).scalars()
        }
        missing = [k for k in wanted if k not in lines]
        if missing:
            raise UnknownLines(f"plan {plan_id} has no line {', '.join(map(str, missing))}")
        refused = [k for k in wanted if refuse(lines[k].status)]
        if refused:
            raise PlanError(f"plan {plan_id}: line {', '.join(map(str, refused))} {why}")
        return lines

    @staticmethod
    def _apply_refs(s: Session, plan_id: int, refs: Mapping[LineKey, ExecutionRef]) -> None:
        if not refs:
            return
        rows = PlanStore._lines_for(
            s,
            plan_id,
            refs,
            refuse=lambda status: status == LineStatus.PROPOSED.value,
            why="was not approved and must not be executed",
        )
        now = utcnow()
        for key, ref in refs.items():
            line = rows[key]
            line.status = LineStatus.EXECUTED.value
            line.purchase_order_number = ref.purchase_order_number
            line.inbound_id = ref.inbound_id
            line.execution = dict(ref.extra) if ref.extra else None
            line.updated_at = now

    @staticmethod
    def _counts(s: Session, ids: list[int]) -> dict[int, tuple[int, int]]:
        """Per plan: (lines, approved or executed lines)."""
        found: dict[int, list[int]] = {}
        for start in range(0, len(ids), 500):
            stmt = (
                select(PlanLineRow.plan_id, PlanLineRow.status, func.count())
                .where(PlanLineRow.plan_id.in_(ids[start : start + 500]))
                .group_by(PlanLineRow.plan_id, PlanLineRow.status)
            )
            for pid, status, n in s.execute(stmt):
                total = found.setdefault(pid, [0, 0])
                total[0] += n
                if status != LineStatus.PROPOSED.value:
                    total[1] += n
        return {pid: (t[0], t[1]) for pid, t in found.items()}

    def _plan(
        self, s: Session, row: PlanRow, *, with_lines: bool, counts: tuple[int, int] | None = None
    ) -> Plan:
        lines: tuple[PlanLine, ...] = ()
        if with_lines:
            stmt = (
                select(PlanLineRow)
                .where(PlanLineRow.plan_id == row.id)
                .order_by(PlanLineRow.sku, PlanLineRow.warehouse)
            )
            lines = tuple(_line(r) for r in s.execute(stmt).scalars())
            counts = (len(lines), sum(1 for line in lines if line.approved))
        elif counts is None:
            counts = self._counts(s, [row.id]).get(row.id, (0, 0))
        created_at = _aware(row.created_at)
        assert created_at is not None
        return Plan(
            id=row.id,
            kind=row.kind,
            scope=PlanScope.model_validate(row.scope),
            period=row.period,
            status=PlanStatus(row.status),
            deadline=_aware(row.deadline),
            created_by=row.created_by,
            created_at=created_at,
            approved_by=row.approved_by,
            approved_at=_aware(row.approved_at),
            execution_started_at=_aware(row.execution_started_at),
            done_at=_aware(row.done_at),
            cancelled_by=row.cancelled_by,
            cancelled_at=_aware(row.cancelled_at),
            note=row.note,
            line_count=counts[0],
            approved_count=counts[1],
            lines=lines,
        )


def _not_found(plan_id: int) -> PlanNotFound:
    return PlanNotFound(
        f"no plan {plan_id} in the state database; list the plans with: jtl-automator plans list"
    )


def _line(row: PlanLineRow) -> PlanLine:
    execution: ExecutionRef | None = None
    if row.purchase_order_number or row.inbound_id or row.execution:
        extra: dict[str, Any] | None = row.execution
        execution = ExecutionRef(row.purchase_order_number, row.inbound_id, extra)
    return PlanLine(
        sku=row.sku,
        warehouse=row.warehouse,
        quantity=row.quantity,
        unit_price=row.unit_price,
        reason=row.reason,
        score=row.score,
        details=row.details,
        status=LineStatus(row.status),
        approved_by=row.approved_by,
        approved_at=_aware(row.approved_at),
        execution=execution,
    )
