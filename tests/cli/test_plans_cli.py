"""``jtl-automator plans list|show|approve|cancel``: readable tables, one-line errors, exit codes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from typer.testing import CliRunner

from jtl_automator.cli import app
from jtl_automator.plans import LineKey, LineStatus, NewLine, PlanScope, PlanStatus, PlanStore


def _restock(plans: PlanStore) -> int:
    plan_id = plans.create_or_get(
        "restock", PlanScope(warehouses=("W1", "W2"), supplier="S-1"), "2026-W48", created_by="restock-run"
    ).plan.id
    plans.add_lines(
        plan_id,
        [
            NewLine(
                sku="A-100",
                warehouse="W1",
                quantity=12,
                unit_price=Decimal("3.5"),
                reason="cover 9 d",
                score=0.82,
            ),
            NewLine(
                sku="B-7", warehouse="W2", quantity=4, unit_price=Decimal("1.2345"), reason="safety\nstock"
            ),
            NewLine(sku="mail@x", warehouse="W2", quantity=1),
        ],
    )
    return plan_id


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plans", *args])
    return result.exit_code, result.output


@pytest.mark.slow
def test_list_shows_one_row_per_plan_newest_first(plans: PlanStore) -> None:
    assert _invoke("list") == (0, "no plans\n")
    restock = _restock(plans)
    markdown = plans.create_or_get("markdown", PlanScope(extra={"channel": "shop"}), "2026-11").plan.id
    plans.approve(restock, "anna", [LineKey("A-100", "W1")])
    code, out = _invoke("list")
    assert code == 0
    header, rule, *rows = out.splitlines()
    assert header.split() == ["id", "kind", "status", "period", "scope", "approved", "deadline", "created"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert [r.split()[:4] for r in rows] == [
        [str(markdown), "markdown", "draft", "2026-11"],
        [str(restock), "restock", "approved", "2026-W48"],
    ]
    assert "warehouses W1,W2 · supplier S-1  1/3" in rows[1]
    # Columns line up: every row's status starts where the header's does.
    assert {r.index(s) for r, s in zip(rows, ("draft", "approved"), strict=True)} == {header.index("status")}
    code, out = _invoke("list", "--kind", "restock", "--status", "approved")
    assert code == 0 and len(out.splitlines()) == 3 and "restock" in out.splitlines()[2]
    assert _invoke("list", "--status", "done") == (0, "no plans match\n")


@pytest.mark.slow
def test_show_prints_the_plan_and_its_lines(plans: PlanStore) -> None:
    plan_id = _restock(plans)
    code, out = _invoke("show", str(plan_id))
    assert code == 0
    assert out.startswith(f"plan {plan_id}: restock, draft\nscope     warehouses W1,W2 · supplier S-1\n")
    assert "created   " in out and " by restock-run" in out and "lines     3 (0 approved)" in out
    table = out.split("\n\n", 1)[1].splitlines()
    assert table[0].split() == [
        "sku", "warehouse", "qty", "price", "score", "status", "approved", "by", "po", "inbound", "reason",
    ]  # fmt: skip
    assert table[2].split() == [
        "A-100",
        "W1",
        "12",
        "3.50",
        "0.82",
        "proposed",
        "-",
        "-",
        "-",
        "cover",
        "9",
        "d",
    ]
    assert table[3].split() == ["B-7", "W2", "4", "1.2345", "-", "proposed", "-", "-", "-", "safety", "stock"]
    assert len(table) == 5  # the reason's line break did not split its row


@pytest.mark.slow
def test_show_includes_what_execution_created(plans: PlanStore) -> None:
    from jtl_automator.plans import ExecutionRef

    plan_id = _restock(plans)
    plans.approve(plan_id, "anna")
    plans.mark_executing(plan_id)
    plans.mark_done(plan_id, {LineKey("A-100", "W1"): ExecutionRef("PO-2026-17", "IN-9")})
    code, out = _invoke("show", str(plan_id))
    assert code == 0 and f"plan {plan_id}: restock, done" in out and "approved  " in out and "by anna" in out
    row = next(line for line in out.splitlines() if line.startswith("A-100"))
    assert row.split()[5:9] == ["executed", "anna", "PO-2026-17", "IN-9"]


@pytest.mark.slow
def test_approve_every_line_or_the_named_ones(plans: PlanStore) -> None:
    plan_id = _restock(plans)
    code, out = _invoke("approve", str(plan_id), "--lines", "A-100@W1", "--line", "mail@x@W2", "--by", "anna")
    assert code == 0, out
    assert out == (
        f"approved 2 line(s) of plan {plan_id} (restock, warehouses W1,W2 · supplier S-1, 2026-W48) as anna: "
        "2 of 3 lines approved\n"
    )
    status = {str(line.key): (line.status, line.approved_by) for line in plans.get(plan_id).lines}
    assert status == {
        "A-100@W1": (LineStatus.APPROVED, "anna"),
        "B-7@W2": (LineStatus.PROPOSED, None),
        "mail@x@W2": (LineStatus.APPROVED, "anna"),
    }
    code, out = _invoke("approve", str(plan_id), "--by", "ben")
    assert code == 0 and out.endswith("as ben: 3 of 3 lines approved\n")
    assert plans.get(plan_id).approved_by == "ben"


@pytest.mark.slow
def test_approve_without_by_records_the_login_name(plans: PlanStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "carla")  # getpass reads LOGNAME first
    plan_id = _restock(plans)
    assert _invoke("approve", str(plan_id))[0] == 0
    assert plans.get(plan_id).approved_by == "carla"


@pytest.mark.slow
def test_cancel_records_who_and_why(plans: PlanStore) -> None:
    plan_id = _restock(plans)
    code, out = _invoke("cancel", str(plan_id), "--by", "anna", "--reason", "supplier on holiday")
    assert code == 0 and out.startswith(f"cancelled plan {plan_id} (restock, ") and out.endswith(" as anna\n")
    plan = plans.get(plan_id)
    assert (plan.status, plan.cancelled_by, plan.note) == (
        PlanStatus.CANCELLED,
        "anna",
        "supplier on holiday",
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["show", "404"],
            1,
            "Error: no plan 404 in the state database; list the plans with: jtl-automator plans list",
        ),
        (
            ["approve", "{id}", "--lines", "A-100@W9", "--by", "a"],
            1,
            "Error: plan {id} has no line A-100@W9; see",
        ),
        (
            ["approve", "{id}", "--lines", "@W1", "--by", "a"],
            2,
            "Error: SKU '' must have 1 to 255 characters",
        ),
        (["list", "--status", "open"], 2, "Error: unknown plan status 'open'; use one of: draft, approved,"),
        (["list", "--kind", "restok"], 2, "Error: unknown plan kind 'restok'; known kinds: markdown,"),
        (["approve", "{id}", "--by", ""], 2, "Error: a person's name must have 1 to 200 characters"),
    ],
)
@pytest.mark.slow
def test_errors_are_one_line_and_change_nothing(
    plans: PlanStore, args: list[str], code: int, message: str
) -> None:
    plan_id = _restock(plans)
    got_code, out = _invoke(*(a.format(id=plan_id) for a in args))
    assert got_code == code
    assert out.count("\n") == 1 and out.startswith(message.format(id=plan_id)), out
    assert "Traceback" not in out
    plan = plans.get(plan_id)
    assert plan.status is PlanStatus.DRAFT and plan.approved_count == 0


@pytest.mark.slow
def test_refused_transitions_say_why(plans: PlanStore) -> None:
    plan_id = _restock(plans)
    assert _invoke("cancel", str(plan_id), "--by", "anna")[0] == 0
    code, out = _invoke("approve", str(plan_id), "--by", "anna")
    assert code == 1
    assert out == (
        f"Error: cannot approve plan {plan_id}: it is cancelled; a cancelled plan stays cancelled; "
        "the next period gets a new plan\n"
    )
    executing = _restock_executing(plans)
    code, out = _invoke("cancel", str(executing), "--by", "anna")
    assert code == 1 and out == (
        f"Error: cannot cancel plan {executing}: it is executing; wait until its run is done "
        "(a failed run makes it approved again)\n"
    )


def _restock_executing(plans: PlanStore) -> int:
    plan_id = plans.create_or_get("restock", PlanScope(supplier="S-2"), "2026-W48").plan.id
    plans.add_lines(plan_id, [NewLine(sku="C", warehouse="W1", quantity=1)])
    plans.approve(plan_id, "anna")
    plans.mark_executing(plan_id)
    return plan_id
