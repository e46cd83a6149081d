"""Many workflow runs in one Prefect flow run: batches of one workflow version, run node by node.

A Prefect flow run costs about 2 s before any work is done, and a task run 4-7 ms on the client plus
35-40 ms of the server's CPU (benchmarks/workflow_runner, docs/workflow-runs.md). A schedule over
100,000 items makes 100,000 runs: one flow run each would be more than two days of overhead. So the
tick groups the runs it has to run into batches (:func:`plan_batches`: one workflow version, at most
``size`` runs) and runs each batch as one ``workflow-batch`` flow run with one task run per node; that
task runs its node for every run of the batch (:class:`BatchRunner`).

Nothing of a run's own record changes: each run keeps its steps, inputs, outputs, effect keys, attempts
and retries, and the :class:`~jtl_automator.workflows.runner.Runner` does the work exactly as for one
run. A run's failure is its own: a failed step is recorded and never raised; even an unexpected error
(the state database away for a moment) ends that one run as failed and the batch goes on with the others.
A batch that dies as a whole (the process killed) leaves its runs running; :func:`stalled` finds them for
the next tick, which resumes each where it stopped (done steps are reused, side effects keyed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from jtl_automator.correlation import correlated_logger
from jtl_automator.workflows.runner import Runner, Started, _one_line, node_order, run_markdown
from jtl_automator.workflows.store import (
    IllegalTransition,
    Run,
    RunRef,
    RunStatus,
    StepStatus,
    WorkflowStore,
)

log = correlated_logger("jtl_automator.workflows.batch")

#: Runs per ``workflow-batch`` flow run unless the tick is told otherwise.
DEFAULT_BATCH_SIZE = 200
#: The most a batch may hold (the artifact lists every run; a task's loop should end within minutes).
MAX_BATCH_SIZE = 1000
#: A running run nothing has touched for this long belongs to a process that is gone.
DEFAULT_STALE_AFTER = timedelta(hours=1)
#: Failed runs shown with every step in a batch's artifact (the table lists all of them).
_DETAILED_FAILURES = 10
#: Failed runs named in a batch's or a tick's summary.
_NAMED_FAILURES = 20
_RUNNABLE = frozenset({RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED})


def batch_label(workflow: str, version: int, count: int) -> str:
    """What a batch's flow run is called: the workflow, its version and how many runs."""
    return f"{workflow} v{version}: {count} run{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Batch:
    """Runs of one workflow version that one ``workflow-batch`` flow run executes."""

    workflow: str
    version: int
    run_ids: tuple[str, ...]

    @property
    def label(self) -> str:
        """The flow run's name."""
        return batch_label(self.workflow, self.version, len(self.run_ids))


def plan_batches(refs: Iterable[RunRef], size: int = DEFAULT_BATCH_SIZE) -> list[Batch]:
    """Group runs by workflow and version (first seen first, order kept) into batches of at most ``size``.

    A run listed twice is batched once; a completed or cancelled one not at all (nothing to run).
    """
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH_SIZE} runs, not {size}")
    groups: dict[tuple[str, int], list[str]] = {}
    seen: set[str] = set()
    for ref in refs:
        if ref.id in seen or ref.status not in _RUNNABLE:
            continue
        seen.add(ref.id)
        groups.setdefault((ref.workflow, ref.version), []).append(ref.id)
    return [
        Batch(workflow, version, tuple(ids[start : start + size]))
        for (workflow, version), ids in groups.items()
        for start in range(0, len(ids), size)
    ]


def stalled(
    refs: Sequence[RunRef],
    activity: Mapping[str, datetime],
    finished_flow_runs: Collection[str],
    *,
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> list[str]:
    """Running runs no process runs any more, to resume: ids in the order given.

    Either Prefect has their flow run in a final state (``finished_flow_runs``: crashed, failed,
    cancelled, completed, or unknown to it), or nothing of any run sharing their flow run (a batch) has
    started or finished for ``stale_after``: a killed process whose flow run Prefect still shows running.
    A run without a flow run (``workflows run`` in a shell) counts on its own.
    """
    latest: dict[str, datetime] = {}
    for ref in refs:
        moment = activity.get(ref.id)
        owner = ref.flow_run_id or ref.id
        if moment is not None and (owner not in latest or moment > latest[owner]):
            latest[owner] = moment
    cutoff = now - stale_after
    found: list[str] = []
    for ref in refs:
        if ref.status is not RunStatus.RUNNING:
            continue
        owner = ref.flow_run_id or ref.id
        gone = ref.flow_run_id is not None and ref.flow_run_id in finished_flow_runs
        if gone or (owner in latest and latest[owner] < cutoff):
            found.append(ref.id)
    return found


def with_stalled(
    workflows: WorkflowStore,
    started: Sequence[Started],
    finished_flow_runs: Callable[[Collection[str]], Collection[str]],
    *,
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> list[Started]:
    """Each evaluated workflow's runs to run, plus its running runs a dead process left (see :func:`stalled`).

    ``finished_flow_runs`` answers, of some flow run ids, which are over (the tick asks Prefect).
    """
    found: list[Started] = []
    for item in started:
        if item.note.startswith("not evaluated"):
            found.append(item)
            continue
        running = workflows.run_refs(item.workflow, RunStatus.RUNNING)
        if not running:
            found.append(item)
            continue
        flow_runs = {r.flow_run_id for r in running if r.flow_run_id}
        over = finished_flow_runs(flow_runs) if flow_runs else set()
        activity = workflows.last_activity([r.id for r in running])
        resume = [
            r
            for r in stalled(running, activity, over, now=now, stale_after=stale_after)
            if r not in item.to_run
        ]
        if resume:
            log.warning(
                "workflow %s: resuming %d runs a stopped process left running", item.workflow, len(resume)
            )
            note = f"resumed {len(resume)} runs a stopped process left running"
            item = replace(
                item, to_run=item.to_run + tuple(resume), note=f"{item.note}; {note}" if item.note else note
            )
        found.append(item)
    return found


# -- Running a batch --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeReport:
    """One node over the batch: how many runs' steps ended how, and which failed."""

    node: str
    counts: dict[str, int]
    failures: tuple[tuple[str, str], ...] = ()
    broken: tuple[tuple[str, str], ...] = ()

    def line(self) -> str:
        """One log line: ``plan: 198 succeeded, 2 failed``."""
        parts = [f"{n} {status}" for status, n in sorted(self.counts.items())]
        if self.broken:
            parts.append(f"{len(self.broken)} broken off")
        return f"{self.node}: {', '.join(parts) or 'no run left'}"


@dataclass(frozen=True)
class RunOutcome:
    """How one run of a batch ended (``not_run``: the batch did not start it; ``error`` says why)."""

    run_id: str
    entity: str
    status: str
    error: str | None
    steps: dict[str, int]


@dataclass(frozen=True)
class BatchOutcome:
    """A batch's runs and how each ended; ``failed`` holds the first failed runs with their steps."""

    workflow: str
    version: int
    flow_run_id: str | None
    runs: tuple[RunOutcome, ...]
    failed: tuple[Run, ...] = ()

    def counts(self) -> dict[str, int]:
        """Runs per outcome (completed, failed, not_run, ...)."""
        return dict(Counter(r.status for r in self.runs))

    def summary(self) -> dict[str, Any]:
        """What the flow returns and the tick adds up (failed runs named, at most 20)."""
        counts = self.counts()
        failed = [r for r in self.runs if r.status != RunStatus.COMPLETED.value]
        return {
            "batch": batch_label(self.workflow, self.version, len(self.runs)),
            "workflow": self.workflow,
            "version": self.version,
            "flow_run_id": self.flow_run_id,
            "runs": len(self.runs),
            "completed": counts.get(RunStatus.COMPLETED.value, 0),
            "failed": counts.get(RunStatus.FAILED.value, 0),
            "other": len(self.runs) - counts.get("completed", 0) - counts.get("failed", 0),
            "not_completed": [
                {"run_id": r.run_id, "status": r.status, "error": r.error} for r in failed[:_NAMED_FAILURES]
            ],
        }


def _entity(run: Run) -> str:
    trigger = run.trigger or {}
    return str(trigger.get("key") or run.trigger_key)


def _step_counts(run: Run) -> dict[str, int]:
    return dict(Counter(s.status.value for s in run.steps))


@dataclass
class BatchRunner:
    """Runs a batch's runs node by node; each call is one task run in the ``workflow-batch`` flow.

    :meth:`begin` starts (or resumes) every run and gives the nodes in order; :meth:`step` runs one
    node for every run still going; :meth:`finish` ends each run and returns the outcome. Errors of
    one run never reach the caller: they end that run.
    """

    runner: Runner
    workflow: str
    version: int
    run_ids: Sequence[str]
    live: list[str] = field(default_factory=list, init=False)
    not_run: dict[str, str] = field(default_factory=dict, init=False)
    broken: dict[str, str] = field(default_factory=dict, init=False)

    @property
    def workflows(self) -> WorkflowStore:
        """The store the runs live in."""
        return self.runner.workflows

    def begin(self, flow_run_id: str | None = None) -> list[str]:
        """Start each pending (or failed) run, resume each running one; the nodes in the order to run."""
        definition = self.workflows.definition(self.workflow, self.version)[1]
        refs = {r.id: r for r in self.workflows.refs(list(self.run_ids))}
        self.live, self.not_run, self.broken = [], {}, {}
        for run_id in dict.fromkeys(self.run_ids):
            ref = refs.get(run_id)
            if ref is None:
                self.not_run[run_id] = "no such run in the state database"
                continue
            if (ref.workflow, ref.version) != (self.workflow, self.version):
                self.not_run[run_id] = (
                    f"a run of {ref.workflow} v{ref.version}, not of this batch's "
                    f"{self.workflow} v{self.version}"
                )
                continue
            try:
                self.runner.begin(run_id, flow_run_id=flow_run_id)
            except IllegalTransition as exc:  # completed or cancelled since it was batched
                self.not_run[run_id] = str(exc)
            except Exception as exc:  # it did not start: still pending, the next tick runs it
                self.not_run[run_id] = f"not started: {_one_line(exc)}"
                log.warning("workflow %s run %s did not start: %s", self.workflow, run_id, _one_line(exc))
            else:
                self.live.append(run_id)
        return node_order(definition)

    def step(self, node: str, *, task_run_id: str | None = None) -> NodeReport:
        """``node`` of every run still going; a failed step is counted, an unexpected error ends its run."""
        counts: Counter[str] = Counter()
        failures: list[tuple[str, str]] = []
        broken: list[tuple[str, str]] = []
        for run_id in self.live:
            if run_id in self.broken:
                continue
            try:
                outcome = self.runner.step(run_id, node, task_run_id=task_run_id)
            except Exception as exc:
                why = f"step {node}: {_one_line(exc)}"
                self.broken[run_id] = why
                broken.append((run_id, why))
                log.warning("workflow %s run %s broke off: %s", self.workflow, run_id, why)
                continue
            counts[outcome.status.value] += 1
            if outcome.status is StepStatus.FAILED:
                failures.append((run_id, outcome.error or ""))
        return NodeReport(node, dict(counts), tuple(failures), tuple(broken))

    def finish(self, flow_run_id: str | None = None) -> BatchOutcome:
        """End every started run (completed, or failed with its first failed step) and say how each ended."""
        outcomes: dict[str, RunOutcome] = {}
        failed: list[Run] = []
        for run_id in self.live:
            try:
                if run_id in self.broken:
                    run = self.workflows.finish_run(run_id, RunStatus.FAILED, self.broken[run_id])
                else:
                    run = self.runner.finish(run_id)
            except Exception as exc:  # left running: the next tick resumes it
                why = self.broken.get(run_id) or f"not finished: {_one_line(exc)}"
                log.warning("workflow %s run %s not finished: %s", self.workflow, run_id, _one_line(exc))
                outcomes[run_id] = RunOutcome(run_id, "", RunStatus.RUNNING.value, why, {})
                continue
            outcomes[run_id] = RunOutcome(
                run_id, _entity(run), run.status.value, run.error, _step_counts(run)
            )
            if run.status is RunStatus.FAILED and len(failed) < _DETAILED_FAILURES:
                failed.append(run)
        for run_id, why in self.not_run.items():
            outcomes[run_id] = RunOutcome(run_id, "", "not_run", why, {})
        ordered = tuple(outcomes[r] for r in dict.fromkeys(self.run_ids) if r in outcomes)
        return BatchOutcome(self.workflow, self.version, flow_run_id, ordered, tuple(failed))

    def execute(self, flow_run_id: str | None = None) -> BatchOutcome:
        """Begin, every node, finish (what the flow does with a task run per node)."""
        for node in self.begin(flow_run_id):
            self.step(node)
        return self.finish(flow_run_id)


# -- What people read -------------------------------------------------------------------------------------


def _text(value: str | None, limit: int = 300) -> str:
    text = " ".join((value or "").split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _steps_cell(steps: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(steps.items())) or "—"


def batch_markdown(outcome: BatchOutcome) -> str:
    """The batch's artifact: every run's outcome, then the first failed runs step by step."""
    counts = outcome.counts()
    total = len(outcome.runs)
    lines = [
        f"# Workflow batch: {outcome.workflow} v{outcome.version}",
        "",
        f"**{total} run{'' if total == 1 else 's'}: "
        + ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))
        + "**"
        + (f" · flow run `{outcome.flow_run_id}`" if outcome.flow_run_id else ""),
        "",
        "Each run's steps, inputs and outputs: `jtl-automator workflows run-show ID`. A failed run is "
        "retried with the `workflow-run` deployment (its done steps are reused, its side effects keyed).",
        "",
        "| run | entity | status | steps | error |",
        "|---|---|---|---|---|",
    ]
    for run in outcome.runs:
        lines.append(
            f"| `{run.run_id}` | {_text(run.entity, 120)} | {run.status} | {_steps_cell(run.steps)} | "
            f"{_text(run.error)} |"
        )
    failed = counts.get(RunStatus.FAILED.value, 0)
    if outcome.failed:
        shown = len(outcome.failed)
        lines += ["", f"## Failed runs ({shown} of {failed} shown step by step)", ""]
        for failed_run in outcome.failed:
            lines.append(run_markdown(failed_run).replace("# Workflow run:", "### Workflow run:", 1))
    return "\n".join(lines) + "\n"


def tick_summary(started: Sequence[Started], batches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a tick did: per workflow its new runs and note; per batch its outcome; the runs added up.

    A batch whose flow run did not finish is a mapping with ``error`` (its runs are resumed later).
    """
    failed_runs = [
        {**item, "batch": b["batch"]}
        for b in batches
        for item in b.get("not_completed", [])
        if item.get("status") == RunStatus.FAILED.value
    ]
    return {
        "workflows": [
            {
                "workflow": s.workflow,
                "new_runs": len(s.created),
                "seen_before": len(s.existing),
                "to_run": len(s.to_run),
                "note": s.note,
            }
            for s in started
        ],
        "batches": list(batches),
        "runs": sum(int(b.get("runs", 0)) for b in batches),
        "completed": sum(int(b.get("completed", 0)) for b in batches),
        "failed": sum(int(b.get("failed", 0)) for b in batches),
        "failed_runs": failed_runs[:_NAMED_FAILURES],
        "batches_not_finished": [b["batch"] for b in batches if b.get("error")],
    }


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_STALE_AFTER",
    "MAX_BATCH_SIZE",
    "Batch",
    "BatchOutcome",
    "BatchRunner",
    "NodeReport",
    "RunOutcome",
    "batch_label",
    "batch_markdown",
    "plan_batches",
    "stalled",
    "tick_summary",
    "with_stalled",
]
