"""``jtl-automator run product-sync``: flags reach the flow; every product left alone is named with why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.product_sync
from jtl_automator.cli import app
from jtl_automator.clients.errors import AuthError

RESULT: dict[str, Any] = {
    "mode": "full",
    "dry_run": True,
    "counts": {"created": 1, "updated": 2, "unchanged": 7, "rejected": 1, "vanished": 1, "skipped": 1},
    "created": [{"merchant_sku": "A-1", "item_id": 1, "jfsku": None, "changed": "name"}],
    "updated": [],
    "rejected": [{"merchant_sku": "R-1", "item_id": 4, "reason": "400 Shared_ModelValidation: ean"}],
    "not_synced": [
        {"merchant_sku": "B-2", "item_id": 2, "status": "invalid", "reason": "Identifiers.Gtin is bad"}
    ],
    "vanished": [{"merchant_sku": "GONE", "jfsku": "MERC0000009", "item_id": None, "reason": "no Wawi item"}],
    "workbook": "out/diff.xlsx",
    "field_changes": 12,
}


def test_flags_reach_the_flow_and_every_product_left_alone_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return RESULT

    monkeypatch.setattr(flows.product_sync, "product_sync", fake)
    result = CliRunner().invoke(app, ["run", "product-sync", "--full", "--dry-run", "--output", "d.xlsx"])
    assert result.exit_code == 0, result.output
    assert (calls[0]["full"], calls[0]["dry_run"], calls[0]["output"]) == (True, True, "d.xlsx")
    assert "would be: created 1, updated 2, unchanged 7, rejected 1, vanished 1, skipped 1" in result.stderr
    assert "invalid: B-2 (Wawi item 2): Identifiers.Gtin is bad" in result.stderr
    assert "rejected: R-1 (Wawi item 4): 400 Shared_ModelValidation: ean" in result.stderr
    assert "vanished: GONE (Wawi item ?): no Wawi item" in result.stderr
    assert "diff workbook: out/diff.xlsx (12 field changes)" in result.stderr
    assert json.loads(result.stdout)["counts"]["created"] == 1


def test_an_api_error_ends_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(**kwargs: Any) -> dict[str, Any]:
        raise AuthError("FFN refused the token (401)\ndetails")

    monkeypatch.setattr(flows.product_sync, "product_sync", fake)
    result = CliRunner().invoke(app, ["run", "product-sync"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["Error: product-sync: FFN refused the token (401)"]


def test_a_run_that_finds_the_lease_taken_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        flows.product_sync, "product_sync", lambda **k: {"skipped": "another run holds it", "dry_run": False}
    )
    result = CliRunner().invoke(app, ["run", "product-sync"])
    assert result.exit_code == 0 and "skipped: another run holds it" in result.stderr
