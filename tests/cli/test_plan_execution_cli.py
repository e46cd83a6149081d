"""``jtl-automator run plan-execution``: flags reach the flow; every line that waits is named with why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.plan_execution
from jtl_automator.cli import app

ROW = {"plan": 7, "warehouse": "W1", "quantity": 5, "supplier": "L1", "inbound_id": ""}
RESULT: dict[str, Any] = {
    "dry_run": True,
    "plans": [7],
    "counts": {"would_execute": 1, "waiting": 1},
    "purchase_orders": ["PO-7-L1"],
    "inbounds": [],
    "lines": [
        {**ROW, "sku": "A-1", "status": "would_execute", "purchase_order": "PO-7-L1", "reason": ""},
        {**ROW, "sku": "B-2", "status": "waiting", "purchase_order": "", "reason": "no e-mail address"},
    ],
}


def test_dry_run_names_each_line_and_passes_the_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return RESULT

    monkeypatch.setattr(flows.plan_execution, "plan_execution", fake)
    result = CliRunner().invoke(
        app, ["run", "plan-execution", "--dry-run", "--email-block", "smtp", "--no-email"]
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["dry_run"] is True and calls[0]["email_block"] == "smtp"
    assert calls[0]["params"].send_email is False
    assert "would order: plan 7 5 x A-1 into W1 (PO-7-L1)" in result.stderr
    assert "waiting: plan 7 B-2@W1: no e-mail address" in result.stderr
    assert json.loads(result.stdout)["purchase_orders"] == ["PO-7-L1"]
