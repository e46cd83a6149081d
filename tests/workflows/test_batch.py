"""Batches of workflow runs: planning and stalled runs (pure), and batches on a real state database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jtl_automator.workflows.batch import (
    MAX_BATCH_SIZE,
    BatchOutcome,
    BatchRunner,
    RunOutcome,
    batch_label,
    batch_markdown,
    plan_batches,
    stalled,
    tick_summary,
    with_stalled,
)
from jtl_automator.workflows.loader import LoadedWorkflow, parse_workflow
from jtl_automator.workflows.runner import Runner, Started
from jtl_automator.workflows.store import RunRef, RunStatus, StepStatus, WorkflowStore
from tests.workflows.runner_support import Effects

NOW = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)


def _ref(
    run_id: str,
    workflow: str = "w",
    version: int = 1,
    status: RunStatus = RunStatus.PENDING,
    flow_run_id: str | None = None,
) -> RunRef:
    return RunRef(run_id, workflow, version, status, flow_run_id)


# -- planning: pure ----------------------------------------------------------------------------------------


def test_batches_hold_one_workflow_version_each_in_order_and_at_most_the_size() -> None:
    refs = [_ref(f"a{i}") for i in range(5)]
    refs += [_ref("b0", "other"), _ref("v2-0", version=2), _ref("a5"), _ref("v2-1", version=2)]
    batches = plan_batches(refs, 2)
    assert [(b.workflow, b.version, b.run_ids) for b in batches] == [
        ("w", 1, ("a0", "a1")),
        ("w", 1, ("a2", "a3")),
        ("w", 1, ("a4", "a5")),
        ("other", 1, ("b0",)),
        ("w", 2, ("v2-0", "v2-1")),
    ]
    assert batches[0].label == "w v1: 2 runs" and batches[3].label == "other v1: 1 run"


def test_a_run_listed_twice_is_batched_once_and_finished_runs_not_at_all() -> None:
    refs = [
        _ref("a"),
        _ref("a"),
        _ref("done", status=RunStatus.COMPLETED),
        _ref("gone", status=RunStatus.CANCELLED),
        _ref("left", status=RunStatus.RUNNING),
        _ref("retry", status=RunStatus.FAILED),
    ]
    assert [b.run_ids for b in plan_batches(refs, 10)] == [("a", "left", "retry")]


def test_two_thousand_runs_make_ten_batches_of_two_hundred() -> None:
    batches = plan_batches([_ref(f"r{i}") for i in range(2000)])
    assert [len(b.run_ids) for b in batches] == [200] * 10
    assert [r for b in batches for r in b.run_ids] == [f"r{i}" for i in range(2000)]


@pytest.mark.parametrize("size", [0, -1, MAX_BATCH_SIZE + 1])
def test_a_batch_size_out_of_range_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="a batch holds 1 to"):
        plan_batches([_ref("a")], size)


def test_nothing_to_run_makes_no_batch() -> None:
    assert plan_batches([], 200) == []
    assert batch_label("w", 3, 0) == "w v3: 0 runs"


# -- stalled runs: pure ------------------------------------------------------------------------------------


def test_a_running_run_is_stalled_when_its_flow_run_is_over() -> None:
    refs = [
        _ref("alive", status=RunStatus.RUNNING, flow_run_id="f-running"),
        _ref("dead", status=RunStatus.RUNNING, flow_run_id="f-crashed"),
        _ref("pending", status=RunStatus.PENDING, flow_run_id="f-crashed"),
    ]
    activity = {r.id: NOW for r in refs}
    assert stalled(refs, activity, {"f-crashed"}, now=NOW) == ["dead"]


def test_a_batch_is_stalled_only_when_none_of_its_runs_moved_for_the_threshold() -> None:
    old, recent = NOW - timedelta(hours=2), NOW - timedelta(minutes=5)
    refs = [
        # one batch: a run untouched for two hours, but its neighbour moved 5 minutes ago: alive
        _ref("quiet", status=RunStatus.RUNNING, flow_run_id="batch-1"),
        _ref("busy", status=RunStatus.RUNNING, flow_run_id="batch-1"),
        # another batch: nothing moved for two hours
        _ref("x", status=RunStatus.RUNNING, flow_run_id="batch-2"),
        _ref("y", status=RunStatus.RUNNING, flow_run_id="batch-2"),
        # a shell's run (no flow run) counts on its own
        _ref("shell", status=RunStatus.RUNNING),
    ]
    activity = {"quiet": old, "busy": recent, "x": old, "y": old, "shell": old}
    assert stalled(refs, activity, set(), now=NOW, stale_after=timedelta(hours=1)) == ["x", "y", "shell"]
    assert stalled(refs, activity, set(), now=NOW, stale_after=timedelta(hours=3)) == []


# -- summaries and the artifact: pure ----------------------------------------------------------------------


def _outcome() -> BatchOutcome:
    runs = (
        RunOutcome("r1", "SKU-1", "completed", None, {"succeeded": 2}),
        RunOutcome("r2", "SKU|2", "failed", "step first: the receiver refused SKU|2", {"failed": 1}),
        RunOutcome("r3", "", "not_run", "run r3 is completed: nothing to run", {}),
    )
    return BatchOutcome("w", 4, "flow-1", runs)


def test_the_batch_artifact_lists_every_runs_outcome() -> None:
    text = batch_markdown(_outcome())
    assert text.startswith("# Workflow batch: w v4\n")
    assert "**3 runs: 1 completed, 1 failed, 1 not run** · flow run `flow-1`" in text
    assert "| `r1` | SKU-1 | completed | 2 succeeded |  |" in text
    assert "| `r2` | SKU\\|2 | failed | 1 failed | step first: the receiver refused SKU\\|2 |" in text
    assert "| `r3` |  | not_run | — | run r3 is completed: nothing to run |" in text


def test_the_tick_adds_up_its_batches_and_names_failed_runs() -> None:
    started = [Started("w", ("r1", "r2"), ("r3",), ("r1", "r2", "r3"), "a note")]
    crashed = {"batch": "w v4: 5 runs", "runs": 5, "error": "crashed: killed"}
    summary = tick_summary(started, [_outcome().summary(), crashed])
    assert summary["workflows"] == [
        {"workflow": "w", "new_runs": 2, "seen_before": 1, "to_run": 3, "note": "a note"}
    ]
    assert (summary["runs"], summary["completed"], summary["failed"]) == (8, 1, 1)
    assert summary["failed_runs"] == [
        {
            "run_id": "r2",
            "status": "failed",
            "error": "step first: the receiver refused SKU|2",
            "batch": "w v4: 3 runs",
        }
    ]
    assert summary["batches_not_finished"] == ["w v4: 5 runs"]


# -- a batch on a real state database (SQLite and PostgreSQL) ----------------------------------------------

DOC = """\
name: chain
status: active
trigger:
  entity: item
  schedule: {cron: "0 6 * * 1"}
nodes:
  - id: first
    action: effect
    with: {label: "{{ trigger.sku }}"}
  - id: second
    action: effect
    with: {label: "after {{ steps.first.output.label }}"}
"""


def _load(workflows: WorkflowStore, text: str = DOC) -> None:
    workflows.sync([LoadedWorkflow(Path("/cfg/w.yaml"), parse_workflow(text, source="w.yaml"))])


def _runs(workflows: WorkflowStore, skus: list[str]) -> list[str]:
    return [
        workflows.create_run("chain", f"k:{sku}", {"entity": "item", "key": sku, "sku": sku})[0].id
        for sku in skus
    ]


def _batch(workflows: WorkflowStore, run_ids: list[str], version: int = 1) -> BatchRunner:
    return BatchRunner(Runner(workflows, clock=lambda: NOW), "chain", version, run_ids)


@pytest.mark.slow
def test_a_failing_run_in_the_middle_fails_alone(workflows: WorkflowStore, effects: Effects) -> None:
    _load(workflows)
    ids = _runs(workflows, ["A", "B", "C"])
    effects.failing.add("B")
    outcome = _batch(workflows, ids).execute("flow-1")
    assert [(r.run_id, r.status) for r in outcome.runs] == [
        (ids[0], "completed"),
        (ids[1], "failed"),
        (ids[2], "completed"),
    ]
    assert outcome.runs[1].error == "step first: RuntimeError: the receiver refused B"
    assert outcome.runs[1].steps == {"failed": 1, "cancelled": 1}
    assert [r.id for r in outcome.failed] == [ids[1]]
    assert sorted(label for _, label, _ in effects.done) == ["A", "C", "after A", "after C"]
    for run_id in ids:  # each run its own record, made by the batch's flow run
        assert workflows.get_run(run_id).flow_run_id == "flow-1"
    # the failed run retried on its own: only its steps run, the others are not touched again
    effects.failing.clear()
    again = _batch(workflows, [ids[1]]).execute("flow-2")
    assert [r.status for r in again.runs] == ["completed"]
    assert sorted(label for _, label, _ in effects.done) == ["A", "B", "C", "after A", "after B", "after C"]
    first = next(s for s in workflows.get_run(ids[1]).steps if s.node == "first")
    assert first.attempts == 2


@pytest.mark.slow
def test_an_unexpected_error_ends_only_its_run(
    workflows: WorkflowStore, effects: Effects, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(workflows)
    ids = _runs(workflows, ["A", "B", "C"])
    runner = Runner(workflows, clock=lambda: NOW)
    step = runner.step

    def flaky(run_id: str, node: str, **kwargs: object) -> object:
        if run_id == ids[1] and node == "second":
            raise ConnectionError("the state database went away")
        return step(run_id, node, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "step", flaky)
    batch = BatchRunner(runner, "chain", 1, ids)
    nodes = batch.begin("flow-1")
    reports = [batch.step(node) for node in nodes]
    assert reports[1].counts == {"succeeded": 2}
    assert reports[1].broken == ((ids[1], "step second: ConnectionError: the state database went away"),)
    outcome = batch.finish("flow-1")
    assert [r.status for r in outcome.runs] == ["completed", "failed", "completed"]
    broken = workflows.get_run(ids[1])
    assert broken.error == "step second: ConnectionError: the state database went away"
    assert {s.node: s.status for s in broken.steps} == {
        "first": StepStatus.SUCCEEDED,
        "second": StepStatus.CANCELLED,
    }


@pytest.mark.slow
def test_a_batch_stopped_midway_resumes_only_what_is_not_done(
    workflows: WorkflowStore, effects: Effects
) -> None:
    _load(workflows)
    ids = _runs(workflows, ["A", "B", "C"])
    batch = _batch(workflows, ids)
    nodes = batch.begin("flow-1")
    batch.step(nodes[0])
    workflows.start_step(ids[0], "second", {"label": "after A"})  # the process died inside this step
    assert {workflows.get_run(i).status for i in ids} == {RunStatus.RUNNING}

    outcome = _batch(workflows, ids).execute("flow-2")  # the next tick resumes the batch's runs
    assert [r.status for r in outcome.runs] == ["completed"] * 3
    assert sorted(label for _, label, _ in effects.done) == ["A", "B", "C", "after A", "after B", "after C"]
    resumed = {s.node: s.attempts for s in workflows.get_run(ids[0]).steps}
    assert resumed == {"first": 1, "second": 2}  # first reused, the interrupted one run again


@pytest.mark.slow
def test_runs_the_batch_cannot_run_are_reported_not_run(workflows: WorkflowStore, effects: Effects) -> None:
    _load(workflows)
    done, fresh = _runs(workflows, ["A", "B"])
    Runner(workflows).execute(done)
    _load(workflows, DOC.replace('label: "{{ trigger.sku }}"', 'label: "v2 {{ trigger.sku }}"'))
    newer = workflows.create_run("chain", "k:C", {"key": "C", "sku": "C"})[0].id  # made for version 2
    outcome = _batch(workflows, [done, fresh, newer, "no-such-run"]).execute()
    by_id = {r.run_id: r for r in outcome.runs}
    assert by_id[fresh].status == "completed"
    assert by_id[done].status == "not_run" and "is completed: nothing to run" in str(by_id[done].error)
    assert by_id[newer].status == "not_run" and by_id[newer].error == (
        "a run of chain v2, not of this batch's chain v1"
    )
    assert by_id["no-such-run"].error == "no such run in the state database"
    assert workflows.get_run(newer).status is RunStatus.PENDING


@pytest.mark.slow
def test_the_store_lists_run_references_and_their_last_activity(
    workflows: WorkflowStore, effects: Effects
) -> None:
    _load(workflows)
    ids = _runs(workflows, ["A", "B", "C"])
    assert [r.id for r in workflows.run_refs("chain", RunStatus.PENDING)] == ids  # oldest first
    runner = Runner(workflows)
    runner.begin(ids[1], flow_run_id="f-1")
    runner.step(ids[1], "first")
    refs = workflows.refs([ids[2], "unknown", ids[1]])
    assert refs == [
        RunRef(ids[2], "chain", 1, RunStatus.PENDING, None),
        RunRef(ids[1], "chain", 1, RunStatus.RUNNING, "f-1"),
    ]
    activity = workflows.last_activity(ids)
    step = next(s for s in workflows.get_run(ids[1]).steps if s.node == "first")
    assert step.finished_at is not None and activity[ids[1]] == step.finished_at
    assert activity[ids[0]] == workflows.get_run(ids[0]).created_at
    assert all(moment.tzinfo is not None for moment in activity.values())
    many = workflows.refs([*ids] * 400)  # more ids than one IN (...) takes
    assert len(many) == 1200


@pytest.mark.slow
def test_the_tick_resumes_runs_a_stopped_batch_left_running(
    workflows: WorkflowStore, effects: Effects
) -> None:
    _load(workflows)
    ids = _runs(workflows, ["A", "B", "C"])
    batch = _batch(workflows, ids[:2])
    batch.begin("crashed-flow")  # A and B running under a flow run Prefect reports crashed
    Runner(workflows).begin(ids[2], flow_run_id="alive-flow")  # C running under a live flow run
    asked: list[set[str]] = []

    def finished(flow_runs: object) -> set[str]:
        asked.append(set(flow_runs))  # type: ignore[call-overload]
        return {"crashed-flow"}

    started = [Started("chain", (), (), ())]
    found = with_stalled(workflows, started, finished, now=datetime.now(UTC))
    assert asked == [{"crashed-flow", "alive-flow"}]
    assert found[0].to_run == (ids[0], ids[1])
    assert found[0].note == "resumed 2 runs a stopped process left running"
    # a workflow that could not be evaluated is left as it is
    skipped = [Started("chain", (), (), (), "not evaluated: Wawi away")]
    assert with_stalled(workflows, skipped, finished, now=datetime.now(UTC)) == skipped
