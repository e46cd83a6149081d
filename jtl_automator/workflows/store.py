"""Workflows in the state database: definitions and their versions, statuses, runs and steps.

Like the plans (``jtl_automator.plans.store``), every change first locks its row (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite serialises transactions), so a sync, a person pausing a workflow and a
runner recording a step never interleave. Errors are one line: what, where, how to fix it.

Versions: a workflow's document is stored as JSON with its hash (the status left out). Loading an
unchanged file makes no version; a changed file makes a new version once the workflow has left draft
(runs record the version they ran, so it must not change under them); a draft's only version is
replaced in place, since nothing ran it. Status: the file's ``status:`` applies when the workflow is new
and whenever the file changes it; in between, ``workflows activate|pause|archive`` decide.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jtl_automator.limits import WORKFLOW_TRIGGER_KEY_MAX
from jtl_automator.store.models import (
    WorkflowRow,
    WorkflowRunRow,
    WorkflowStepRow,
    WorkflowVersionRow,
    utcnow,
)
from jtl_automator.store.store import StateStore
from jtl_automator.workflows.definition import TRANSITIONS, Workflow, WorkflowStatus, can_move
from jtl_automator.workflows.loader import LoadedWorkflow, load_path

_ERROR_MAX = 10_000
_LOG_LINES_MAX = 200
_IDS_PER_QUERY = 500  # ids per IN (...): far below every dialect's parameter limit


class WorkflowError(Exception):
    """Base of the workflow store's errors; the message is one line: what, where, how to fix it."""


class WorkflowNotFound(WorkflowError, LookupError):
    """No workflow of that name in the state database."""


class RunNotFound(WorkflowError, LookupError):
    """No run with that id, or no step of that node in it."""


class IllegalTransition(WorkflowError):
    """The status of a workflow, run or step does not allow the requested change."""


class RunStatus(StrEnum):
    """A run: pending → running → completed / failed / cancelled (a failed run may be retried)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    """A step: pending → running → succeeded / failed; pending → skipped; a failed step may run again."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


_RUN_MOVES: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset({RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELLED}),
    RunStatus.RUNNING: frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED}),
    RunStatus.FAILED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),  # a retry
    RunStatus.COMPLETED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}
_STEP_MOVES: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset({StepStatus.RUNNING, StepStatus.SKIPPED, StepStatus.CANCELLED}),
    StepStatus.RUNNING: frozenset({StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.CANCELLED}),
    # a retry; or skipped, when the retry finds its guard false now
    StepStatus.FAILED: frozenset({StepStatus.RUNNING, StepStatus.SKIPPED, StepStatus.CANCELLED}),
    StepStatus.SUCCEEDED: frozenset(),
    StepStatus.SKIPPED: frozenset(),
    StepStatus.CANCELLED: frozenset(),
}
_FINISHED_RUN = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})
_FINISHED_STEP = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite drops tzinfo; every datetime leaving the store is UTC-aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _when(value: datetime | None) -> datetime:
    found = _aware(value)
    assert found is not None
    return found


def trigger_key(*parts: object) -> str:
    """A run's trigger key from its parts (``stock_changed``, ``SKU@W1``, the change's marker).

    Joined with ``:``; a key longer than the column (SKUs and warehouse ids are up to 255 characters
    each) keeps its start readable and ends in the sha256 of the whole, so it stays unique.
    """
    import hashlib

    text = ":".join(str(part) for part in parts)
    if len(text) <= WORKFLOW_TRIGGER_KEY_MAX:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{text[: WORKFLOW_TRIGGER_KEY_MAX - len(digest) - 1]}#{digest}"


# -- What the store returns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowInfo:
    """A workflow as listed: name, status, current version and where it was loaded from."""

    name: str
    status: WorkflowStatus
    current_version: int
    source: str | None
    description: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class WorkflowVersion:
    """One stored version of a workflow's document."""

    version: int
    content_hash: str
    created_at: datetime
    document: dict[str, Any]

    def workflow(self) -> Workflow:
        """The document as the model (it was valid when stored)."""
        return Workflow.model_validate(self.document)


@dataclass(frozen=True)
class WorkflowDetail:
    """A workflow with all its versions, newest first."""

    info: WorkflowInfo
    versions: tuple[WorkflowVersion, ...]

    @property
    def current(self) -> WorkflowVersion:
        """The version that runs."""
        return next(v for v in self.versions if v.version == self.info.current_version)


@dataclass(frozen=True)
class SyncChange:
    """What a sync did with one workflow file."""

    name: str
    change: str  # new | new_version | draft_updated | unchanged | refused
    version: int
    status: WorkflowStatus
    note: str = ""


@dataclass(frozen=True)
class SyncResult:
    """Every file's change, and the stored workflows no file names any more (left as they are)."""

    changes: tuple[SyncChange, ...]
    without_file: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One node of a run as recorded."""

    node: str
    position: int
    action: str
    status: StepStatus
    inputs: dict[str, Any] | None
    output: dict[str, Any] | None
    logs: tuple[str, ...]
    error: str | None
    attempts: int
    task_run_id: str | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Run:
    """One execution of a workflow; ``steps`` is filled where the run was read with them."""

    id: str
    workflow: str
    version: int
    trigger_key: str
    trigger: dict[str, Any] | None
    status: RunStatus
    error: str | None
    flow_run_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: tuple[Step, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RunRef:
    """A run as the tick plans batches with it: which workflow and version, its status and flow run."""

    id: str
    workflow: str
    version: int
    status: RunStatus
    flow_run_id: str | None


# -- The store ---------------------------------------------------------------------------------------


class WorkflowStore:
    """The workflow operations on a StateStore (thread-safe like the store; share one per process)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    # -- definitions ---------------------------------------------------------------------------------

    def sync_folder(self, path: Path | None = None) -> SyncResult:
        """Load the workflow files (all valid, or WorkflowFileError) and :meth:`sync` them."""
        return self.sync(load_path(path))

    def sync(self, loaded: Iterable[LoadedWorkflow]) -> SyncResult:
        """Store each loaded workflow: new, a new version, the draft replaced, or nothing to do."""
        changes = [self._sync_one(item) for item in loaded]
        names = {c.name for c in changes}
        with self.store.session() as s:
            stored = s.execute(
                select(WorkflowRow.name).where(WorkflowRow.status != WorkflowStatus.ARCHIVED.value)
            ).scalars()
            without = tuple(sorted(n for n in stored if n not in names))
        return SyncResult(tuple(changes), without)

    def _sync_one(self, item: LoadedWorkflow) -> SyncChange:
        workflow = item.workflow
        digest = workflow.content_hash()
        declared = workflow.status
        now = utcnow()
        with self.store.session() as s:
            new_id = s.execute(
                self.store._insert(s)(WorkflowRow)
                .values(
                    name=workflow.name,
                    status=declared.value,
                    declared_status=declared.value,
                    current_version=1,
                    source=str(item.path),
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
                .returning(WorkflowRow.id)
            ).scalar()
            if new_id is not None:
                s.add(
                    WorkflowVersionRow(
                        workflow_id=new_id,
                        version=1,
                        document=workflow.document(),
                        content_hash=digest,
                        created_at=now,
                    )
                )
                return SyncChange(workflow.name, "new", 1, declared)
            row = self._locked(s, workflow.name)
            status = WorkflowStatus(row.status)
            current = self._version_row(s, row.id, row.current_version)
            changed = current.content_hash != digest
            restated = declared.value != row.declared_status
            if status is WorkflowStatus.ARCHIVED:
                if changed or restated:
                    return SyncChange(
                        workflow.name,
                        "refused",
                        row.current_version,
                        status,
                        "archived is final: the file's changes are not loaded; give the workflow a new "
                        "name to start anew",
                    )
                return SyncChange(workflow.name, "unchanged", row.current_version, status)
            change, note = "unchanged", ""
            if changed and status is WorkflowStatus.DRAFT:
                current.document, current.content_hash, current.created_at = workflow.document(), digest, now
                change = "draft_updated"
            elif changed:
                row.current_version += 1
                s.add(
                    WorkflowVersionRow(
                        workflow_id=row.id,
                        version=row.current_version,
                        document=workflow.document(),
                        content_hash=digest,
                        created_at=now,
                    )
                )
                change = "new_version"
            if restated:
                if can_move(status, declared):
                    note = f"status {status.value} → {declared.value} (the file's status changed)"
                    status = declared
                    row.status = declared.value
                else:
                    note = (
                        f"the file now says status {declared.value}, which a {status.value} workflow "
                        f"cannot become ({_allowed(status)}); the status stays {status.value}"
                    )
                row.declared_status = declared.value
            row.source = str(item.path)
            row.updated_at = now
            return SyncChange(workflow.name, change, row.current_version, status, note)

    def set_status(self, name: str, target: WorkflowStatus) -> WorkflowInfo:
        """Move a workflow to ``target``: draft → active; active ↔ paused; any but archived → archived."""
        with self.store.session() as s:
            row = self._locked(s, name)
            status = WorkflowStatus(row.status)
            if not can_move(status, target):
                raise IllegalTransition(
                    f"cannot make workflow {name!r} {target.value}: it is {status.value}; {_allowed(status)}"
                )
            row.status = target.value
            row.updated_at = utcnow()
            return self._info(s, row)

    def list_workflows(self, status: WorkflowStatus | None = None) -> list[WorkflowInfo]:
        """The stored workflows by name."""
        with self.store.session() as s:
            stmt = select(WorkflowRow).order_by(WorkflowRow.name)
            if status is not None:
                stmt = stmt.where(WorkflowRow.status == status.value)
            return [self._info(s, row) for row in s.execute(stmt).scalars()]

    def get(self, name: str) -> WorkflowDetail:
        """One workflow with every version, newest first."""
        with self.store.session() as s:
            row = self._row(s, name)
            versions = s.execute(
                select(WorkflowVersionRow)
                .where(WorkflowVersionRow.workflow_id == row.id)
                .order_by(WorkflowVersionRow.version.desc())
            ).scalars()
            return WorkflowDetail(self._info(s, row), tuple(_version(v) for v in versions))

    def definition(self, name: str, version: int | None = None) -> tuple[int, Workflow]:
        """The document of ``version`` (default: the current one) as the model."""
        with self.store.session() as s:
            row = self._row(s, name)
            chosen = row.current_version if version is None else version
            found = s.execute(
                select(WorkflowVersionRow).where(
                    WorkflowVersionRow.workflow_id == row.id, WorkflowVersionRow.version == chosen
                )
            ).scalar_one_or_none()
            if found is None:
                raise WorkflowNotFound(
                    f"workflow {name!r} has no version {chosen}; it has 1 to {row.current_version}"
                )
            return chosen, Workflow.model_validate(found.document)

    def active(self) -> list[tuple[int, Workflow]]:
        """The active workflows' current versions (what the trigger evaluation looks at)."""
        return [self.definition(info.name) for info in self.list_workflows(WorkflowStatus.ACTIVE)]

    # -- runs and steps --------------------------------------------------------------------------------

    def create_run(
        self,
        name: str,
        trigger_key: str,
        trigger: Mapping[str, Any] | None = None,
        *,
        flow_run_id: str | None = None,
    ) -> tuple[Run, bool]:
        """The run of ``name`` for ``trigger_key`` (once per entity per change), made if there is none.

        A new run gets the current version and one pending step per node; an existing one comes back as
        it is (``created`` False), so a trigger seen twice never runs twice. Only an active workflow
        gets a new run.
        """
        if not trigger_key or len(trigger_key) > WORKFLOW_TRIGGER_KEY_MAX:
            raise ValueError(f"a trigger key has 1 to {WORKFLOW_TRIGGER_KEY_MAX} characters")
        with self.store.session() as s:
            row = self._row(s, name)
            existing = s.execute(
                select(WorkflowRunRow).where(
                    WorkflowRunRow.workflow_id == row.id, WorkflowRunRow.trigger_key == trigger_key
                )
            ).scalar_one_or_none()
            if existing is not None:
                return self._run(s, existing, name, with_steps=True), False
            if row.status != WorkflowStatus.ACTIVE.value:
                raise IllegalTransition(
                    f"workflow {name!r} is {row.status}: only active workflows run; "
                    f"activate it with: jtl-automator workflows activate {name}"
                )
            document = Workflow.model_validate(self._version_row(s, row.id, row.current_version).document)
            run_id = uuid.uuid4().hex
            now = utcnow()
            inserted = s.execute(
                self.store._insert(s)(WorkflowRunRow)
                .values(
                    id=run_id,
                    workflow_id=row.id,
                    version=row.current_version,
                    trigger_key=trigger_key,
                    trigger=dict(trigger) if trigger is not None else None,
                    status=RunStatus.PENDING.value,
                    flow_run_id=flow_run_id,
                    created_at=now,
                )
                .on_conflict_do_nothing()
                .returning(WorkflowRunRow.id)
            ).scalar()
            if inserted is None:  # another process made it between our read and our insert
                raced = s.execute(
                    select(WorkflowRunRow).where(
                        WorkflowRunRow.workflow_id == row.id, WorkflowRunRow.trigger_key == trigger_key
                    )
                ).scalar_one()
                return self._run(s, raced, name, with_steps=True), False
            for position, node in enumerate(document.nodes):
                s.add(
                    WorkflowStepRow(
                        run_id=run_id,
                        node=node.id,
                        position=position,
                        action=node.action,
                        status=StepStatus.PENDING.value,
                        attempts=0,
                    )
                )
            s.flush()
            run = s.get(WorkflowRunRow, run_id)
            assert run is not None
            return self._run(s, run, name, with_steps=True), True

    def start_run(self, run_id: str, *, flow_run_id: str | None = None) -> Run:
        """A pending (or failed, for a retry) run starts; the Prefect flow run is recorded."""
        with self.store.session() as s:
            run = self._locked_run(s, run_id)
            retry = RunStatus(run.status) is RunStatus.FAILED
            self._move_run(run, RunStatus.RUNNING)
            if retry:  # the steps cancelled because the run failed get their turn again
                for step in self._step_rows(s, run_id):
                    if step.status == StepStatus.CANCELLED.value:
                        step.status, step.finished_at = StepStatus.PENDING.value, None
            run.started_at = utcnow()
            run.finished_at, run.error = None, None
            if flow_run_id is not None:
                run.flow_run_id = flow_run_id
            return self._run(s, run, None, with_steps=True)

    def finish_run(self, run_id: str, status: RunStatus, error: str | None = None) -> Run:
        """End a run: completed, failed or cancelled; its steps still pending are cancelled with it."""
        if status not in _FINISHED_RUN:
            raise ValueError(f"a run finishes as completed, failed or cancelled, not {status.value}")
        now = utcnow()
        with self.store.session() as s:
            run = self._locked_run(s, run_id)
            self._move_run(run, status)
            run.finished_at, run.error = now, (error[:_ERROR_MAX] if error else None)
            if status is not RunStatus.COMPLETED:
                for step in self._step_rows(s, run_id):
                    if step.status in (StepStatus.PENDING.value, StepStatus.RUNNING.value):
                        step.status, step.finished_at = StepStatus.CANCELLED.value, now
            return self._run(s, run, None, with_steps=True)

    def start_step(
        self,
        run_id: str,
        node: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        task_run_id: str | None = None,
    ) -> Step:
        """A step starts (again, after a failure): its resolved inputs are recorded, attempts counted."""
        with self.store.session() as s:
            run = self._locked_run(s, run_id)
            if RunStatus(run.status) is not RunStatus.RUNNING:
                raise IllegalTransition(f"run {run_id} is {run.status}: start it before its steps")
            step = self._step_row(s, run_id, node)
            self._move_step(step, StepStatus.RUNNING, run_id)
            step.inputs = dict(inputs) if inputs is not None else None
            step.attempts += 1
            step.started_at, step.finished_at, step.error = utcnow(), None, None
            if task_run_id is not None:
                step.task_run_id = task_run_id
            return _step(step)

    def finish_step(
        self,
        run_id: str,
        node: str,
        status: StepStatus,
        *,
        output: Mapping[str, Any] | None = None,
        error: str | None = None,
        logs: Sequence[str] = (),
    ) -> Step:
        """A step ends: succeeded (with its output), failed (with the error), skipped or cancelled."""
        if status not in _FINISHED_STEP:
            raise ValueError(
                f"a step finishes as succeeded, failed, skipped or cancelled, not {status.value}"
            )
        with self.store.session() as s:
            self._locked_run(s, run_id)
            step = self._step_row(s, run_id, node)
            self._move_step(step, status, run_id)
            step.output = dict(output) if output is not None else None
            step.error = error[:_ERROR_MAX] if error else None
            if logs:
                step.logs = [*(step.logs or []), *[line[:2000] for line in logs]][-_LOG_LINES_MAX:]
            step.finished_at = utcnow()
            return _step(step)

    def list_runs(self, name: str, *, limit: int = 20, status: RunStatus | None = None) -> list[Run]:
        """A workflow's runs, newest first, without their steps."""
        with self.store.session() as s:
            row = self._row(s, name)
            stmt = (
                select(WorkflowRunRow)
                .where(WorkflowRunRow.workflow_id == row.id)
                .order_by(WorkflowRunRow.created_at.desc(), WorkflowRunRow.id)
                .limit(limit)
            )
            if status is not None:
                stmt = stmt.where(WorkflowRunRow.status == status.value)
            return [self._run(s, run, name, with_steps=False) for run in s.execute(stmt).scalars()]

    def run_refs(self, name: str, status: RunStatus) -> list[RunRef]:
        """Every run of ``name`` in ``status``, oldest first, as references (no trigger, no steps).

        Unbounded on purpose: a crashed tick may leave a whole schedule's runs (100,000) pending.
        """
        with self.store.session() as s:
            row = self._row(s, name)
            stmt = (
                select(WorkflowRunRow.id, WorkflowRunRow.version, WorkflowRunRow.flow_run_id)
                .where(WorkflowRunRow.workflow_id == row.id, WorkflowRunRow.status == status.value)
                .order_by(WorkflowRunRow.created_at, WorkflowRunRow.id)
            )
            return [RunRef(r.id, name, r.version, status, r.flow_run_id) for r in s.execute(stmt)]

    def refs(self, run_ids: Sequence[str]) -> list[RunRef]:
        """References of these runs in the order given (an unknown id is left out)."""
        found: dict[str, RunRef] = {}
        with self.store.session() as s:
            for start in range(0, len(run_ids), _IDS_PER_QUERY):
                chunk = list(run_ids[start : start + _IDS_PER_QUERY])
                stmt = (
                    select(
                        WorkflowRunRow.id,
                        WorkflowRow.name,
                        WorkflowRunRow.version,
                        WorkflowRunRow.status,
                        WorkflowRunRow.flow_run_id,
                    )
                    .join(WorkflowRow, WorkflowRow.id == WorkflowRunRow.workflow_id)
                    .where(WorkflowRunRow.id.in_(chunk))
                )
                for r in s.execute(stmt):
                    found[r.id] = RunRef(r.id, r.name, r.version, RunStatus(r.status), r.flow_run_id)
        return [found[i] for i in run_ids if i in found]

    def last_activity(self, run_ids: Sequence[str]) -> dict[str, datetime]:
        """Per run the latest moment anything of it started or finished (run or step).

        How the tick tells a run a crashed process left running from one that is still moving.
        """
        latest: dict[str, datetime] = {}
        with self.store.session() as s:
            for start in range(0, len(run_ids), _IDS_PER_QUERY):
                chunk = list(run_ids[start : start + _IDS_PER_QUERY])
                runs = select(WorkflowRunRow.id, WorkflowRunRow.created_at, WorkflowRunRow.started_at).where(
                    WorkflowRunRow.id.in_(chunk)
                )
                for r in s.execute(runs):
                    moments = [_aware(m) for m in (r.created_at, r.started_at) if m is not None]
                    latest[r.id] = max(m for m in moments if m is not None)
                steps = (
                    select(
                        WorkflowStepRow.run_id,
                        func.max(WorkflowStepRow.started_at),
                        func.max(WorkflowStepRow.finished_at),
                    )
                    .where(WorkflowStepRow.run_id.in_(chunk))
                    .group_by(WorkflowStepRow.run_id)
                )
                for run_id, started, finished in s.execute(steps):
                    for moment in (started, finished):
                        found = _aware(moment)
                        if found is not None and run_id in latest and found > latest[run_id]:
                            latest[run_id] = found
        return latest

    def get_run(self, run_id: str) -> Run:
        """One run with its steps in node order."""
        with self.store.session() as s:
            run = s.get(WorkflowRunRow, run_id)
            if run is None:
                raise _run_not_found(run_id)
            return self._run(s, run, None, with_steps=True)

    # -- helpers ---------------------------------------------------------------------------------------

    @staticmethod
    def _row(s: Session, name: str, *, lock: bool = False) -> WorkflowRow:
        stmt = select(WorkflowRow).where(WorkflowRow.name == name)
        if lock:
            stmt = stmt.with_for_update()
        row = s.execute(stmt).scalar_one_or_none()
        if row is None:
            raise WorkflowNotFound(
                f"no workflow {name!r} in the state database; load the files with "
                "`jtl-automator workflows validate` and see them with `jtl-automator workflows list`"
            )
        return row

    def _locked(self, s: Session, name: str) -> WorkflowRow:
        return self._row(s, name, lock=True)

    @staticmethod
    def _version_row(s: Session, workflow_id: int, version: int) -> WorkflowVersionRow:
        return s.execute(
            select(WorkflowVersionRow).where(
                WorkflowVersionRow.workflow_id == workflow_id, WorkflowVersionRow.version == version
            )
        ).scalar_one()

    @staticmethod
    def _locked_run(s: Session, run_id: str) -> WorkflowRunRow:
        run = s.get(WorkflowRunRow, run_id, with_for_update=True)
        if run is None:
            raise _run_not_found(run_id)
        return run

    @staticmethod
    def _step_rows(s: Session, run_id: str) -> list[WorkflowStepRow]:
        stmt = (
            select(WorkflowStepRow).where(WorkflowStepRow.run_id == run_id).order_by(WorkflowStepRow.position)
        )
        return list(s.execute(stmt).scalars())

    @staticmethod
    def _step_row(s: Session, run_id: str, node: str) -> WorkflowStepRow:
        step = s.execute(
            select(WorkflowStepRow).where(WorkflowStepRow.run_id == run_id, WorkflowStepRow.node == node)
        ).scalar_one_or_none()
        if step is None:
            raise RunNotFound(
                f"run {run_id} has no step {node!r}; "
                f"see its steps with: jtl-automator workflows run-show {run_id}"
            )
        return step

    @staticmethod
    def _move_run(run: WorkflowRunRow, target: RunStatus) -> None:
        status = RunStatus(run.status)
        if target not in _RUN_MOVES[status]:
            raise IllegalTransition(f"run {run.id} is {status.value} and cannot become {target.value}")
        run.status = target.value

    @staticmethod
    def _move_step(step: WorkflowStepRow, target: StepStatus, run_id: str) -> None:
        status = StepStatus(step.status)
        if target not in _STEP_MOVES[status]:
            raise IllegalTransition(
                f"step {step.node!r} of run {run_id} is {status.value} and cannot become {target.value}"
            )
        step.status = target.value

    @staticmethod
    def _info(s: Session, row: WorkflowRow) -> WorkflowInfo:
        document = WorkflowStore._version_row(s, row.id, row.current_version).document
        return WorkflowInfo(
            name=row.name,
            status=WorkflowStatus(row.status),
            current_version=row.current_version,
            source=row.source,
            description=str(document.get("description", "")),
            created_at=_when(row.created_at),
            updated_at=_when(row.updated_at),
        )

    def _run(self, s: Session, run: WorkflowRunRow, name: str | None, *, with_steps: bool) -> Run:
        if name is None:
            name = s.execute(select(WorkflowRow.name).where(WorkflowRow.id == run.workflow_id)).scalar_one()
        steps = tuple(_step(step) for step in self._step_rows(s, run.id)) if with_steps else ()
        return Run(
            id=run.id,
            workflow=name,
            version=run.version,
            trigger_key=run.trigger_key,
            trigger=run.trigger,
            status=RunStatus(run.status),
            error=run.error,
            flow_run_id=run.flow_run_id,
            created_at=_when(run.created_at),
            started_at=_aware(run.started_at),
            finished_at=_aware(run.finished_at),
            steps=steps,
        )


def _allowed(status: WorkflowStatus) -> str:
    targets = sorted(t.value for t in TRANSITIONS[status])
    if not targets:
        return "archived is final"
    return f"a {status.value} workflow can become {' or '.join(targets)}"


def _run_not_found(run_id: str) -> RunNotFound:
    return RunNotFound(
        f"no workflow run {run_id!r} in the state database; list a workflow's runs with: "
        "jtl-automator workflows runs NAME"
    )


def _version(row: WorkflowVersionRow) -> WorkflowVersion:
    return WorkflowVersion(row.version, row.content_hash, _when(row.created_at), row.document)


def _step(row: WorkflowStepRow) -> Step:
    return Step(
        node=row.node,
        position=row.position,
        action=row.action,
        status=StepStatus(row.status),
        inputs=row.inputs,
        output=row.output,
        logs=tuple(str(line) for line in row.logs or ()),
        error=row.error,
        attempts=row.attempts,
        task_run_id=row.task_run_id,
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at),
    )
