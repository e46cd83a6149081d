"""The workflow flows end to end: real Prefect, the sandbox over HTTP, SQLite; a test action's effects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

from flows.workflows import workflow_run, workflows_tick
from jtl_automator.store import StateStore
from jtl_automator.workflows.loader import LoadedWorkflow, parse_workflow
from jtl_automator.workflows.store import RunStatus, StepStatus, WorkflowStore
from jtl_automator.workflows.triggers import mark
from tests.flows.conftest import FlowSandbox
from tests.workflows.runner_support import register_effects

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

DOC = """\
name: every-minute
status: active
trigger:
  entity: item
  conditions: [{{field: sku, op: in, value: {skus}}}]
  schedule: {{cron: "0 0 1 * *"}}
nodes:
  - id: first
    action: effect
    with: {{label: "{{{{ trigger.sku }}}}"}}
  - id: second
    action: effect
    with: {{label: "after {{{{ steps.first.output.label }}}}", amount: "{{{{ steps.first.output.total }}}}"}}
"""


def test_the_tick_runs_its_firings_as_one_batch_and_a_failing_run_in_the_middle_fails_alone(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    effects = register_effects(monkeypatch)
    items = flow_sandbox.state.data.wawi.items.values()
    skus = sorted(i["SKU"] for i in items if i.get("SKU") and not i.get("ParentItemId"))[:3]
    effects.failing.add(skus[1])  # the receiver refuses the middle run's first step
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    workflows = WorkflowStore(store)
    text = DOC.format(skus=json.dumps(skus))  # quoted: YAML reads 00001 as the number 1
    workflows.sync([LoadedWorkflow(Path("/cfg/w.yaml"), parse_workflow(text, source="w.yaml"))])
    # Monthly ticks since 33 days ago: the latest first of a month is due; the next is weeks away, so a
    # second tick (however slow this machine is) finds nothing new to fire.
    store.reset_watermark(
        mark("every-minute", "schedule"), (datetime.now(UTC) - timedelta(days=33)).isoformat()
    )

    result = workflows_tick()
    assert result["workflows"][0]["new_runs"] == 3
    assert (result["runs"], result["completed"], result["failed"]) == (3, 2, 1)
    assert [b["batch"] for b in result["batches"]] == ["every-minute v1: 3 runs"]
    ok = [skus[0], skus[2]]
    assert sorted(label for _, label, _ in effects.done) == sorted([*ok, *(f"after {s}" for s in ok)])
    by_sku = {(r.trigger or {})["sku"]: workflows.get_run(r.id) for r in workflows.list_runs("every-minute")}
    assert [by_sku[s].status for s in skus] == [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.COMPLETED]
    failed = by_sku[skus[1]]
    assert result["failed_runs"][0]["run_id"] == failed.id
    assert failed.error == f"step first: RuntimeError: the receiver refused {skus[1]}"
    assert {s.node: s.status for s in failed.steps} == {
        "first": StepStatus.FAILED,
        "second": StepStatus.CANCELLED,
    }
    # every run its own record, all made by the one batch flow run; a node's steps share its task run
    flow_run_ids = {run.flow_run_id for run in by_sku.values()}
    assert len(flow_run_ids) == 1 and None not in flow_run_ids
    batch_flow_run = str(flow_run_ids.pop())
    done = by_sku[skus[0]]
    first_task = {s.node: s.task_run_id for s in done.steps}
    assert all(first_task.values()) and first_task["first"] != first_task["second"]
    assert {s.node: s.task_run_id for s in by_sku[skus[2]].steps} == first_task

    key = f"workflow-batch-{batch_flow_run.replace('-', '')[:12]}"

    async def prefect_view() -> tuple[str, list[str], list[str]]:
        async with get_client() as client:
            flow = await client.read_flow_run(UUID(batch_flow_run))
            tasks = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(batch_flow_run)]))
            )
            # by key: the session's server holds every other flow test's artifacts too (one page of them
            # need not include this one)
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            return flow.name, [t.name for t in tasks], [str(a.data) for a in found]

    name, task_names, artifacts = anyio.run(prefect_view)
    assert name == "every-minute v1: 3 runs"
    # begin, one per node (named after it), finish, publish: not a task run per step of every run
    kinds = sorted(n.rsplit("-", 1)[0] if n.startswith("workflow-batch") else n for n in task_names)
    assert kinds == [
        "first",
        "second",
        "workflow-batch-begin",
        "workflow-batch-finish",
        "workflow-batch-publish",
    ]
    assert len(artifacts) == 1
    for run in by_sku.values():
        assert f"| `{run.id}` |" in artifacts[0]
    assert (
        f"| failed | 1 cancelled, 1 failed | step first: RuntimeError: the receiver refused {skus[1]} |"
        in (artifacts[0])
    )

    again = workflows_tick()  # the same schedule tick: nothing is done twice, the failed run stays failed
    assert len(effects.done) == 4 and again["runs"] == 0
    effects.failing.clear()
    retried = workflow_run(failed.id)  # a failed run is retried on its own; the others are not touched
    assert retried["status"] == "completed"
    assert sorted(label for _, label, _ in effects.done) == sorted([*skus, *(f"after {s}" for s in skus)])
    store.dispose()
