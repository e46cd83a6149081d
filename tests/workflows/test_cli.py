"""``jtl-automator workflows …``: validate, load, list, show, status moves, runs; one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from jtl_automator.cli import app
from jtl_automator.store import StateStore
from jtl_automator.workflows.store import RunStatus, StepStatus, WorkflowStore

pytestmark = pytest.mark.slow  # a state database per test

DOC = """\
name: {name}
description: Slow movers go on the markdown plan.
status: {status}
trigger:
  entity: item
  tags:
    include_any: [{{category: Saison}}]
  conditions: [{{field: cover_days, op: gt, value: 180}}]
  schedule: {{cron: "0 6 * * 1"}}
nodes:
  - id: plan
    action: plan_stub
    with: {{kind: markdown}}
"""


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stub_actions: dict[str, type[BaseModel]]
) -> Iterator[tuple[Path, WorkflowStore]]:
    """A workflows folder and a state database the commands find through the environment."""
    from jtl_automator.settings import get_settings

    folder = tmp_path / "workflows"
    folder.mkdir()
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("JTL_DATABASE_URL", url)
    monkeypatch.setenv("JTL_WORKFLOWS_DIR", str(folder))
    get_settings.cache_clear()
    store = StateStore(url)
    try:
        yield folder, WorkflowStore(store)
    finally:
        store.dispose()
        get_settings.cache_clear()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["workflows", *args])
    return result.exit_code, result.stdout, result.stderr


def _write(folder: Path, name: str, status: str = "draft") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(DOC.format(name=name, status=status), encoding="utf-8")
    return path


def test_validate_lists_the_workflows_or_every_mistake(env: tuple[Path, WorkflowStore]) -> None:
    folder, _ = env
    assert _invoke("validate") == (0, "no workflow files found\n", "")
    path = _write(folder, "markdown")
    code, out, err = _invoke("validate")
    assert code == 0 and err == ""
    assert out == (
        "ok  markdown  (draft; item cron '0 6 * * 1' (Europe/Berlin); tags: category:Saison; "
        f"cover_days gt 180; 1 node(s))  {path}\n"
    )
    (folder / "bad.yaml").write_text(
        DOC.format(name="bad", status="live").replace("plan_stub", "plan_stubb"), encoding="utf-8"
    )
    code, out, err = _invoke("validate")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"Error: {folder / 'bad.yaml'}:3: status: Input should be 'draft', 'active', 'paused' or 'archived'"
    ]
    code, out, err = _invoke("validate", str(path))  # one file
    assert code == 0 and out.startswith("ok  markdown")
    assert "Traceback" not in err


def test_load_list_show_and_status_moves(env: tuple[Path, WorkflowStore]) -> None:
    folder, workflows = env
    code, out, _ = _invoke("list")
    assert (code, out) == (0, "no workflows; load the files with: jtl-automator workflows load\n")
    _write(folder, "markdown")
    _write(folder, "restock", "active")
    code, out, _ = _invoke("load")
    assert code == 0 and out.splitlines() == [
        "new           markdown  version 1, draft",
        "new           restock  version 1, active",
    ]
    code, out, _ = _invoke("list")
    header, _, *rows = out.splitlines()
    assert header.split() == ["name", "status", "version", "trigger", "updated"]
    assert [r.split()[:3] for r in rows] == [["markdown", "draft", "1"], ["restock", "active", "1"]]
    assert _invoke("activate", "markdown")[:2] == (0, "workflow markdown is active (version 1)\n")
    assert _invoke("pause", "markdown")[:2] == (0, "workflow markdown is paused (version 1)\n")
    code, out, err = _invoke("show", "markdown")
    assert code == 0 and out.startswith("workflow markdown: paused, version 1\n")
    assert "  trigger: item cron '0 6 * * 1'" in out and "document (version 1):\nname: markdown\n" in out
    assert "action: plan_stub" in out
    assert _invoke("archive", "markdown")[:2] == (0, "workflow markdown is archived (version 1)\n")
    code, out, err = _invoke("activate", "markdown")
    assert (code, out) == (1, "")
    assert err == "Error: cannot make workflow 'markdown' active: it is archived; archived is final\n"
    code, _, err = _invoke("pause", "nope")
    assert code == 1 and err.startswith("Error: no workflow 'nope' in the state database;")
    code, _, err = _invoke("list", "--status", "gone")
    assert code == 2 and err == "Error: unknown status 'gone'; use one of: draft, active, paused, archived\n"
    (folder / "restock.yaml").write_text(
        DOC.format(name="restock", status="active").replace("180", "200"), encoding="utf-8"
    )
    (folder / "markdown.yaml").unlink()
    code, out, _ = _invoke("load")
    assert out.splitlines() == ["new_version   restock  version 2, active"]
    assert workflows.get("restock").info.current_version == 2


def test_runs_and_run_show(env: tuple[Path, WorkflowStore]) -> None:
    folder, workflows = env
    _write(folder, "markdown", "active")
    _invoke("load")
    assert _invoke("runs", "markdown")[:2] == (0, "no runs of markdown yet\n")
    run, _ = workflows.create_run("markdown", "schedule:2026-11-30T06:00", {"sku": "A-1"})
    workflows.start_run(run.id, flow_run_id="flow-9")
    workflows.start_step(run.id, "plan", {"kind": "markdown"})
    workflows.finish_step(run.id, "plan", StepStatus.FAILED, error="HTTP 503 from Wawi", logs=["asked twice"])
    workflows.finish_run(run.id, RunStatus.FAILED, error="step plan failed")
    code, out, _ = _invoke("runs", "markdown")
    header, _, row = out.splitlines()
    assert header.split() == ["id", "status", "version", "trigger", "created", "finished", "error"]
    assert row.split()[:4] == [run.id, "failed", "1", "schedule:2026-11-30T06:00"]
    code, out, _ = _invoke("run-show", run.id)
    assert code == 0
    assert out.startswith(f"run {run.id}: markdown version 1, failed\n")
    assert '  trigger: schedule:2026-11-30T06:00  {"sku": "A-1"}' in out
    assert "  Prefect flow run: flow-9" in out and "  error: step plan failed" in out
    assert 'plan:\n  inputs: {"kind": "markdown"}\n  error: HTTP 503 from Wawi\n  log: asked twice' in out
    code, _, err = _invoke("run-show", "nope")
    assert code == 1 and err.startswith("Error: no workflow run 'nope' in the state database;")
    code, _, err = _invoke("runs", "markdown", "--status", "done")
    assert code == 2 and "use one of: pending, running, completed, failed, cancelled" in err
