"""``jtl-automator run housekeeping``: keep-ages reach the flow; a negative age is one line."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import flows.housekeeping
from jtl_automator.cli import app

RESULT = {
    "dry_run": True,
    "journals": [
        {"journal": "order_events", "keep_days": 30, "cutoff": "2026-10-27", "older": 1234, "deleted": 0},
        {"journal": "inbound_checks", "keep_days": 0, "cutoff": None, "older": 0, "deleted": 0},
    ],
    "tables": {"order_events": 2000},
}


def test_keep_ages_reach_the_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(flows.housekeeping, "housekeeping", lambda **kw: calls.append(kw) or RESULT)
    result = CliRunner().invoke(
        app, ["run", "housekeeping", "--dry-run", "--order-events-days", "30", "--inbound-checks-days", "0"]
    )
    assert result.exit_code == 0, result.output
    params = calls[0]["params"]
    assert calls[0]["dry_run"] is True
    assert (params.order_events_days, params.inbound_checks_days, params.kpi_history_days) == (30, 0, 1100)
    assert "order_events: would remove 1,234" in result.stderr


def test_a_negative_age_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows.housekeeping, "housekeeping", lambda **kw: pytest.fail("must not run"))
    result = CliRunner().invoke(app, ["run", "housekeeping", "--kpi-history-days", "-5"])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "kpi_history_days" in result.stderr
