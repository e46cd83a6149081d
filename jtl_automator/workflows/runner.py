"""Run a workflow: its steps in dependency order, each recorded, each side effect keyed; and simulate it.

A run is three calls, so the Prefect flow can make each step its own task run and the tests can call
them directly: :meth:`Runner.begin` (the run starts; the order of its nodes), :meth:`Runner.step` (one
node) and :meth:`Runner.finish` (completed, or failed with the first failed step). :meth:`Runner.execute`
is the three in a row.

A step:

- whose status is already succeeded or skipped is left as it is: a re-run of a failed run resumes, its
  done steps' outputs reused, not executed again;
- whose ``needs`` include a failed or cancelled step is cancelled; one that needs a skipped step is
  skipped (it cannot read what never ran);
- whose ``if`` is false is skipped;
- else its ``with:`` block is filled from the trigger and the outputs of the steps it needs, validated
  against the action's parameters, recorded as its inputs, and the action runs with an effect key
  stable per (workflow, version, trigger key, node): a retried step or a re-run finds the side effect
  in the state store's ledger and does not do it again.

:func:`simulate` fills and runs the same steps with ``ctx.simulate`` set: actions then report what they
would do; nothing is recorded and nothing is done.
"""

from __future__ import annotations

import graphlib
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from jtl_automator.correlation import correlated_logger
from jtl_automator.limits import SIDE_EFFECT_KEY_MAX
from jtl_automator.store import StateStore
from jtl_automator.workflows.actions import ActionContext, StepResult, get_action
from jtl_automator.workflows.definition import (
    Node,
    ParamsError,
    RenderError,
    Workflow,
    evaluate_if,
    resolve_params,
    template_context,
)
from jtl_automator.workflows.entities import EntitySource
from jtl_automator.workflows.store import (
    IllegalTransition,
    Run,
    RunStatus,
    Step,
    StepStatus,
    WorkflowStore,
)
from jtl_automator.workflows.triggers import Evaluation, EventFeed, Firing, evaluate

log = correlated_logger("jtl_automator.workflows.runner")

_DONE = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})
_BROKEN = frozenset({StepStatus.FAILED, StepStatus.CANCELLED})


def effect_key(workflow: str, version: int, trigger_key: str, node: str) -> str:
    """A step's side-effect key: the same for every attempt and re-run of one step of one change."""
    digest = hashlib.sha256(trigger_key.encode()).hexdigest()[:32]
    key = f"workflow:{workflow}:v{version}:{digest}:{node}"
    assert len(key) <= SIDE_EFFECT_KEY_MAX
    return key


def node_order(workflow: Workflow) -> list[str]:
    """The nodes in an order that puts every node after the ones it needs (document order on ties)."""
    needs = workflow.needs_of()
    position = {node.id: i for i, node in enumerate(workflow.nodes)}
    sorter = graphlib.TopologicalSorter({n: set(p) for n, p in needs.items()})
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def _json_ready(value: Mapping[str, Any]) -> dict[str, Any]:
    """What a step stores must survive JSON (dates as ISO text; anything else as its text)."""
    return dict(json.loads(json.dumps(dict(value), default=str)))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, RenderError | ParamsError) else f"{type(exc).__name__}: {text}"


@dataclass(frozen=True)
class StepOutcome:
    """What one call of :meth:`Runner.step` did (``reused``: a done step left as it was)."""

    node: str
    status: StepStatus
    output: dict[str, Any] | None = None
    error: str | None = None
    reused: bool = False


def _steps_context(steps: Iterable[Step]) -> dict[str, dict[str, Any]]:
    return {s.node: {"output": s.output or {}, "status": s.status.value} for s in steps}


@dataclass
class Runner:
    """Executes runs recorded in the workflow store with the given clients (``resources``)."""

    workflows: WorkflowStore
    resources: Mapping[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _definitions: dict[tuple[str, int], Workflow] = field(default_factory=dict, init=False, repr=False)

    def _definition(self, name: str, version: int) -> Workflow:
        """A version's document (versions never change once runs use them: cached)."""
        key = (name, version)
        if key not in self._definitions:
            self._definitions[key] = self.workflows.definition(name, version)[1]
        return self._definitions[key]

    @property
    def store(self) -> StateStore:
        """The state store the workflows live in (the actions' side-effect ledger)."""
        return self.workflows.store

    def begin(self, run_id: str, *, flow_run_id: str | None = None) -> list[str]:
        """Start (or resume) a pending or failed run; the nodes in the order to run them."""
        run = self.workflows.get_run(run_id)
        if run.status in (RunStatus.COMPLETED, RunStatus.CANCELLED):
            raise IllegalTransition(f"run {run_id} is {run.status.value}: nothing to run")
        if run.status is not RunStatus.RUNNING:
            run = self.workflows.start_run(run_id, flow_run_id=flow_run_id)
        return node_order(self._definition(run.workflow, run.version))

    def step(self, run_id: str, node_id: str, *, task_run_id: str | None = None) -> StepOutcome:
        """Run one node of a running run (or leave it, see the module docstring)."""
        run = self.workflows.get_run(run_id)
        workflow = self._definition(run.workflow, run.version)
        steps = {s.node: s for s in run.steps}
        mine = steps[node_id]
        if mine.status in _DONE:
            return StepOutcome(node_id, mine.status, mine.output, reused=True)
        if mine.status is StepStatus.RUNNING:  # a crash left it: record that, then run it again
            self.workflows.finish_step(
                run_id, node_id, StepStatus.FAILED, error="interrupted: the process running it stopped"
            )
        node = next(n for n in workflow.nodes if n.id == node_id)
        parents = workflow.needs_of()[node_id]
        broken = [p for p in parents if steps[p].status in _BROKEN]
        if broken:
            why = f"cancelled: it needs {', '.join(broken)}, which did not succeed"
            self.workflows.finish_step(run_id, node_id, StepStatus.CANCELLED, logs=[why])
            return StepOutcome(node_id, StepStatus.CANCELLED, error=why)
        skipped = [p for p in parents if steps[p].status is StepStatus.SKIPPED]
        if skipped:
            why = f"skipped: it needs {', '.join(skipped)}, which was skipped"
            self.workflows.finish_step(run_id, node_id, StepStatus.SKIPPED, logs=[why])
            return StepOutcome(node_id, StepStatus.SKIPPED)
        now = self.clock()
        context = template_context(
            trigger=run.trigger or {},
            steps=_steps_context(steps.values()),
            workflow={"name": run.workflow, "version": run.version, "run_id": run.id},
            now=now,
            visible=workflow.ancestors()[node_id],
        )
        try:
            go = evaluate_if(node, context)
        except RenderError as exc:
            return self._fail(run_id, node_id, None, _one_line(exc), task_run_id)
        if not go:
            self.workflows.finish_step(
                run_id, node_id, StepStatus.SKIPPED, logs=[f"skipped: if {node.if_} was false"]
            )
            return StepOutcome(node_id, StepStatus.SKIPPED)
        action = get_action(node.action)
        try:
            filled, params = resolve_params(node, action.params, context)
        except (RenderError, ParamsError) as exc:
            return self._fail(run_id, node_id, None, _one_line(exc), task_run_id)
        inputs = _json_ready(filled)
        self.workflows.start_step(run_id, node_id, inputs, task_run_id=task_run_id)
        ctx = ActionContext(
            store=self.store,
            run_id=run_id,
            effect_key=effect_key(run.workflow, run.version, run.trigger_key, node_id),
            now=now,
            simulate=False,
            resources=self.resources,
        )
        try:
            result = action.run(params, ctx)
        except Exception as exc:  # an action's failure is the step's, recorded; the run goes on
            error = _one_line(exc)
            log.warning("workflow %s run %s step %s failed: %s", run.workflow, run_id, node_id, error)
            self.workflows.finish_step(run_id, node_id, StepStatus.FAILED, error=error)
            return StepOutcome(node_id, StepStatus.FAILED, error=error)
        output = _json_ready(result.output)
        self.workflows.finish_step(run_id, node_id, StepStatus.SUCCEEDED, output=output, logs=_logs(result))
        return StepOutcome(node_id, StepStatus.SUCCEEDED, output)

    def _fail(
        self, run_id: str, node_id: str, inputs: dict[str, Any] | None, error: str, task_run_id: str | None
    ) -> StepOutcome:
        self.workflows.start_step(run_id, node_id, inputs, task_run_id=task_run_id)
        self.workflows.finish_step(run_id, node_id, StepStatus.FAILED, error=error)
        return StepOutcome(node_id, StepStatus.FAILED, error=error)

    def finish(self, run_id: str) -> Run:
        """End the run: failed with its first failed step's error, else completed."""
        run = self.workflows.get_run(run_id)
        failed = [s for s in run.steps if s.status is StepStatus.FAILED]
        if failed:
            first = failed[0]
            return self.workflows.finish_run(run_id, RunStatus.FAILED, f"step {first.node}: {first.error}")
        return self.workflows.finish_run(run_id, RunStatus.COMPLETED)

    def execute(self, run_id: str) -> Run:
        """Begin, every step, finish (what the flow does with a task run per step)."""
        for node_id in self.begin(run_id):
            self.step(run_id, node_id)
        return self.finish(run_id)


def _logs(result: StepResult) -> list[str]:
    lines = [result.summary] if result.summary else []
    lines += [f"done: {key}" for key in result.effects]
    lines += [f"already done, not repeated: {key}" for key in result.repeated]
    return lines


# -- Firing: runs from an evaluation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """The runs an evaluation made (``created``) and those it found already there."""

    workflow: str
    created: tuple[str, ...]
    existing: tuple[str, ...]
    to_run: tuple[str, ...]
    note: str = ""


def record_runs(workflows: WorkflowStore, evaluation: Evaluation) -> Started:
    """One run per firing (the store keeps one per trigger key), then the watermarks move on.

    ``to_run``: the new runs and any pending one a crash left before it ran.
    """
    created: list[str] = []
    existing: list[str] = []
    to_run: list[str] = []
    for firing in evaluation.firings:
        run, made = workflows.create_run(firing.workflow, firing.trigger_key, firing.trigger)
        (created if made else existing).append(run.id)
        if run.status is RunStatus.PENDING:
            to_run.append(run.id)
    evaluation.commit(workflows.store)
    return Started(evaluation.workflow, tuple(created), tuple(existing), tuple(to_run), evaluation.note)


def fire(
    workflows: WorkflowStore,
    name: str,
    *,
    source: EntitySource,
    now: datetime | None = None,
    events: EventFeed | None = None,
    manual: bool = False,
) -> Started:
    """Evaluate one active workflow's trigger now and record its runs."""
    version, workflow = workflows.definition(name)
    evaluation = evaluate(
        workflow, version, source=source, store=workflows.store, now=now, events=events, manual=manual
    )
    return record_runs(workflows, evaluation)


def evaluate_active(
    workflows: WorkflowStore,
    source: EntitySource,
    *,
    events: EventFeed | None = None,
    now: datetime | None = None,
    names: Sequence[str] | None = None,
) -> list[Started]:
    """Every active workflow (or ``names``) evaluated once, sharing one source's bulk reads.

    A workflow whose entities cannot be read (an API that keeps failing) is reported in its note;
    the others still fire.
    """
    from jtl_automator.clients.errors import JtlApiError
    from jtl_automator.workflows.entities import EntityReadError

    moment = now or datetime.now(UTC)
    found: list[Started] = []
    for version, workflow in workflows.active():
        if names is not None and workflow.name not in names:
            continue
        seen = len(source.skipped)
        try:
            evaluation = evaluate(
                workflow, version, source=source, store=workflows.store, now=moment, events=events
            )
        except (EntityReadError, JtlApiError) as exc:
            log.warning("workflow %s: trigger not evaluated: %s", workflow.name, _one_line(exc))
            found.append(Started(workflow.name, (), (), (), f"not evaluated: {_one_line(exc)}"))
            continue
        started = record_runs(workflows, evaluation)
        if len(source.skipped) > seen:  # malformed rows this workflow's reads left out (custom fields, ...)
            new = source.skipped[seen:]
            for row in new:
                log.warning("workflow %s: left out a malformed row: %s", workflow.name, row)
            more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
            note = f"left out malformed: {new[0]}{more}"
            started = replace(started, note=f"{started.note}; {note}" if started.note else note)
        # runs a crashed tick recorded but never ran (their watermark has moved on: no firing finds them)
        planned = set(started.to_run)
        left = workflows.run_refs(workflow.name, RunStatus.PENDING)
        extra = tuple(r.id for r in left if r.id not in planned)
        found.append(replace(started, to_run=started.to_run + extra) if extra else started)
    return found


# -- Simulation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedStep:
    """What a step would do: ``would_run`` (with its inputs and the action's report), skipped, or an error."""

    node: str
    action: str
    status: str  # would_run | skipped | failed | cancelled
    inputs: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    summary: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Simulation:
    """One firing's simulated steps."""

    trigger_key: str
    entity_key: str
    steps: tuple[SimulatedStep, ...]


def simulate(
    workflow: Workflow,
    version: int,
    firing: Firing,
    *,
    store: StateStore,
    resources: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Simulation:
    """Fill and run every step with ``simulate=True``: nothing recorded, no side effect."""
    moment = now or datetime.now(UTC)
    needs = workflow.needs_of()
    ancestors = workflow.ancestors()
    by_id = {node.id: node for node in workflow.nodes}
    statuses: dict[str, str] = {}
    outputs: dict[str, dict[str, Any]] = {}
    results: list[SimulatedStep] = []
    for node_id in node_order(workflow):
        node: Node = by_id[node_id]
        parents = needs[node_id]
        if any(statuses[p] in ("failed", "cancelled") for p in parents):
            statuses[node_id] = "cancelled"
            results.append(
                SimulatedStep(node_id, node.action, "cancelled", error="a step it needs would fail")
            )
            continue
        if any(statuses[p] == "skipped" for p in parents):
            statuses[node_id] = "skipped"
            results.append(
                SimulatedStep(node_id, node.action, "skipped", summary="a step it needs is skipped")
            )
            continue
        context = template_context(
            trigger=firing.trigger,
            steps={
                k: {"output": outputs.get(k, {}), "status": "succeeded" if s == "would_run" else s}
                for k, s in statuses.items()
            },
            workflow={"name": workflow.name, "version": version, "run_id": "simulation"},
            now=moment,
            visible=ancestors[node_id],
        )
        try:
            if not evaluate_if(node, context):
                statuses[node_id] = "skipped"
                results.append(
                    SimulatedStep(node_id, node.action, "skipped", summary=f"if {node.if_} is false")
                )
                continue
            action = get_action(node.action)
            filled, params = resolve_params(node, action.params, context)
            ctx = ActionContext(
                store=store,
                run_id="simulation",
                effect_key=effect_key(workflow.name, version, firing.trigger_key, node_id),
                now=moment,
                simulate=True,
                resources=resources or {},
            )
            result = action.run(params, ctx)
        except Exception as exc:
            statuses[node_id] = "failed"
            results.append(SimulatedStep(node_id, node.action, "failed", error=_one_line(exc)))
            continue
        statuses[node_id] = "would_run"
        outputs[node_id] = _json_ready(result.output)
        results.append(
            SimulatedStep(
                node_id, node.action, "would_run", _json_ready(filled), outputs[node_id], result.summary
            )
        )
    return Simulation(firing.trigger_key, firing.entity_key, tuple(results))


# -- What people read ---------------------------------------------------------------------------------------


def _cell(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if value is not None else ""
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_markdown(run: Run) -> str:
    """A run at a glance: status, trigger, and per step its status, resolved inputs and output."""
    lines = [
        f"# Workflow run: {run.workflow} v{run.version}",
        "",
        f"**{run.status.value}** · run `{run.id}` · trigger `{run.trigger_key}`",
    ]
    if run.error:
        lines += ["", f"Error: {run.error}"]
    trigger = run.trigger or {}
    if trigger:
        lines += [
            "",
            f"Trigger: {trigger.get('entity', '')} `{trigger.get('key', '')}` ({trigger.get('source', '')})",
        ]
    lines += [
        "",
        "| step | action | status | attempts | inputs | output / error |",
        "|---|---|---|---|---|---|",
    ]
    for step in run.steps:
        result = step.error if step.error else _cell(step.output)
        lines.append(
            f"| {step.node} | {step.action} | {step.status.value} | {step.attempts} | "
            f"{_cell(step.inputs)} | {result} |"
        )
    return "\n".join(lines) + "\n"


def simulation_text(simulations: Sequence[Simulation]) -> str:
    """The simulate command's output: per firing, what each step would do."""
    if not simulations:
        return "no entity fires this workflow now: nothing would run"
    out: list[str] = []
    for sim in simulations:
        out.append(f"{sim.entity_key} (trigger {sim.trigger_key}):")
        for step in sim.steps:
            detail = step.error or step.summary
            out.append(f"  {step.node} [{step.action}]: {step.status}" + (f": {detail}" if detail else ""))
            if step.inputs is not None:
                out.append(f"    inputs: {_cell(step.inputs, 500)}")
            if step.output is not None:
                out.append(f"    would produce: {_cell(step.output, 500)}")
    return "\n".join(out)


__all__ = [
    "Runner",
    "SimulatedStep",
    "Simulation",
    "Started",
    "StepOutcome",
    "effect_key",
    "evaluate_active",
    "fire",
    "node_order",
    "record_runs",
    "run_markdown",
    "simulate",
    "simulation_text",
]
