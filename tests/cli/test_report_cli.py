"""``jtl-automator run report``: name, period and backfill reach the flow; bad input is one line, exit 2."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.reporting
from jtl_automator.cli import app
from jtl_automator.clients.errors import TransientError


def _run(title: str, period: str, revenue: float | None, change: float | None) -> dict[str, Any]:
    return {
        "report": "weekly",
        "title": title,
        "period": period,
        "dry_run": False,
        "workbook": f"reports/weekly/{period}.xlsx",
        "kpis": [
            {"key": "revenue_net", "label": "Revenue net", "unit": "eur", "value": revenue, "change": change},
            {
                "key": "margin_pct",
                "label": "Margin %",
                "unit": "pct",
                "value": 0.4,
                "change": 0.02,
                "change_in_points": True,
            },
        ],
        "missing": ["Return rate: no source yet"],
    }


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> dict[str, Any]:
        seen.append(kwargs)
        if kwargs.get("until"):
            runs = [
                _run("Weekly KPIs", "2026-W46", None, None),
                _run("Weekly KPIs", "2026-W47", 1234.5, 0.25),
            ]
            return {"report": "weekly", "periods": ["2026-W46", "2026-W47"], "dry_run": False, "runs": runs}
        return _run("Weekly KPIs", "2026-W47", 1234.5, 0.25)

    monkeypatch.setattr(flows.reporting, "report", fake)
    return seen


def test_the_report_runs_with_its_period_and_prints_the_figures(calls: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["run", "report", "weekly", "--period", "2026-W47", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert calls[0]["name"] == "weekly" and calls[0]["period"] == "2026-W47" and calls[0]["dry_run"] is True
    assert "Weekly KPIs 2026-W47" in result.stderr
    assert "Revenue net" in result.stderr and "1,234.50 €" in result.stderr and "(+25.0 %)" in result.stderr
    assert "(+2.0 pp)" in result.stderr  # a share changes by points
    assert "missing data (1): Return rate: no source yet" in result.stderr
    assert json.loads(result.stdout)["period"] == "2026-W47"


def test_a_backfill_prints_every_period(calls: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        app, ["run", "report", "weekly", "--period", "2026-W46", "--until", "2026-W47"]
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["until"] == "2026-W47"
    assert "Weekly KPIs 2026-W46" in result.stderr and "Weekly KPIs 2026-W47" in result.stderr
    assert "missing" in result.stderr.split("Weekly KPIs 2026-W47")[0]  # W46's revenue is missing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["quarterly"], "unknown report 'quarterly' (known: daily, weekly, monthly)", id="name"),
        pytest.param(["weekly", "--period", "2026-11"], "is a month; this report runs per week", id="kind"),
        pytest.param(["daily", "--period", "2026-02-30"], "does not exist", id="no-such-day"),
        pytest.param(["weekly", "--until", "2026-W47"], "--until needs --period", id="until-alone"),
        pytest.param(
            ["weekly", "--period", "2026-W47", "--until", "2026-W46"], "ends before it starts", id="range"
        ),
        pytest.param(
            ["weekly", "--recipient", "a@example.org"], "--recipient needs --email-block", id="mail"
        ),
    ],
)
@pytest.mark.slow
def test_bad_input_is_one_line_and_starts_nothing(
    calls: list[dict[str, Any]], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["run", "report", *args])
    assert result.exit_code == 2 and calls == []
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_api_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(**kwargs: Any) -> dict[str, Any]:
        raise TransientError("Wawi GET /items -> 503 after 6 attempts")

    monkeypatch.setattr(flows.reporting, "report", fake)
    result = CliRunner().invoke(app, ["run", "report", "daily"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: report: Wawi GET /items -> 503 after 6 attempts"
