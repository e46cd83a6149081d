"""Plans in the state database, the same on SQLite and PostgreSQL (postgres variants carry the marker)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from jtl_automator.plans import (
    ExecutionRef,
    IllegalTransition,
    LineKey,
    LineStatus,
    NewLine,
    PlanError,
    PlanNotEditable,
    PlanNotFound,
    PlanScope,
    PlanStatus,
    PlanStore,
    UnknownLines,
    UnknownPlanKind,
)
from jtl_automator.store import StateStore
from tests.support.migrations import database_at, downgrade_to, schema_diff, tables

SCOPE = PlanScope(warehouses=("W1", "W2"), supplier="S-1")


@pytest.fixture
def plans(store_url: str) -> Iterator[PlanStore]:
    store = StateStore(store_url)
    try:
        yield PlanStore(store)
    finally:
        store.dispose()


def _lines(*specs: tuple[str, str, int]) -> list[NewLine]:
    return [NewLine(sku=s, warehouse=w, quantity=q, reason="below reorder point") for s, w, q in specs]


@pytest.mark.slow
def test_create_or_get_returns_the_same_plan_for_the_same_kind_scope_and_period(plans: PlanStore) -> None:
    first = plans.create_or_get("restock", SCOPE, "2026-W48", created_by="run-1")
    again = plans.create_or_get("restock", PlanScope(warehouses=("W2", "W1"), supplier="S-1"), "2026-W48")
    assert first.created and not again.created
    assert again.plan.id == first.plan.id and again.plan.created_by == "run-1"
    assert first.plan.status is PlanStatus.DRAFT and first.plan.created_at.tzinfo is not None
    others = {
        plans.create_or_get("restock", SCOPE, "2026-W49").plan.id,
        plans.create_or_get("markdown", SCOPE, "2026-W48").plan.id,
        plans.create_or_get("restock", PlanScope(warehouses=("W1",), supplier="S-1"), "2026-W48").plan.id,
    }
    assert len(others) == 3 and first.plan.id not in others


@pytest.mark.slow
def test_create_or_get_refuses_unknown_kinds_and_bad_periods(plans: PlanStore) -> None:
    with pytest.raises(UnknownPlanKind):
        plans.create_or_get("restok", SCOPE, "2026-W48")
    with pytest.raises(ValueError, match="plan period"):
        plans.create_or_get("restock", SCOPE, "")
    assert plans.list_plans() == []


@pytest.mark.slow
def test_a_rerun_adds_to_and_updates_the_open_draft(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5), ("B", "W1", 2)))
    # The rerun: the same job proposes A again with another quantity, and a new line C.
    rerun_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    assert rerun_id == plan_id
    plan = plans.add_lines(
        rerun_id,
        [
            NewLine(sku="A", warehouse="W1", quantity=8, unit_price=Decimal("4.5"), score=0.75),
            *_lines(("C", "W2", 1)),
        ],
    )
    got = {(line.sku, line.warehouse): line for line in plans.get(plan_id).lines}
    assert {k: v.quantity for k, v in got.items()} == {("A", "W1"): 8, ("B", "W1"): 2, ("C", "W2"): 1}
    assert got["A", "W1"].unit_price == Decimal("4.5") and got["A", "W1"].score == 0.75
    assert got["B", "W1"].reason == "below reorder point"
    assert plan.line_count == 3 and plan.approved_count == 0
    assert all(line.status is LineStatus.PROPOSED for line in plan.lines)


@pytest.mark.slow
def test_lines_are_refused_once_the_plan_left_draft(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5)))
    plans.approve(plan_id, "anna")
    with pytest.raises(PlanNotEditable, match=rf"cannot add lines to plan {plan_id}: it is approved; "):
        plans.add_lines(plan_id, _lines(("A", "W1", 50), ("Z", "W1", 1)))
    lines = plans.get(plan_id).lines
    assert [(line.sku, line.quantity) for line in lines] == [("A", 5)]


@pytest.mark.slow
def test_approving_all_lines_records_who_and_when(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5), ("B", "W2", 2)))
    before = datetime.now(UTC)
    plan = plans.approve(plan_id, "anna")
    assert plan.status is PlanStatus.APPROVED and plan.approved_by == "anna"
    assert plan.approved_at is not None and plan.approved_at >= before.replace(microsecond=0)
    assert all(line.status is LineStatus.APPROVED and line.approved_by == "anna" for line in plan.lines)
    assert plans.get(plan_id).approved_count == 2


@pytest.mark.slow
def test_approving_some_lines_then_more(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5), ("B", "W2", 2), ("C", "W2", 1)))
    plan = plans.approve(plan_id, "anna", [LineKey("A", "W1")])
    assert {str(line.key): line.status for line in plan.lines} == {
        "A@W1": LineStatus.APPROVED,
        "B@W2": LineStatus.PROPOSED,
        "C@W2": LineStatus.PROPOSED,
    }
    plan = plans.approve(plan_id, "ben", [LineKey("B", "W2"), LineKey("A", "W1")])
    by = {str(line.key): line.approved_by for line in plan.lines}
    assert by == {"A@W1": "anna", "B@W2": "ben", "C@W2": None}  # A keeps its first approver
    assert plan.approved_by == "ben" and plan.approved_count == 2


@pytest.mark.slow
def test_approving_a_line_the_plan_does_not_have_changes_nothing(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5)))
    with pytest.raises(UnknownLines, match=rf"plan {plan_id} has no line A@W9, Q; see its lines with"):
        plans.approve(plan_id, "anna", [LineKey("A", "W1"), LineKey("A", "W9"), LineKey("Q")])
    plan = plans.get(plan_id)
    assert plan.status is PlanStatus.DRAFT and plan.approved_count == 0


@pytest.mark.slow
def test_an_empty_plan_cannot_be_approved(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    with pytest.raises(PlanError, match="it has no lines"):
        plans.approve(plan_id, "anna")
    assert plans.get(plan_id).status is PlanStatus.DRAFT


@pytest.mark.slow
def test_execution_records_what_it_created_and_ends_done(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5), ("B", "W2", 2), ("C", "W2", 1)))
    plans.approve(plan_id, "anna", [LineKey("A", "W1"), LineKey("B", "W2")])
    work = plans.mark_executing(plan_id)
    assert work.status is PlanStatus.EXECUTING and work.execution_started_at is not None
    assert [str(line.key) for line in work.lines if line.status is LineStatus.APPROVED] == ["A@W1", "B@W2"]
    with pytest.raises(IllegalTransition, match="it is executing"):
        plans.mark_executing(plan_id)  # a second run does not execute it again
    with pytest.raises(PlanError, match="C@W2 was not approved"):
        plans.record_execution(plan_id, {LineKey("C", "W2"): ExecutionRef(purchase_order_number="PO-1")})
    plans.record_execution(plan_id, {LineKey("A", "W1"): ExecutionRef("PO-1", "IN-1", {"supplier": "S-1"})})
    done = plans.mark_done(plan_id, {LineKey("B", "W2"): ExecutionRef("PO-1")})
    assert done.status is PlanStatus.DONE and done.done_at is not None
    refs = {str(line.key): (line.status, line.execution) for line in done.lines}
    assert refs == {
        "A@W1": (LineStatus.EXECUTED, ExecutionRef("PO-1", "IN-1", {"supplier": "S-1"})),
        "B@W2": (LineStatus.EXECUTED, ExecutionRef("PO-1", None, None)),
        "C@W2": (LineStatus.PROPOSED, None),
    }
    for step in (lambda: plans.cancel(plan_id, "anna"), lambda: plans.approve(plan_id, "anna")):
        with pytest.raises(IllegalTransition, match="it is done; it was executed"):
            step()


@pytest.mark.slow
def test_a_done_plans_executed_lines_take_further_records_and_keep_their_own(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5), ("B", "W2", 2)))
    plans.approve(plan_id, "anna", [LineKey("A", "W1")])
    plans.mark_executing(plan_id)
    plans.mark_done(plan_id, {LineKey("A", "W1"): ExecutionRef("PO-1", "IN-1", {"supplier": "S-1"})})
    sheet = {"inbound_control": {"sheet": "s.xlsx", "row": 4}}
    with pytest.raises(PlanError, match="B@W2 was not executed"):
        plans.annotate_execution(plan_id, {LineKey("B", "W2"): sheet})
    with pytest.raises(UnknownLines, match="Z@W1"):
        plans.annotate_execution(plan_id, {LineKey("Z", "W1"): sheet})
    done = plans.annotate_execution(plan_id, {LineKey("A", "W1"): sheet})
    assert done.status is PlanStatus.DONE
    assert done.lines[0].execution == ExecutionRef("PO-1", "IN-1", {"supplier": "S-1", **sheet})
    assert plans.get(plan_id).lines[0].execution == done.lines[0].execution  # stored, not only returned


@pytest.mark.slow
def test_a_failed_execution_goes_back_to_approved_keeping_what_was_made(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5), ("B", "W2", 2)))
    plans.approve(plan_id, "anna")
    plans.mark_executing(plan_id)
    failed = plans.mark_failed(plan_id, "Wawi 503", {LineKey("A", "W1"): ExecutionRef("PO-7")})
    assert failed.status is PlanStatus.APPROVED and failed.note == "Wawi 503"
    assert failed.execution_started_at is None
    again = plans.mark_executing(plan_id)
    pending = [str(line.key) for line in again.lines if line.status is LineStatus.APPROVED]
    assert pending == ["B@W2"]  # A was executed before the failure: not again
    assert plans.mark_done(plan_id).note is None


@pytest.mark.slow
@pytest.mark.parametrize("status", ["draft", "approved"])
def test_cancel_a_draft_or_approved_plan(plans: PlanStore, status: str) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5)))
    if status == "approved":
        plans.approve(plan_id, "anna")
    cancelled = plans.cancel(plan_id, "ben", "supplier on holiday")
    assert cancelled.status is PlanStatus.CANCELLED
    assert (cancelled.cancelled_by, cancelled.note) == ("ben", "supplier on holiday")
    with pytest.raises(IllegalTransition, match="it is cancelled; a cancelled plan stays cancelled"):
        plans.mark_executing(plan_id)
    with pytest.raises(PlanNotEditable):
        plans.add_lines(plan_id, _lines(("B", "W1", 1)))
    # The period keeps its (cancelled) plan: a rerun does not make a second one.
    assert plans.create_or_get("restock", SCOPE, "2026-W48").plan.id == plan_id


@pytest.mark.slow
def test_an_executing_plan_cannot_be_cancelled_nor_a_draft_executed(plans: PlanStore) -> None:
    plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(plan_id, _lines(("A", "W1", 5)))
    draft = rf"cannot execute plan {plan_id}: it is draft; approve it first"
    with pytest.raises(IllegalTransition, match=draft):
        plans.mark_executing(plan_id)
    plans.approve(plan_id, "anna")
    plans.mark_executing(plan_id)
    with pytest.raises(IllegalTransition, match=r"cannot cancel .* it is executing"):
        plans.cancel(plan_id, "ben")


@pytest.mark.slow
def test_unknown_plans(plans: PlanStore) -> None:
    for step in (lambda: plans.get(404), lambda: plans.approve(404, "anna"), lambda: plans.cancel(404, "a")):
        with pytest.raises(PlanNotFound, match="no plan 404 in the state database"):
            step()


@pytest.mark.slow
def test_list_filters_by_kind_and_status_newest_first(plans: PlanStore) -> None:
    a = plans.create_or_get("restock", SCOPE, "2026-W47").plan.id
    b = plans.create_or_get("markdown", PlanScope(extra={"channel": "shop"}), "2026-W48").plan.id
    c = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
    plans.add_lines(a, _lines(("A", "W1", 1), ("B", "W1", 1)))
    plans.approve(a, "anna", [LineKey("A", "W1")])
    assert [p.id for p in plans.list_plans()] == [c, b, a]
    assert [p.id for p in plans.list_plans(kind="restock")] == [c, a]
    approved = plans.list_plans(status=PlanStatus.APPROVED)
    assert [(p.id, p.line_count, p.approved_count, p.lines) for p in approved] == [(a, 2, 1, ())]
    assert plans.list_plans(kind="rebalance") == []


@pytest.mark.slow
def test_the_longest_values_the_limits_allow_fit(plans: PlanStore) -> None:
    scope = PlanScope(warehouses=tuple(f"W{i:03d}" + "x" * 250 for i in range(40)), supplier="S" * 255)
    plan_id = plans.create_or_get("restock", scope, "P" * 64, created_by="n" * 200).plan.id
    sku, warehouse = "S" * 255, "W" * 255
    big = NewLine(sku=sku, warehouse=warehouse, quantity=2**40, unit_price=Decimal("99999999999.9999"))
    plans.add_lines(plan_id, [big])
    plans.approve(plan_id, "a" * 200)
    plans.mark_executing(plan_id)
    plans.mark_done(plan_id, {LineKey(sku, warehouse): ExecutionRef("P" * 255, "I" * 255)})
    (line,) = plans.get(plan_id).lines
    assert line.quantity == 2**40 and line.unit_price == Decimal("99999999999.9999")
    assert line.execution == ExecutionRef("P" * 255, "I" * 255)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.slow
def test_concurrent_creators_get_the_same_plan(db: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{db}_url")
    store = StateStore(url)
    plans = PlanStore(store)
    start = threading.Barrier(6)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def create(n: int) -> None:
        try:
            start.wait()
            opened = plans.create_or_get("restock", SCOPE, "2026-W48", created_by=f"run-{n}")
            plans.add_lines(opened.plan.id, _lines((f"SKU-{n}", "W1", n + 1)))
            results.append((opened.plan.id, opened.created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        assert len({plan_id for plan_id, _ in results}) == 1
        assert sorted(created for _, created in results) == [False] * 5 + [True]
        (plan,) = plans.list_plans()
        assert plan.line_count == 6  # every creator's lines landed in the one plan
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from plans")).scalar_one() == 1
    finally:
        store.dispose()


@pytest.mark.slow
def test_the_database_refuses_a_second_plan_for_the_same_key(store_url: str) -> None:
    """The unique constraint itself, not only create-or-get's lookup, keeps one plan per key."""
    store = StateStore(store_url)
    PlanStore(store).create_or_get("restock", SCOPE, "2026-W48")
    row = {"kind": "restock", "h": SCOPE.key_hash(), "p": "2026-W48"}
    try:
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO plans (kind, scope_hash, scope, period, status, created_at, updated_at) "
                    "VALUES (:kind, :h, '{}', :p, 'draft', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                row,
            )
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_database_at_migration_4_upgrades_to_plans_keeping_its_rows(store_url: str) -> None:
    database_at(
        store_url,
        "7d2a4e9c1f03",
        "INSERT INTO order_ledger (order_number, status, sent_fingerprint, created_at, updated_at) "
        "VALUES ('AU-1', 'fulfilled', 'f1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    )
    assert "plans" not in tables(store_url)
    store = StateStore(store_url)  # migrates to head
    try:
        assert store.orders(["AU-1"])["AU-1"].sent_fingerprint == "f1"
        assert {"plans", "plan_lines", "plan_runs", "plan_steps"} <= tables(store_url)
        # The migration builds exactly the models' plan tables (SQLite keeps older tables' old lengths).
        assert schema_diff(store, "plan") == []
        if store.dialect == "postgresql":
            assert schema_diff(store) == []
        plans = PlanStore(store)
        plan_id = plans.create_or_get("restock", SCOPE, "2026-W48").plan.id
        assert plans.add_lines(plan_id, _lines(("A", "W1", 1))).line_count == 1
    finally:
        store.dispose()
    downgrade_to(store_url, "7d2a4e9c1f03")  # and back down: migration 5 removes only its own tables
    left = tables(store_url)
    assert "plans" not in left and "plan_lines" not in left and "plan_runs" in left
