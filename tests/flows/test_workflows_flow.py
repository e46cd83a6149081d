"""The workflow flows end to end: real Prefect, the sandbox over HTTP, SQLite; a test action's effects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

from flows.workflows import workflows_tick
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


def test_the_tick_runs_each_firing_as_a_flow_run_with_a_task_run_per_step(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    effects = register_effects(monkeypatch)
    items = flow_sandbox.state.data.wawi.items.values()
    skus = sorted(i["SKU"] for i in items if i.get("SKU") and not i.get("ParentItemId"))[:2]
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
    assert result["workflows"][0]["new_runs"] == 2 and result["failed"] == 0
    assert sorted(label for _, label, _ in effects.done) == sorted([*skus, *(f"after {s}" for s in skus)])
    runs = workflows.list_runs("every-minute")
    assert {r.status for r in runs} == {RunStatus.COMPLETED}
    run = workflows.get_run(runs[0].id)
    assert run.flow_run_id and all(s.status is StepStatus.SUCCEEDED and s.task_run_id for s in run.steps)

    key = f"workflow-run-{run.id[:12]}"

    async def prefect_view() -> tuple[list[str], list[str]]:
        async with get_client() as client:
            tasks = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.flow_run_id]))
            )
            # by key: the session's server holds every other flow test's artifacts too (one page of them
            # need not include this one)
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            return [t.name for t in tasks], [a.key for a in found if a.key]

    task_names, artifact_keys = anyio.run(prefect_view)
    assert {"first", "second"} <= set(task_names)
    assert key in artifact_keys

    again = workflows_tick()  # the same schedule tick: nothing is done twice
    assert len(effects.done) == 4
    assert again["failed"] == 0
    store.dispose()
