"""create_plan on a real state store: create or get, keyed by the step, deadlines, simulation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from jtl_automator.plans import PlanScope, PlanStore
from jtl_automator.store import StateStore
from jtl_automator.workflows.actions import action_names, get_action
from jtl_automator.workflows.actions.plan import CreatePlanParams, create_plan, resolve_deadline
from tests.workflows.actions.conftest import NOW, MakeCtx


def params(**values: object) -> CreatePlanParams:
    return CreatePlanParams.model_validate({"kind": "restock", **values})


def test_the_registry_knows_the_four_actions() -> None:
    assert {"create_plan", "add_items_to_plan", "call_webhook", "send_email"} <= set(action_names())
    assert get_action("create_plan").params is CreatePlanParams


@pytest.mark.slow
def test_creates_a_draft_then_gets_it_and_a_rerun_of_the_step_does_nothing(
    make_ctx: MakeCtx, store: StateStore
) -> None:
    p = params(warehouses=["W2", "W1"], supplier=7, deadline="in 7 days")
    first = create_plan(p, make_ctx("k1"))
    out = first.output
    assert out["created"] is True and out["status"] == "draft" and out["period"] == "2026-W45"
    assert out["scope"] == {"warehouses": ["W1", "W2"], "supplier": "7", "extra": {}}
    assert datetime.fromisoformat(out["deadline"]) == NOW + timedelta(days=7)
    assert first.effects == ("k1",) and first.repeated == ()

    again = create_plan(p, make_ctx("k1"))  # the same step retried
    assert again.repeated == ("k1",) and again.effects == () and again.output["plan_id"] == out["plan_id"]
    other = create_plan(params(warehouses=["W1", "W2"], supplier="7"), make_ctx("k2"))  # another trigger
    assert other.output["plan_id"] == out["plan_id"] and other.output["created"] is False
    assert len(PlanStore(store).list_plans()) == 1


@pytest.mark.slow
def test_a_rerun_reports_the_plans_status_now(make_ctx: MakeCtx, store: StateStore) -> None:
    plans = PlanStore(store)
    first = create_plan(params(), make_ctx("k1"))
    from jtl_automator.plans import NewLine

    plans.add_lines(first.output["plan_id"], [NewLine(sku="A", warehouse="W1", quantity=3)])
    plans.approve(first.output["plan_id"], by="anna")
    again = create_plan(params(), make_ctx("k1"))
    assert again.output["status"] == "approved" and again.output["lines"] == 1 and again.output["created"]


def test_simulation_creates_nothing_and_writes_no_ledger_row(make_ctx: MakeCtx, store: StateStore) -> None:
    sim = create_plan(params(period="month"), make_ctx("k1", simulate=True))
    assert sim.output["plan_id"] is None and sim.output["created"] is True
    assert sim.output["period"] == "2026-11" and "would create" in sim.summary
    assert PlanStore(store).list_plans() == [] and store.side_effect("k1") is None
    real = create_plan(params(period="month"), make_ctx("k2"))
    sim = create_plan(params(period="month"), make_ctx("k3", simulate=True))
    assert sim.output["plan_id"] == real.output["plan_id"] and sim.output["created"] is False
    assert store.side_effect("k3") is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-12-01", datetime(2026, 12, 1, 22, 59, 59, tzinfo=UTC)),  # the Berlin day's end
        ("2026-12-01T12:00", datetime(2026, 12, 1, 11, 0, tzinfo=UTC)),  # naive: Berlin time
        ("2026-12-01T12:00:00+00:00", datetime(2026, 12, 1, 12, 0, tzinfo=UTC)),
        ("in 2 weeks", NOW + timedelta(weeks=2)),
        ("In 36 hours", NOW + timedelta(hours=36)),
        ("P7D", NOW + timedelta(days=7)),
        ("PT12H", NOW + timedelta(hours=12)),
        ("", None),
        ("None", None),  # an earlier step's empty value
    ],
)
def test_deadline_forms(given: str, expected: datetime | None) -> None:
    assert resolve_deadline(given, NOW) == expected


@pytest.mark.parametrize("bad", ["next tuesday", "in seven days", "P7X", "2026-13-01", "in 5000 weeks"])
def test_a_bad_deadline_fails_validation_with_the_forms_allowed(bad: str) -> None:
    with pytest.raises(ValidationError, match="deadline"):
        params(deadline=bad)


@pytest.mark.slow
def test_bad_kind_scope_and_period_are_refused_with_what_is_allowed(make_ctx: MakeCtx) -> None:
    with pytest.raises(ValidationError, match=r"allowed: .*rebalance.*restock"):
        params(kind="restok")
    with pytest.raises(ValidationError, match="period"):
        params(period=" padded ")
    with pytest.raises(ValidationError, match="warehouse id"):
        params(warehouses=["W1>W2"])
    with pytest.raises(ValidationError, match="extra"):
        params(colour="red")
    with pytest.raises(ValidationError, match="supplier"):
        params(supplier="x" * 300)
    with pytest.raises(ValueError, match="needs a supplier"):
        create_plan(params(kind="supplier_return"), make_ctx())


def test_warehouses_from_a_template_text_and_the_same_scope_in_any_order(make_ctx: MakeCtx) -> None:
    p = params(warehouses="W2, W1")
    assert p.scope() == PlanScope(warehouses=("W1", "W2"))
    a = create_plan(p, make_ctx("k1"))
    b = create_plan(params(warehouses=["W1", "W2", "W1"]), make_ctx("k2"))
    assert a.output["plan_id"] == b.output["plan_id"]


@pytest.mark.slow
def test_create_or_get_on_both_databases(store_url: str) -> None:
    from jtl_automator.workflows.actions import ActionContext

    s = StateStore(store_url)
    try:
        ctx = ActionContext(store=s, run_id="r", effect_key="wf:x:1", now=NOW)
        first = create_plan(params(kind="rebalance", warehouses=["W1", "W2"]), ctx)
        again = create_plan(params(kind="rebalance", warehouses=["W1", "W2"]), ctx)
        assert again.repeated and again.output["plan_id"] == first.output["plan_id"]
    finally:
        s.dispose()


def test_every_action_documents_its_parameters_and_has_a_json_schema() -> None:
    for name in ("create_plan", "add_items_to_plan", "call_webhook", "send_email"):
        action = get_action(name)
        schema = action.params.model_json_schema()
        assert schema["properties"] and action.description
        undocumented = [f for f, info in action.params.model_fields.items() if not info.description]
        assert undocumented == [], f"{name}: {undocumented}"
