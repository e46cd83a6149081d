"""``jtl-automator run product-enrichment|categorise|product-quality``: flags reach the flow."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.product_enrichment
from jtl_automator.cli import app
from jtl_automator.transforms.product_feed import FeedError
from jtl_automator.yaml_config import ConfigFileError

RESULT: dict[str, Any] = {
    "dry_run": True,
    "rejected": [{"row": 7, "supplier_sku": "L-9", "reason": "Gewicht: 1.5 is not a number"}],
    "not_matched": [{"row": 8, "matched_by": "unmatched", "note": "no Wawi item with this supplier SKU"}],
    "conflicts": [
        {"sku": "A-1", "field": "shipping_weight", "wawi_value": "1.9", "feed_value": "1.7", "row": 3}
    ],
    "fills": [
        {"sku": "A-2", "field": "gtin", "wawi_value": None, "feed_value": "4006381333931", "status": "fill"}
    ],
    "assignments": [{"sku": "A-3", "rule": "mills", "category": "Küche > Kaffee", "current": ""}],
    "no_rule": ["A-4"],
    "failed": [],
    "workbook": "out/product-enrichment/x.xlsx",
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        seen.append(kwargs)
        return RESULT

    monkeypatch.setattr(flows.product_enrichment, "product_enrichment", fake)
    return seen


def test_enrichment_flags_reach_the_flow_and_each_row_left_alone_is_printed(
    calls: list[dict[str, Any]],
) -> None:
    result = CliRunner().invoke(
        app,
        ["run", "product-enrichment", "--feed", "feed.csv", "--supplier", "Hansen", "--dry-run",
         "--rules", "rules.yaml", "--mapping", "my-feeds.yaml", "--no-quality"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    kwargs = calls[0]
    assert (kwargs["feed"], kwargs["supplier"], kwargs["rules"], kwargs["dry_run"]) == (
        "feed.csv",
        "Hansen",
        "rules.yaml",
        True,
    )
    assert kwargs["params"].mapping_file == "my-feeds.yaml" and kwargs["params"].quality is False
    assert "feed row 7 skipped: L-9: Gewicht: 1.5 is not a number" in result.stderr
    assert "conflict: A-1 shipping_weight: Wawi '1.9', feed '1.7' (row 3); left alone" in result.stderr
    assert "would fill: A-2 gtin = '4006381333931'" in result.stderr
    assert "would assign: A-3 -> Küche > Kaffee (rule 'mills')" in result.stderr
    assert "no rule fits 1 items: A-4" in result.stderr
    assert json.loads(result.stdout)["workbook"] == "out/product-enrichment/x.xlsx"


def test_feed_and_supplier_are_required() -> None:
    result = CliRunner().invoke(app, ["run", "product-enrichment", "--feed", "feed.csv"])
    assert result.exit_code != 0 and "--supplier" in result.output


def test_categorise_and_quality_only(calls: list[dict[str, Any]]) -> None:
    assert CliRunner().invoke(app, ["run", "categorise", "--rules", "r.yaml", "--dry-run"]).exit_code == 0
    assert calls[0]["feed"] is None and calls[0]["rules"] == "r.yaml" and calls[0]["params"].quality is False
    assert CliRunner().invoke(app, ["run", "product-quality", "--no-images"]).exit_code == 0
    assert calls[1]["feed"] is None and calls[1]["rules"] is None
    assert calls[1]["params"].quality is True and calls[1]["params"].check_images is False


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            ConfigFileError("r.yaml", ["r.yaml:4: rules[0].match: a rule needs a condition"]),
            "r.yaml:4: rules[0]",
        ),
        (FeedError("feed.csv: the file is empty"), "feed.csv: the file is empty"),
    ],
)
def test_bad_input_ends_in_one_line_naming_the_place(
    monkeypatch: pytest.MonkeyPatch, error: Exception, shown: str
) -> None:
    def fail(**_: Any) -> dict[str, Any]:
        raise error

    monkeypatch.setattr(flows.product_enrichment, "product_enrichment", fail)
    result = CliRunner().invoke(app, ["run", "categorise", "--rules", "r.yaml"])
    assert result.exit_code == 1 and f"Error: {shown}" in result.stderr and "Traceback" not in result.output
