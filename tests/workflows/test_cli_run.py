"""``workflows run NAME [--dry-run]`` and ``workflows simulate NAME`` against the sandbox over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jtl_automator.cli import app
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.store import StateStore
from jtl_automator.workflows.loader import LoadedWorkflow, parse_workflow
from jtl_automator.workflows.store import RunStatus, WorkflowStore
from tests.workflows.runner_support import Effects, register_effects

pytestmark = pytest.mark.slow

DOC = """\
name: nightly
status: {status}
trigger:
  entity: item
  conditions: [{{field: sku, op: in, value: {skus}}}]
  schedule: {{cron: "0 3 * * *"}}
nodes:
  - id: first
    action: effect
    with: {{label: "{{{{ trigger.sku }}}}", amount: 2}}
  - id: second
    action: effect
    with: {{label: "after {{{{ steps.first.output.label }}}}", amount: "{{{{ steps.first.output.total }}}}"}}
"""


@dataclass
class Env:
    workflows: WorkflowStore
    effects: Effects
    skus: list[str]

    def load(self, status: str = "active") -> None:
        text = DOC.format(status=status, skus=json.dumps(self.skus))
        self.workflows.sync(
            [LoadedWorkflow(Path("/cfg/nightly.yaml"), parse_workflow(text, source="n.yaml"))]
        )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_config: Any) -> Iterator[Env]:
    from jtl_automator.settings import get_settings

    effects = register_effects(monkeypatch)
    config = sandbox_config()
    world = generate(seed=5, skus=40, orders=5, customers=5)
    skus = sorted(i["SKU"] for i in world.wawi.items.values() if i.get("SKU") and not i.get("ParentItemId"))[
        :3
    ]
    with serve_in_thread(create_app(world, config)) as server:
        for name, value in credentials_env(server.base_url, config, None).items():
            monkeypatch.setenv(name, value)
        url = f"sqlite:///{tmp_path / 'state.db'}"
        monkeypatch.setenv("JTL_DATABASE_URL", url)
        get_settings.cache_clear()
        store = StateStore(url)
        try:
            yield Env(WorkflowStore(store), effects, skus)
        finally:
            store.dispose()
            get_settings.cache_clear()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["workflows", *args])
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_then_run_then_run_again(env: Env) -> None:
    env.load()
    code, out, err = _invoke("run", "nightly", "--dry-run")
    assert code == 0, err
    assert "3 of " in out and all(sku in out for sku in env.skus) and "no run recorded" in out
    assert env.workflows.list_runs("nightly") == [] and env.effects.done == []

    code, out, err = _invoke("run", "nightly")
    assert code == 0, err
    assert "3 new runs" in out and "3 completed, 0 failed" in out
    assert len(env.effects.done) == 6
    assert {r.status for r in env.workflows.list_runs("nightly")} == {RunStatus.COMPLETED}


def test_a_failing_step_ends_in_one_line_naming_the_run(env: Env) -> None:
    env.load()
    env.effects.failing.add(f"after {env.skus[0]}")
    code, out, err = _invoke("run", "nightly")
    assert code == 1 and "2 completed, 1 failed" in out
    assert err.count("\n") == 1 and "workflows run-show" in err and "Traceback" not in err


def test_simulate_prints_each_step_and_does_nothing(env: Env) -> None:
    env.load()
    code, out, err = _invoke("simulate", "nightly", "--limit", "1")
    assert code == 0, err
    assert "3 entities fire now; showing 1" in out
    assert "second [effect]: would_run" in out and '"amount": 4' in out
    assert env.effects.done == [] and env.workflows.list_runs("nightly") == []


def test_errors_are_one_line(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _invoke("run", "nope")
    assert code == 1 and err.startswith("Error: no workflow 'nope'") and err.count("\n") == 1
    env.load(status="draft")
    code, _, err = _invoke("run", "nightly")
    assert code == 1 and "only active workflows run" in err and err.count("\n") == 1
