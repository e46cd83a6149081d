"""The Freigabe (x) marks of a real Bestellvorschlag workbook, edited with openpyxl, read back into plans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from jtl_automator.cli import app
from jtl_automator.plans import LineKey, LineStatus, PlanStatus, PlanStore
from jtl_automator.services.replenishment import propose_restock_plans, write_workbook
from jtl_automator.services.replenishment.approvals import (
    ApprovalRow,
    approvals_from_rows,
    approve_from_sheet,
    load_plans,
    read_approval_rows,
)
from jtl_automator.services.replenishment.output import APPROVAL_HEADER, PLAN_HEADER
from jtl_automator.sheets.xlsx import ExcelBackend
from tests.services.test_replenishment_output import PERIOD, _lines
from tests.support.plans import plans_in_env

ACME = "ACME_ Rohwaren"


@pytest.fixture
def plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlanStore]:
    """Plans in a fresh SQLite file that the commands find through ``JTL_DATABASE_URL``."""
    yield from plans_in_env(tmp_path, monkeypatch)


def _workbook(plans: PlanStore, tmp_path: Path) -> tuple[Path, list[int]]:
    """The service's workbook for two supplier plans (ACME: A, B; Beta: C)."""
    proposed = propose_restock_plans(_lines(), plans, PERIOD)
    return write_workbook(_lines(), tmp_path / "bv.xlsx", proposed), [p.plan_id for p in proposed]


def _mark(path: Path, tab: str, marks: dict[str, str]) -> None:
    """Type marks into the approval column of ``tab`` by SKU, as a person in Excel would."""
    book = load_workbook(path)
    sheet = book[tab]
    header = [c.value for c in sheet[1]]
    sku, mark = header.index("SKU") + 1, header.index(APPROVAL_HEADER) + 1
    for row in range(2, sheet.max_row + 1):
        value = sheet.cell(row, sku).value
        if value in marks:
            sheet.cell(row, mark).value = marks[str(value)]
    book.save(path)


@pytest.mark.slow
def test_supplier_rows_carry_their_plan_id(plans: PlanStore, tmp_path: Path) -> None:
    path, (acme, beta) = _workbook(plans, tmp_path)
    book = load_workbook(path)
    rows = list(book[ACME].iter_rows(values_only=True))
    assert rows[0][-2:] == (APPROVAL_HEADER, PLAN_HEADER)
    assert {r[-1] for r in rows[1:]} == {acme}
    assert {r[-1] for r in list(book["Beta"].iter_rows(values_only=True))[1:]} == {beta}
    assert PLAN_HEADER not in next(book["Low stock"].iter_rows(values_only=True))


@pytest.mark.slow
def test_marked_lines_are_approved_exactly_and_a_rerun_approves_nothing(
    plans: PlanStore, tmp_path: Path
) -> None:
    path, (acme, beta) = _workbook(plans, tmp_path)
    _mark(path, ACME, {"A": " X "})
    _mark(path, "Beta", {"C": "ja"})
    applied = approve_from_sheet(ExcelBackend(path), plans, "anna")
    assert [(p.id, keys) for p, keys in applied.approved] == [
        (acme, [LineKey("A", "W1")]),
        (beta, [LineKey("C", "W1")]),
    ]
    assert applied.problems == []
    lines = {line.sku: line for line in plans.get(acme).lines}
    assert lines["A"].status == LineStatus.APPROVED and lines["A"].approved_by == "anna"
    assert lines["B"].status == LineStatus.PROPOSED
    assert plans.get(acme).status == PlanStatus.APPROVED
    again = approve_from_sheet(ExcelBackend(path), plans, "bert")
    assert again.approved == [] and again.problems == []
    assert {line.sku: line.approved_by for line in plans.get(acme).lines}["A"] == "anna"


@pytest.mark.slow
def test_other_text_closed_plans_and_vanished_lines_are_reported(plans: PlanStore, tmp_path: Path) -> None:
    path, (acme, beta) = _workbook(plans, tmp_path)
    _mark(path, ACME, {"A": "nein", "B": "1"})
    _mark(path, "Beta", {"C": "x"})
    plans.cancel(beta, "boss", "supplier closed")
    rows = read_approval_rows(ExcelBackend(path))
    gone = ApprovalRow(ACME, 9, str(acme), "Z", "W1", "x")
    missing = ApprovalRow(ACME, 10, "999", "A", "W1", "x")
    dry = ApprovalRow(ACME, 11, "", "A", "W1", "x")
    result = approvals_from_rows([*rows, gone, missing, dry], load_plans(plans, [*rows, gone, missing]))
    assert result.to_approve == {acme: [LineKey("B", "W2")]}
    assert len(result.problems) == 5
    assert "'nein' is not an approval" in result.problems[0]
    assert "is cancelled" in result.problems[1] and "tab 'Beta' row 2" in result.problems[1]
    assert "has no line Z@W1" in result.problems[2]
    assert "plan 999 does not exist" in result.problems[3]
    assert "no plan id" in result.problems[4]


@pytest.mark.slow
def test_cli_approve_from_prints_approvals_and_problems(plans: PlanStore, tmp_path: Path) -> None:
    path, (acme, _beta) = _workbook(plans, tmp_path)
    _mark(path, ACME, {"A": "x", "B": "?"})
    result = CliRunner().invoke(app, ["plans", "approve-from", str(path), "--by", "anna"])
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0].startswith(f"approved 1 line(s) of plan {acme} ") and out[0].endswith(
        "as anna: A@W1; 1 of 2 lines approved"
    )
    assert out[1].startswith(f"not approved: tab '{ACME}' row ") and "'?'" in out[1]
    again = CliRunner().invoke(app, ["plans", "approve-from", str(path), "--by", "anna"])
    assert again.output.splitlines()[0] == "nothing new to approve"
    missing = CliRunner().invoke(app, ["plans", "approve-from", str(tmp_path / "nope.xlsx")])
    assert missing.exit_code == 1 and "approve-from" in missing.output
