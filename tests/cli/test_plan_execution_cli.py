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


def test_the_inbound_sheet_options_reach_the_flow_and_the_rows_are_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    listed = {
        "sheet": "ic.xlsx",
        "worksheet": "Wareneingang",
        "dry_run": True,
        "summary": "Inbound Control (dry run): 1 rows would be appended (2 already there)",
        "rows": [{"plan": 7, "sku": "A-1", "units": 5, "inbound": "PO-7-L1", "warehouse": "W1"}],
    }

    def fake(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return {**RESULT, "inbound_control": listed}

    monkeypatch.setattr(flows.plan_execution, "plan_execution", fake)
    args = [
        "run",
        "plan-execution",
        "--dry-run",
        "--inbound-sheet",
        "ic.xlsx",
        "--inbound-worksheet",
        "Wareneingang",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (calls[0]["inbound_sheet"], calls[0]["inbound_worksheet"]) == ("ic.xlsx", "Wareneingang")
    assert "would append: A-1, 5 units, inbound PO-7-L1, warehouse W1 (plan 7)" in result.stderr
    assert (
        "Inbound Control (dry run): 1 rows would be appended (2 already there) in ic.xlsx / Wareneingang"
        in result.stderr
    )


def test_a_refusal_ends_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from jtl_automator.services.plan_execution import MissingWawiScope

    def fake(**kwargs: Any) -> dict[str, Any]:
        raise MissingWawiScope("PO-7-L1", cloud=False)

    monkeypatch.setattr(flows.plan_execution, "plan_execution", fake)
    result = CliRunner().invoke(app, ["run", "plan-execution"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("Error: plan-execution: Wawi refused to create purchase order PO-7-L1")
    assert "purchaseorder.createpurchaseorder" in result.stderr


MOVE = {"plan": 9, "quantity": 3, "supplier": "", "inbound_id": "", "purchase_order": ""}
MOVEMENTS: dict[str, Any] = {
    "dry_run": True,
    "plans": [9, 10],
    "counts": {"would_execute": 1, "would_export": 1, "waiting": 1},
    "purchase_orders": [],
    "inbounds": [],
    "lines": [
        {
            **MOVE,
            "sku": "A-1",
            "warehouse": "W1>W2",
            "kind": "rebalance",
            "status": "would_execute",
            "shipment": "TR-9-W1-W2",
            "document": "",
            "reason": "",
        },
        {
            **MOVE,
            "plan": 10,
            "sku": "B-2",
            "warehouse": "W1",
            "kind": "supplier_return",
            "status": "would_export",
            "shipment": "RT-10-L1-W1",
            "document": "out/RT-10-L1-W1.xlsx",
            "reason": "supplier ACME has no usable address in Wawi",
        },
        {
            **MOVE,
            "sku": "C-3",
            "warehouse": "W1-W2",
            "kind": "rebalance",
            "status": "waiting",
            "shipment": "",
            "document": "",
            "reason": "rebalance line warehouse 'W1-W2' is not a route",
        },
    ],
}


def test_a_dry_run_names_shipments_exports_and_malformed_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return MOVEMENTS

    monkeypatch.setattr(flows.plan_execution, "plan_execution", fake)
    result = CliRunner().invoke(app, ["run", "plan-execution", "--dry-run", "--export-dir", "out"])
    assert result.exit_code == 0, result.output
    assert calls[0]["params"].export_dir == "out"
    assert "would ship: plan 9 rebalance 3 x A-1 W1>W2 (TR-9-W1-W2)" in result.stderr
    assert (
        "would export: plan 10 3 x B-2 from W1 (RT-10-L1-W1) to out/RT-10-L1-W1.xlsx: supplier ACME has no "
        "usable address in Wawi" in result.stderr
    )
    assert "waiting: plan 9 C-3@W1-W2: rebalance line warehouse 'W1-W2' is not a route" in result.stderr
