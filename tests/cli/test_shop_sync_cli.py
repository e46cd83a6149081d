"""``jtl-automator run shop-sync-check``: the flag reaches the flow; what was not checked is one line each."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.shop_sync
from jtl_automator.cli import app

RESULT: dict[str, Any] = {
    "dry_run": True,
    "counts": {"stuck_order": 2, "cancelled_open": 0, "stale_stock": 1, "price_drift": 0},
    "unchecked": {"prices": "Wawi's items could not be read (RetryableError 503): ..."},
}


def test_dry_run_reaches_the_flow_and_unchecked_parts_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return RESULT

    monkeypatch.setattr(flows.shop_sync, "shop_sync_check", fake)
    result = CliRunner().invoke(app, ["run", "shop-sync-check", "--dry-run", "--shop-block", "shop"])
    assert result.exit_code == 0, result.output
    assert calls[0]["dry_run"] is True and calls[0]["shop_block"] == "shop"
    assert "not checked: prices: Wawi's items could not be read" in result.stderr
    assert json.loads(result.stdout)["counts"]["stuck_order"] == 2


def test_a_missing_shop_configuration_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(**kwargs: Any) -> dict[str, Any]:
        raise ValueError("set JTL_SHOP_URL and JTL_SHOP_API_KEY, or pass a JTL-Shop block name")

    monkeypatch.setattr(flows.shop_sync, "shop_sync_check", fake)
    result = CliRunner().invoke(app, ["run", "shop-sync-check"])
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == "Error: set JTL_SHOP_URL and JTL_SHOP_API_KEY, or pass a JTL-Shop block name"
    )
