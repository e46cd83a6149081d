"""``jtl-automator run stock-sync``: flags reach the flow; every line left alone is named with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.stock_sync
from jtl_automator.cli import app

RESULT: dict[str, Any] = {
    "mode": "full",
    "dry_run": True,
    "adjustments": [
        {
            "ffn_warehouse_id": "W1",
            "wawi_warehouse_id": 2,
            "merchant_sku": "A-1",
            "item_id": 7,
            "target": 10.0,
            "current": 8.0,
            "delta": 2.0,
            "version": "",
        }
    ],
    "not_touched": [
        {
            "ffn_warehouse_id": "W1",
            "merchant_sku": "B-2",
            "status": "invalid_input",
            "reason": "stockLevel is negative",
        },
        {"ffn_warehouse_id": "W1", "merchant_sku": "ZZ", "status": "unknown_sku", "reason": "no Wawi item"},
    ],
    "failed": [],
}


def test_dry_run_prints_the_table_and_a_reason_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return RESULT

    monkeypatch.setattr(flows.stock_sync, "stock_sync", fake)
    result = CliRunner().invoke(app, ["run", "stock-sync", "--full", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert calls[0]["full"] is True and calls[0]["dry_run"] is True
    assert "not touched: B-2 in W1: invalid_input: stockLevel is negative" in result.stderr
    assert "not touched: ZZ in W1: unknown_sku: no Wawi item" in result.stderr
    assert "A-1" in result.stderr and "+2" in result.stderr
    assert json.loads(result.stdout)["adjustments"][0]["delta"] == 2.0
