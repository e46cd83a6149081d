"""The runner: steps in dependency order, guards, templates, failures and resuming, keyed side effects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jtl_automator.workflows.loader import LoadedWorkflow, parse_workflow
from jtl_automator.workflows.runner import (
    Runner,
    effect_key,
    node_order,
    run_markdown,
    simulate,
    simulation_text,
)
from jtl_automator.workflows.store import RunStatus, StepStatus, WorkflowStore
from jtl_automator.workflows.triggers import Firing
from tests.workflows.runner_support import Effects

pytestmark = pytest.mark.slow  # a state database per test

NOW = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)

CHAIN = """\
name: chain
status: active
trigger:
  entity: item
  conditions: [{field: stock, op: lt, value: 10}]
  schedule: {cron: "0 6 * * 1"}
nodes:
  - id: first
    action: effect
    with: {label: "{{ trigger.sku }}", amount: "{{ trigger.stock }}"}
  - id: second
    action: effect
    with: {label: "after {{ steps.first.output.label }}", amount: "{{ steps.first.output.total }}"}
  - id: guarded
    action: effect
    needs: [first]
    if: "{{ steps.first.output.total > 100 }}"
    with: {label: guarded}
  - id: after_guard
    action: effect
    needs: [guarded]
    with: {label: after-guard}
  - id: alone
    action: effect
    needs: []
    with: {label: alone}
"""


def _load(workflows: WorkflowStore, text: str = CHAIN) -> None:
    workflows.sync([LoadedWorkflow(Path("/cfg/w.yaml"), parse_workflow(text, source="w.yaml"))])


def _runner(workflows: WorkflowStore) -> Runner:
    return Runner(workflows, clock=lambda: NOW)


def _trigger(sku: str = "SKU-1", stock: int = 7) -> dict[str, object]:
    return {"entity": "item", "key": sku, "sku": sku, "stock": stock, "source": "schedule"}


def test_a_run_fills_templates_from_trigger_and_earlier_steps(
    workflows: WorkflowStore, effects: Effects
) -> None:
    _load(workflows)
    run, created = workflows.create_run("chain", "v1:schedule:t1:SKU-1", _trigger())
    assert created
    done = _runner(workflows).execute(run.id)
    assert done.status is RunStatus.COMPLETED
    steps = {s.node: s for s in done.steps}
    assert steps["first"].inputs == {"label": "SKU-1", "amount": 7}
    assert steps["first"].output == {"label": "SKU-1", "total": 14}
    assert steps["second"].inputs == {"label": "after SKU-1", "amount": 14}
    # a false guard skips its step, and the step that needs it is skipped with it; the rest run
    assert steps["guarded"].status is StepStatus.SKIPPED and "was false" in steps["guarded"].logs[0]
    assert steps["after_guard"].status is StepStatus.SKIPPED
    assert steps["alone"].status is StepStatus.SUCCEEDED
    assert [label for _, label, _ in effects.done] == ["SKU-1", "alone", "after SKU-1"]  # by readiness
    assert all(s.attempts == 1 for s in done.steps if s.status is StepStatus.SUCCEEDED)
    assert "| first | effect | succeeded | 1 |" in run_markdown(done)


def test_a_failed_step_fails_the_run_cancels_what_needs_it_and_a_rerun_resumes(
    workflows: WorkflowStore,
    effects: Effects,
) -> None:
    _load(workflows)
    run, _ = workflows.create_run("chain", "v1:schedule:t1:SKU-1", _trigger())
    effects.failing.add("after SKU-1")
    failed = _runner(workflows).execute(run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.error == "step second: RuntimeError: the receiver refused after SKU-1"
    steps = {s.node: s for s in failed.steps}
    assert steps["second"].status is StepStatus.FAILED and steps["second"].inputs == {
        "label": "after SKU-1",
        "amount": 14,
    }
    assert steps["alone"].status is StepStatus.SUCCEEDED  # independent of the failure

    effects.failing.clear()
    resumed = _runner(workflows).execute(run.id)
    assert resumed.status is RunStatus.COMPLETED
    steps = {s.node: s for s in resumed.steps}
    assert steps["first"].attempts == 1  # reused, not run again
    assert steps["second"].attempts == 2 and steps["second"].status is StepStatus.SUCCEEDED
    # each side effect happened once, across the failed run and its re-run
    assert sorted(label for _, label, _ in effects.done) == ["SKU-1", "after SKU-1", "alone"]


def test_steps_that_need_a_failed_step_are_cancelled_and_get_their_turn_on_the_rerun(
    workflows: WorkflowStore,
    effects: Effects,
) -> None:
    _load(workflows)
    run, _ = workflows.create_run("chain", "k", _trigger(stock=70))  # total 140: the guard is true
    effects.failing.add("SKU-1")
    failed = _runner(workflows).execute(run.id)
    status = {s.node: s.status for s in failed.steps}
    assert status == {
        "first": StepStatus.FAILED,
        "second": StepStatus.CANCELLED,
        "guarded": StepStatus.CANCELLED,
        "after_guard": StepStatus.CANCELLED,
        "alone": StepStatus.SUCCEEDED,
    }
    effects.failing.clear()
    resumed = _runner(workflows).execute(run.id)
    assert {s.node: s.status for s in resumed.steps} == dict.fromkeys(status, StepStatus.SUCCEEDED)
    assert len(effects.done) == 5


def test_a_side_effect_is_keyed_per_step_of_one_change(workflows: WorkflowStore, effects: Effects) -> None:
    _load(workflows)
    run, _ = workflows.create_run("chain", "v1:schedule:t1:SKU-1", _trigger())
    _runner(workflows).execute(run.id)
    again, created = workflows.create_run("chain", "v1:schedule:t1:SKU-1", _trigger())
    assert not created and again.id == run.id  # a re-trigger finds the run
    keys = {key for key, _, _ in effects.done}
    assert effect_key("chain", 1, "v1:schedule:t1:SKU-1", "first") in keys
    # another change of the same entity is another effect
    other, _ = workflows.create_run("chain", "v1:schedule:t2:SKU-1", _trigger())
    _runner(workflows).execute(other.id)
    assert len(effects.done) == 6
    assert effect_key("chain", 1, "a", "n") != effect_key("chain", 2, "a", "n")


def test_a_value_the_template_fills_wrongly_fails_its_step_naming_node_and_field(
    workflows: WorkflowStore,
    effects: Effects,
) -> None:
    _load(workflows)
    run, _ = workflows.create_run("chain", "k", _trigger(stock=0))  # amount 0: below ge=1
    done = _runner(workflows).execute(run.id)
    first = next(s for s in done.steps if s.node == "first")
    assert first.status is StepStatus.FAILED
    assert first.error is not None and "node 'first', field with.amount" in first.error
    assert "filled value: 0" in first.error
    assert [label for _, label, _ in effects.done] == ["alone"]


def test_a_template_reading_a_missing_value_fails_the_step(
    workflows: WorkflowStore, effects: Effects
) -> None:
    _load(workflows)
    run, _ = workflows.create_run("chain", "k", {"entity": "item", "key": "X"})  # no sku, no stock
    done = _runner(workflows).execute(run.id)
    first = next(s for s in done.steps if s.node == "first")
    assert first.status is StepStatus.FAILED and first.error and "first" in first.error
    assert done.status is RunStatus.FAILED


def test_a_finished_run_is_not_run_again(workflows: WorkflowStore, effects: Effects) -> None:
    _load(workflows)
    run, _ = workflows.create_run("chain", "k", _trigger())
    _runner(workflows).execute(run.id)
    with pytest.raises(Exception, match="completed: nothing to run"):
        _runner(workflows).execute(run.id)
    assert len(effects.done) == 3


def test_simulate_fills_every_step_and_does_nothing(workflows: WorkflowStore, effects: Effects) -> None:
    _load(workflows)
    version, workflow = workflows.definition("chain")
    firing = Firing("chain", version, "SKU-1", "v1:manual:x:SKU-1", _trigger(stock=60))
    sim = simulate(workflow, version, firing, store=workflows.store, now=NOW)
    status = {s.node: s.status for s in sim.steps}
    assert status == {
        "first": "would_run",
        "second": "would_run",
        "guarded": "would_run",
        "after_guard": "would_run",
        "alone": "would_run",
    }
    second = next(s for s in sim.steps if s.node == "second")
    assert second.inputs == {"label": "after SKU-1", "amount": 120}
    assert effects.done == [] and all(simulated for _, simulated in effects.calls)
    assert workflows.list_runs("chain") == []
    text = simulation_text([sim])
    assert "second [effect]: would_run: would do it" in text and '"amount": 120' in text


def test_node_order_puts_needs_first_and_keeps_document_order(effects: Effects) -> None:
    text = CHAIN.replace("needs: []", "needs: [second]")
    workflow = parse_workflow(text)
    assert node_order(workflow) == ["first", "second", "guarded", "after_guard", "alone"]


def test_a_run_a_crash_left_running_is_resumed(workflows: WorkflowStore, effects: Effects) -> None:
    _load(workflows)
    run, _ = workflows.create_run("chain", "k", _trigger())
    runner = _runner(workflows)
    runner.begin(run.id)
    runner.step(run.id, "first")
    workflows.start_step(run.id, "second", {"label": "x"})  # the process died inside this step
    done = _runner(workflows).execute(run.id)
    assert done.status is RunStatus.COMPLETED
    second = next(s for s in done.steps if s.node == "second")
    assert second.attempts == 2 and second.status is StepStatus.SUCCEEDED
    assert sorted(label for _, label, _ in effects.done) == ["SKU-1", "after SKU-1", "alone"]
