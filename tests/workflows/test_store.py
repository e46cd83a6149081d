"""Workflows in the state database, on SQLite and PostgreSQL: versions, statuses, runs and steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from jtl_automator.store import StateStore
from jtl_automator.workflows.definition import WorkflowStatus
from jtl_automator.workflows.loader import LoadedWorkflow, WorkflowFileError, parse_workflow
from jtl_automator.workflows.store import (
    IllegalTransition,
    RunNotFound,
    RunStatus,
    StepStatus,
    WorkflowNotFound,
    WorkflowStore,
    trigger_key,
)
from tests.support.migrations import database_at, downgrade_to, schema_diff, tables

pytestmark = pytest.mark.slow  # a state database per test

DOC = """\
name: {name}
status: {status}
trigger:
  entity: item
  conditions: [{{field: cover_days, op: gt, value: {cover}}}]
  schedule: {{cron: "0 6 * * 1"}}
nodes:
  - id: plan
    action: plan_stub
    with: {{kind: markdown}}
  - id: mail
    action: email_stub
    with:
      to: [a@example.com]
      subject: "{{{{ trigger.sku }}}}"
      body: "plan {{{{ steps.plan.output.plan_id }}}}"
"""


def _loaded(name: str = "markdown", status: str = "draft", cover: int = 180) -> LoadedWorkflow:
    text = DOC.format(name=name, status=status, cover=cover)
    return LoadedWorkflow(Path(f"/cfg/{name}.yaml"), parse_workflow(text, source=f"{name}.yaml"))


@pytest.fixture
def workflows(store_url: str, stub_actions: dict[str, type[BaseModel]]) -> Iterator[WorkflowStore]:
    store = StateStore(store_url)
    try:
        yield WorkflowStore(store)
    finally:
        store.dispose()


def test_sync_makes_versions_only_for_changes(workflows: WorkflowStore) -> None:
    first = workflows.sync([_loaded(status="active")])
    assert [(c.name, c.change, c.version, c.status) for c in first.changes] == [
        ("markdown", "new", 1, "active")
    ]
    again = workflows.sync([_loaded(status="active")])
    assert [(c.change, c.version) for c in again.changes] == [("unchanged", 1)]
    changed = workflows.sync([_loaded(status="active", cover=200)])
    assert [(c.change, c.version) for c in changed.changes] == [("new_version", 2)]
    detail = workflows.get("markdown")
    assert [v.version for v in detail.versions] == [2, 1] and detail.info.current_version == 2
    assert detail.current.document["trigger"]["conditions"][0]["value"] == 200
    assert detail.versions[1].workflow().trigger.conditions[0].value == 180  # the old one is kept
    assert workflows.definition("markdown", 1)[1].trigger.conditions[0].value == 180
    with pytest.raises(WorkflowNotFound, match="workflow 'markdown' has no version 3; it has 1 to 2"):
        workflows.definition("markdown", 3)


def test_a_draft_is_replaced_in_place_until_it_is_activated(workflows: WorkflowStore) -> None:
    workflows.sync([_loaded()])
    assert workflows.sync([_loaded(cover=150)]).changes[0].change == "draft_updated"
    detail = workflows.get("markdown")
    assert len(detail.versions) == 1 and detail.current.document["trigger"]["conditions"][0]["value"] == 150
    workflows.set_status("markdown", WorkflowStatus.ACTIVE)
    assert workflows.sync([_loaded(cover=160)]).changes[0].version == 2


def test_status_transitions_and_the_files_status(workflows: WorkflowStore) -> None:
    workflows.sync([_loaded()])
    with pytest.raises(
        IllegalTransition,
        match="cannot make workflow 'markdown' paused: it is draft; a draft "
        "workflow can become active or archived",
    ):
        workflows.set_status("markdown", WorkflowStatus.PAUSED)
    assert workflows.set_status("markdown", WorkflowStatus.ACTIVE).status == "active"
    assert workflows.set_status("markdown", WorkflowStatus.PAUSED).status == "paused"
    # the file still says draft, unchanged: the person's pause stands
    assert workflows.sync([_loaded()]).changes[0].status == "paused"
    # the file now says active: it moves
    moved = workflows.sync([_loaded(status="active")]).changes[0]
    assert moved.status == "active" and moved.note == "status paused → active (the file's status changed)"
    # a status it cannot become is reported, not applied
    back = workflows.sync([_loaded(status="draft")]).changes[0]
    assert back.status == "active" and "which a active workflow cannot become" in back.note
    assert workflows.set_status("markdown", WorkflowStatus.ARCHIVED).status == "archived"
    with pytest.raises(IllegalTransition, match="it is archived; archived is final"):
        workflows.set_status("markdown", WorkflowStatus.ACTIVE)
    refused = workflows.sync([_loaded(status="active", cover=1)]).changes[0]
    assert refused.change == "refused" and "archived is final" in refused.note
    assert workflows.get("markdown").info.current_version == 1


def test_list_and_files_that_went_away(workflows: WorkflowStore) -> None:
    workflows.sync([_loaded("b"), _loaded("a", status="active")])
    assert [(w.name, w.status) for w in workflows.list_workflows()] == [("a", "active"), ("b", "draft")]
    assert [w.name for w in workflows.list_workflows(WorkflowStatus.ACTIVE)] == ["a"]
    assert workflows.sync([_loaded("a", status="active")]).without_file == ("b",)
    assert [wf.name for _, wf in workflows.active()] == ["a"]
    with pytest.raises(WorkflowNotFound, match="no workflow 'c' in the state database; load the files"):
        workflows.get("c")


def test_sync_folder_refuses_invalid_files_whole(workflows: WorkflowStore, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DOC.format(name="a", status="draft", cover=1), encoding="utf-8")
    (tmp_path / "b.yaml").write_text("name: b\n", encoding="utf-8")
    with pytest.raises(WorkflowFileError, match=r"b\.yaml:1: trigger: Field required"):
        workflows.sync_folder(tmp_path)
    assert workflows.list_workflows() == []  # nothing half-loaded


def test_a_run_and_its_steps(workflows: WorkflowStore) -> None:
    workflows.sync([_loaded(status="active")])
    run, created = workflows.create_run("markdown", "schedule:2026-11-30T06:00", {"sku": "A-1"})
    assert created and run.status == "pending" and run.version == 1
    assert [(s.node, s.action, s.status, s.attempts) for s in run.steps] == [
        ("plan", "plan_stub", "pending", 0),
        ("mail", "email_stub", "pending", 0),
    ]
    same, created = workflows.create_run("markdown", "schedule:2026-11-30T06:00", {"sku": "A-1"})
    assert not created and same.id == run.id  # once per entity per change
    with pytest.raises(IllegalTransition, match=r"run .* is pending: start it before its steps"):
        workflows.start_step(run.id, "plan", {})
    workflows.start_run(run.id, flow_run_id="flow-1")
    step = workflows.start_step(run.id, "plan", {"kind": "markdown"}, task_run_id="task-1")
    assert step.status == "running" and step.attempts == 1 and step.inputs == {"kind": "markdown"}
    failed = workflows.finish_step(run.id, "plan", StepStatus.FAILED, error="HTTP 503", logs=["try 1"])
    assert failed.error == "HTTP 503"
    workflows.start_step(run.id, "plan", {"kind": "markdown"})  # a retry
    done = workflows.finish_step(run.id, "plan", StepStatus.SUCCEEDED, output={"plan_id": 7}, logs=["try 2"])
    assert done.attempts == 2 and done.output == {"plan_id": 7} and done.logs == ("try 1", "try 2")
    assert done.error is None
    with pytest.raises(
        IllegalTransition, match=r"step 'plan' of run .* is succeeded and cannot become running"
    ):
        workflows.start_step(run.id, "plan", {})
    workflows.finish_step(run.id, "mail", StepStatus.SKIPPED)
    finished = workflows.finish_run(run.id, RunStatus.COMPLETED)
    assert finished.status == "completed" and finished.flow_run_id == "flow-1" and finished.finished_at
    shown = workflows.get_run(run.id)
    assert [(s.node, s.status) for s in shown.steps] == [("plan", "succeeded"), ("mail", "skipped")]
    assert shown.steps[0].task_run_id == "task-1" and shown.trigger == {"sku": "A-1"}
    assert shown.started_at is not None and shown.started_at.tzinfo is not None
    with pytest.raises(IllegalTransition, match="is completed and cannot become running"):
        workflows.start_run(run.id)


def test_a_failed_run_cancels_its_open_steps_and_may_be_retried(workflows: WorkflowStore) -> None:
    workflows.sync([_loaded(status="active")])
    run, _ = workflows.create_run("markdown", "k1")
    workflows.start_run(run.id)
    workflows.start_step(run.id, "plan", {})
    failed = workflows.finish_run(run.id, RunStatus.FAILED, error="boom " * 5000)
    assert failed.status == "failed" and failed.error is not None and len(failed.error) == 10_000
    assert [s.status for s in failed.steps] == ["cancelled", "cancelled"]
    assert workflows.start_run(run.id).status == "running"
    with pytest.raises(ValueError, match="a run finishes as completed, failed or cancelled, not running"):
        workflows.finish_run(run.id, RunStatus.RUNNING)


def test_runs_are_listed_newest_first_and_only_active_workflows_run(workflows: WorkflowStore) -> None:
    workflows.sync([_loaded()])
    with pytest.raises(IllegalTransition, match="workflow 'markdown' is draft: only active workflows run"):
        workflows.create_run("markdown", "k")
    workflows.set_status("markdown", WorkflowStatus.ACTIVE)
    ids = [workflows.create_run("markdown", f"k{i}")[0].id for i in range(3)]
    workflows.start_run(ids[0])
    workflows.finish_run(ids[0], RunStatus.CANCELLED)
    listed = workflows.list_runs("markdown")
    assert {r.id for r in listed} == set(ids) and listed[0].created_at >= listed[-1].created_at
    assert [r.id for r in workflows.list_runs("markdown", status=RunStatus.CANCELLED)] == [ids[0]]
    assert len(workflows.list_runs("markdown", limit=2)) == 2
    workflows.sync([_loaded(status="active", cover=1)])  # a new version: old runs keep theirs
    assert workflows.create_run("markdown", "k9")[0].version == 2
    assert workflows.get_run(ids[1]).version == 1
    with pytest.raises(RunNotFound, match="no workflow run 'nope'"):
        workflows.get_run("nope")
    workflows.start_run(ids[1])
    with pytest.raises(RunNotFound, match="has no step 'x'"):
        workflows.start_step(ids[1], "x", {})
    with pytest.raises(ValueError, match="a trigger key has 1 to 300 characters"):
        workflows.create_run("markdown", "k" * 301)


def test_the_unique_keys_hold_in_the_database(workflows: WorkflowStore) -> None:
    workflows.sync([_loaded(status="active")])
    workflows.create_run("markdown", "k")
    with pytest.raises(sa.exc.IntegrityError), workflows.store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO workflow_runs (id, workflow_id, version, trigger_key, status, created_at) "
                "SELECT 'other', workflow_id, 1, 'k', 'pending', CURRENT_TIMESTAMP FROM workflow_runs"
            )
        )


@pytest.mark.slow
def test_the_migration_adds_the_tables_keeping_rows_and_goes_back(store_url: str) -> None:
    database_at(
        store_url,
        "b7d3e5a1c2f4",
        "INSERT INTO watermarks (job, value, updated_at) VALUES ('w', 'x', CURRENT_TIMESTAMP)",
    )
    assert "workflows" not in tables(store_url)
    store = StateStore(store_url)
    try:
        assert store.get_watermark("w") == "x"
        assert {"workflows", "workflow_versions", "workflow_runs", "workflow_steps"} <= tables(store_url)
        assert schema_diff(store, "workflow") == []
        if store.dialect == "postgresql":
            assert schema_diff(store) == []
    finally:
        store.dispose()
    downgrade_to(store_url, "b7d3e5a1c2f4")
    left = tables(store_url)
    assert not {"workflows", "workflow_versions", "workflow_runs", "workflow_steps"} & left
    assert "watermarks" in left and "plan_runs" in left


def test_concurrent_triggers_of_one_change_make_one_run(workflows: WorkflowStore) -> None:
    """Eight threads see the same change at once: one run is made, all get it."""
    from concurrent.futures import ThreadPoolExecutor

    workflows.sync([_loaded(status="active")])
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: workflows.create_run("markdown", "same-change"), range(8)))
    assert len({run.id for run, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(workflows.get_run(results[0][0].id).steps) == 2


def test_trigger_keys_fit_the_column_and_stay_unique() -> None:
    assert (
        trigger_key("stock_changed", "A-1@W1", "2026-11-30T06:00") == "stock_changed:A-1@W1:2026-11-30T06:00"
    )
    long_a = trigger_key("stock_changed", "S" * 255 + "@" + "W" * 255, 1)
    long_b = trigger_key("stock_changed", "S" * 255 + "@" + "W" * 255, 2)
    assert len(long_a) == len(long_b) == 300 and long_a != long_b and long_a.startswith("stock_changed:SSS")
