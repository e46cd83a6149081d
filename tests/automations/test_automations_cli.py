"""``jtl-automator automations …`` and ``run sla-check``: files checked offline, one line per error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jtl_automator.cli import app


def test_check_lists_the_shipped_alerts_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["automations", "check"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "4 alert(s), 2 channel(s): the files are valid"
    assert any(line.startswith("run-late") and "late by 15m" in line for line in lines)
    assert any("order-processing: a success every 30m (business hours)" in line for line in lines)
    assert any("inbound-verification-daily done by 09:00 Europe/Berlin" in line for line in lines)


def test_check_names_every_mistake_of_every_file_on_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "channels: {hook: {type: webhook, webhook_block: h}}\n"
        "alerts:\n"
        "  - {name: x, kind: run-late, late_by: 5, notify: [hook]}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "alerts:\n  - {name: y, kind: run-failed, deployments: [nope], notify: [hook]}\n"
    )
    result = CliRunner().invoke(app, ["automations", "check", "--config", str(tmp_path)])
    assert result.exit_code == 2
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0] == (
        f"Error: {tmp_path / 'a.yaml'}:3: alerts[0].late_by: Value error, 5 has no unit: write 5m (minutes), "
        "5s or 5h"
    )
    assert errors[1].startswith(
        f"Error: {tmp_path / 'b.yaml'}:2: alerts[0].deployments[0]: unknown deployment 'nope'; prefect.yaml "
        "has: inbound-verification-daily, connectivity-check, order-processing"
    )


def test_apply_and_list_need_the_prefect_server_in_prefect_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    for command in (["automations", "apply", "--dry-run"], ["automations", "list"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1 and "PREFECT_API_URL is not set" in result.stderr


@pytest.mark.slow  # imports Prefect and the shell
def test_an_unreachable_server_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import deployments.automations

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("All connection attempts failed")

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr(deployments.automations, "apply", unreachable)
    result = CliRunner().invoke(app, ["automations", "apply"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Prefect API at http://127.0.0.1:9/api: ConnectionError: All connection attempts failed\n"
    )


@pytest.mark.slow  # imports Prefect and the shell
def test_a_missing_block_is_one_line_per_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    import deployments.automations

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise deployments.automations.ApplyError(
            ["channel 'a': no SmtpServer block 'smtp'", "channel 'b': no x"]
        )

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr(deployments.automations, "apply", missing)
    result = CliRunner().invoke(app, ["automations", "apply"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: channel 'a': no SmtpServer block 'smtp'",
        "Error: channel 'b': no x",
    ]


@pytest.mark.slow  # imports Prefect and the shell
def test_run_sla_check_hands_its_options_to_the_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.sla_check

    calls: list[dict[str, Any]] = []
    result_of_flow = {
        "at": "2026-11-23T09:00:00+00:00",
        "dry_run": True,
        "emitted": 0,
        "results": [{"alert": "a", "deployment": "d", "status": "breached", "message": "m"}],
    }
    monkeypatch.setattr(flows.sla_check, "sla_check", lambda **kw: calls.append(kw) or result_of_flow)
    result = CliRunner().invoke(app, ["run", "sla-check", "--dry-run", "--at", "2026-11-23T10:00:00"])
    assert result.exit_code == 0, result.output
    assert calls[0]["dry_run"] is True and calls[0]["at"].hour == 10 and calls[0]["config_dir"] is None
    assert "a                                breached m" in result.stderr and '"emitted": 0' in result.stdout


@pytest.mark.slow  # imports Prefect and the shell
def test_run_sla_check_with_a_broken_file_fails_before_prefect_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.sla_check

    monkeypatch.setattr(flows.sla_check, "sla_check", lambda **kw: pytest.fail("must not run"))
    (tmp_path / "a.yaml").write_text("alerts: [{name: x, kind: done-by, deployment: order-processing}]\n")
    result = CliRunner().invoke(app, ["run", "sla-check", "--config", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"Error: {tmp_path / 'a.yaml'}:1: alerts[0]")
