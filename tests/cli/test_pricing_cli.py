"""``jtl-automator run pricing``: a bad rule file is one line naming file and line; flags reach the flow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.pricing
from jtl_automator.cli import app
from jtl_automator.clients.errors import AuthError

ROOT = Path(__file__).resolve().parents[2]
RESULT: dict[str, Any] = {
    "dry_run": True,
    "workbook": "out/pricing/pricing-2026-11-17.xlsx",
    "statuses": {"apply": 1, "needs_approval": 1},
    "changes": [
        {
            "sku": "KAF-10001",
            "item_id": 1,
            "target": "base",
            "rule": "coffee",
            "current_price": 9.2353,
            "new_price": 10.0756,
            "new_gross": 11.99,
            "change_pct": 9.1,
            "margin_pct": 40.0,
            "floor_price": 7.0,
            "reason": "rule coffee: 10.08 net from purchase 6.05; 9.24 -> 10.08 net (+9.1%)",
            "status": "apply",
        }
    ],
    "failed": [{"sku": "GAR-1", "target": "3-9-1/0", "reason": "400: the channel takes no prices"}],
    "plans": [{"kind": "price_change", "plan": 7, "lines": 1, "superseded": [], "note": ""}],
}


def test_flags_reach_the_flow_and_the_changes_go_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return RESULT

    monkeypatch.setattr(flows.pricing, "pricing", fake)
    rules = ROOT / "config" / "pricing.example.yaml"
    result = CliRunner().invoke(
        app, ["run", "pricing", "--dry-run", "--rules", str(rules), "--output", "p.xlsx"]
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["dry_run"] is True and calls[0]["output"] == "p.xlsx"
    assert calls[0]["rules_file"] == str(rules.resolve())
    assert "KAF-10001" in result.stderr and "rule coffee" in result.stderr
    assert "not written: GAR-1 3-9-1/0: 400: the channel takes no prices" in result.stderr
    assert "jtl-automator plans approve 7" in result.stderr
    assert json.loads(result.stdout)["workbook"] == RESULT["workbook"]


def test_a_bad_rules_file_is_one_line_with_its_line_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flows.pricing, "pricing", lambda **_: pytest.fail("the flow must not start"))
    lines = (ROOT / "config" / "pricing.example.yaml").read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if "markup_pct: 95" in line)
    lines[number - 1] = lines[number - 1].replace("markup_pct: 95", "markup_pct: -150")
    bad = tmp_path / "pricing.yaml"
    bad.write_text("\n".join(lines), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "pricing", "--rules", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {bad}:{number}: rules[1].markup_pct: Input should be greater than -100"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: [\n", "not valid YAML"),
        (
            "rules:\n  - name: a\n    strategy: cost_plus\n",
            "pricing.yaml:2: rules[0]: Value error, strategy cost_plus needs markup_pct",
        ),
        (
            "rules: []\nmarkdown: {strategy: cheapest}\n",
            "pricing.yaml:2: markdown.strategy: Input should be 'fixed', 'score' or 'recommended'",
        ),
    ],
)
def test_every_kind_of_mistake_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "pricing.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "pricing", "--rules", str(path)])
    assert result.exit_code == 2
    assert all(line.startswith("Error: ") for line in result.stderr.strip().splitlines())
    assert expected in result.stderr


def test_a_missing_rules_file_and_an_api_error_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = CliRunner().invoke(app, ["run", "pricing", "--rules", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml: cannot be read" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    monkeypatch.chdir(tmp_path)  # no config/pricing.yaml here
    default = CliRunner().invoke(app, ["run", "pricing"])
    assert default.exit_code == 2 and "copy config/pricing.example.yaml" in default.stderr

    def fake(**kwargs: Any) -> dict[str, Any]:
        raise AuthError("Wawi refused the key (401)\ndetails")

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(flows.pricing, "pricing", fake)
    rules = ROOT / "config" / "pricing.example.yaml"
    result = CliRunner().invoke(app, ["run", "pricing", "--rules", str(rules)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["Error: pricing: Wawi refused the key (401)"]
