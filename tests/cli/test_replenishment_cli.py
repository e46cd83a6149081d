"""``jtl-automator run replenishment``: flags reach the flow, lines go to stderr, errors are one line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.replenishment
from jtl_automator.cli import app
from jtl_automator.clients.errors import AuthError

RESULT: dict[str, Any] = {
    "dry_run": True,
    "workbook": "out/x.xlsx",
    "table": [
        {
            "merchant_sku": "A-1",
            "warehouse_id": "W1",
            "supplier_name": "ACME",
            "status": "order",
            "low_stock": True,
            "order_quantity": 12.0,
            "cover_days": 1.5,
            "daily_demand": 2.0,
            "available": 3.0,
            "on_order": 0.0,
            "lead_time_days": 10.0,
            "reason": "position below reorder point 20.0",
        },
        {
            "merchant_sku": "B-2",
            "warehouse_id": "W1",
            "supplier_name": None,
            "status": "no_supplier",
            "low_stock": False,
            "order_quantity": None,
            "cover_days": None,
            "daily_demand": 0.0,
            "available": 4.0,
            "on_order": 0.0,
            "lead_time_days": 14.0,
            "reason": "no standard supplier for this item",
        },
    ],
}


def test_dry_run_and_output_reach_the_flow_and_every_line_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return RESULT

    monkeypatch.setattr(flows.replenishment, "replenishment", fake)
    result = CliRunner().invoke(app, ["run", "replenishment", "--dry-run", "--output", "x.xlsx"])
    assert result.exit_code == 0, result.output
    assert calls[0]["dry_run"] is True and calls[0]["output"] == "x.xlsx"
    assert "A-1" in result.stderr and "yes" in result.stderr and "12" in result.stderr
    assert "B-2" in result.stderr and "no standard supplier for this item" in result.stderr
    assert json.loads(result.stdout)["workbook"] == "out/x.xlsx"


def test_an_api_error_ends_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(**kwargs: Any) -> dict[str, Any]:
        raise AuthError("FFN refused the token (401)\ndetails")

    monkeypatch.setattr(flows.replenishment, "replenishment", fake)
    result = CliRunner().invoke(app, ["run", "replenishment"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["Error: replenishment: FFN refused the token (401)"]
