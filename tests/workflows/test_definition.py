"""What a definition means: conditions, tags, schedules, statuses, and filling a node at run time."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from jtl_automator.workflows.definition import (
    ORDER_EVENTS,
    Condition,
    ParamsError,
    Schedule,
    TagFilter,
    TagRef,
    WorkflowStatus,
    can_move,
    evaluate_if,
    resolve_params,
    template_context,
)
from jtl_automator.workflows.loader import parse_workflow
from jtl_automator.workflows.templates import RenderError

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("condition", "record", "expected"),
    [
        ({"field": "stock", "op": "lt", "value": 10}, {"stock": 9}, True),
        ({"field": "stock", "op": "lt", "value": 10}, {"stock": 10}, False),
        ({"field": "stock", "op": "lt", "value": 10}, {"stock": None}, False),  # unknown never matches
        ({"field": "stock", "op": "lt", "value": 10}, {}, False),
        ({"field": "cover_days", "op": "gte", "value": 180}, {"cover_days": 180.0}, True),
        ({"field": "price", "op": "in", "value": [9.99, 19.99]}, {"price": 19.99}, True),
        ({"field": "price", "op": "not_in", "value": [9.99]}, {"price": 19.99}, True),
        ({"field": "sku", "op": "starts_with", "value": "SAISON-"}, {"sku": "SAISON-1"}, True),
        ({"field": "sku", "op": "contains", "value": "-1"}, {"sku": "SAISON-1"}, True),
        ({"field": "sku", "op": "eq", "value": 42}, {"sku": "42"}, True),  # text compares as text
        ({"field": "status", "op": "in", "value": ["held", "failed"]}, {"status": "held"}, True),
        ({"field": "active", "op": "eq", "value": True}, {"active": False}, False),
        (
            {"field": "hold_codes", "op": "contains", "value": "ADDRESS_INCOMPLETE"},
            {"hold_codes": ["X", "ADDRESS_INCOMPLETE"]},
            True,
        ),
        ({"field": "hold_codes", "op": "contains", "value": ["A", "B"]}, {"hold_codes": ["B"]}, True),
        ({"field": "hold_codes", "op": "not_contains", "value": ["A", "B"]}, {"hold_codes": ["C"]}, True),
        (
            {"field": "changed", "op": "within_days", "value": 7},
            {"changed": "2026-11-25T00:00:00+00:00"},
            True,
        ),
        ({"field": "changed", "op": "older_than_days", "value": 7}, {"changed": datetime(2026, 11, 1)}, True),
        (
            {"field": "changed", "op": "older_than_days", "value": 7},
            {"changed": "2026-11-29T00:00:00"},
            False,
        ),
        ({"field": "stock", "op": "lt", "value": 10}, {"stock": "n/a"}, False),  # a wrong type never matches
    ],
)
def test_conditions(condition: dict[str, object], record: dict[str, object], expected: bool) -> None:
    assert Condition.model_validate(condition).matches(record, NOW) is expected


def test_tags_match_by_name_path_and_value() -> None:
    saison = TagRef.model_validate({"category": "Saison"})
    rot = TagRef.model_validate({"property": {"name": "Farbe", "value": "rot"}})
    any_colour = TagRef.model_validate({"property": {"name": "Farbe"}})
    flag = TagRef.model_validate({"custom_field": {"name": "Aktion", "value": True}})
    item = [
        ("category", "Saison"),
        ("category", "Kleidung > Saison"),
        ("property", "Farbe", "blau"),
        ("custom_field", "Aktion", "true"),
    ]
    assert saison.matches(item) and not rot.matches(item) and any_colour.matches(item) and flag.matches(item)
    assert str(flag) == "custom_field:Aktion=true" and str(saison) == "category:Saison"
    assert TagRef.model_validate({"category": "Kleidung > Saison"}).matches(item)
    tags = TagFilter.model_validate(
        {
            "include_any": [{"category": "Saison"}, {"category": "Sale"}],
            "include_all": [{"property": {"name": "Farbe"}}],
            "exclude": [{"property": {"name": "Farbe", "value": "blau"}}],
        }
    )
    assert not tags.matches(item)  # excluded: blue
    assert tags.matches([("category", "Sale"), ("property", "Farbe", "rot")])
    assert not tags.matches([("category", "Sale")])  # include_all wants a Farbe
    assert not tags.matches([("property", "Farbe", "rot")])  # include_any wants Saison or Sale
    assert TagFilter().matches([])


def test_schedules_fire_in_their_timezone() -> None:
    monday_six = Schedule(cron="0 6 * * 1")
    assert monday_six.timezone == "Europe/Berlin"
    after = monday_six.next_after(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))  # a Saturday
    assert after.astimezone(UTC) == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # 06:00 CET
    summer = monday_six.next_after(datetime(2026, 7, 1, tzinfo=UTC))
    assert summer.astimezone(UTC).hour == 4  # 06:00 CEST


def test_status_transitions() -> None:
    draft, active, paused, archived = (WorkflowStatus(s) for s in ("draft", "active", "paused", "archived"))
    assert can_move(draft, active) and can_move(active, paused) and can_move(paused, active)
    assert all(can_move(s, archived) for s in (draft, active, paused))
    assert not can_move(active, draft) and not can_move(paused, draft) and not can_move(draft, paused)
    assert not any(can_move(archived, s) for s in (draft, active, paused))


DOC = """\
name: restock
trigger:
  entity: inventory_item
  conditions: [{field: stock, op: lt, value: 10}]
  on_change: {source: stock_changed}
nodes:
  - id: plan
    action: plan_stub
    with: {kind: restock, warehouses: ["{{ trigger.warehouse }}"]}
  - id: add
    action: items_stub
    if: "{{ steps.plan.output.created }}"
    with:
      plan_id: "{{ steps.plan.output.plan_id }}"
      below_stock: "{{ trigger.stock }}"
      quantity: {strategy: fixed, quantity: "{{ trigger.stock * 2 }}"}
"""


def test_a_node_is_filled_and_validated_with_the_real_values(
    stub_actions: dict[str, type[BaseModel]],
) -> None:
    workflow = parse_workflow(DOC)
    params = stub_actions["items_stub"]
    trigger = {"sku": "A-1", "warehouse": "W1", "stock": 4}
    context = template_context(
        trigger=trigger,
        steps={"plan": {"output": {"plan_id": 7, "created": True}, "status": "succeeded"}},
        workflow={"name": "restock", "version": 1, "run_id": "r"},
        now=NOW,
    )
    filled, model = resolve_params(workflow.nodes[1], params, context)
    assert filled == {"plan_id": 7, "below_stock": 4, "quantity": {"strategy": "fixed", "quantity": 8}}
    assert model.plan_id == 7 and model.quantity.quantity == 8  # type: ignore[attr-defined]
    assert evaluate_if(workflow.nodes[1], context) is True and evaluate_if(workflow.nodes[0], context) is True
    context["steps"]["plan"]["output"]["created"] = False
    assert evaluate_if(workflow.nodes[1], context) is False

    context["trigger"]["stock"] = 0  # 0 units: the fixed quantity 0 is refused now, with its node and field
    with pytest.raises(ParamsError) as caught:
        resolve_params(workflow.nodes[1], params, context)
    assert str(caught.value) == (
        "node 'add', field with.quantity.quantity: Input should be greater than or equal to 1 (filled "
        "value: 0)"
    )
    context["steps"]["plan"]["output"] = {}
    with pytest.raises(
        RenderError, match=r"^node 'add', field with.plan_id: 'dict object' has no attribute 'plan_id'$"
    ):
        resolve_params(workflow.nodes[1], params, context)


def test_the_version_hash_ignores_the_status_and_nothing_else(
    stub_actions: dict[str, type[BaseModel]],
) -> None:
    base = parse_workflow(DOC)
    assert parse_workflow(DOC + "status: active\n").content_hash() == base.content_hash()
    assert parse_workflow(DOC.replace("value: 10", "value: 11")).content_hash() != base.content_hash()
    assert parse_workflow("description: x\n" + DOC).content_hash() != base.content_hash()


def test_the_order_events_are_the_ones_order_processing_records() -> None:
    """Drift guard: every event written by jtl_automator/services/order_processing is known, and back."""
    source = Path(__file__).resolve().parents[2] / "jtl_automator" / "services" / "order_processing"
    text = "\n".join(p.read_text(encoding="utf-8") for p in source.glob("*.py"))
    written = set(re.findall(r'journal\.(?:add|status)\(\s*(?:action,\s*)?"([a-z_]+)"', text))
    written |= set(re.findall(r'event="([a-z_]+)"', text))
    written |= set(re.findall(r'event, fields = "([a-z_]+)"', text))
    assert written == set(ORDER_EVENTS)


def test_a_node_sees_only_the_steps_it_needs(stub_actions: dict[str, type[BaseModel]]) -> None:
    """At load the names are checked; at run time the others are not even in the context."""
    workflow = parse_workflow(DOC)
    steps = {"plan": {"output": {"plan_id": 7}}, "later": {"output": {"secret": 1}}}
    context = template_context(
        trigger={}, steps=steps, workflow={}, now=NOW, visible=workflow.ancestors()["add"]
    )
    assert set(context["steps"]) == {"plan"}
    with pytest.raises(RenderError, match="has no attribute 'later'"):
        resolve_params(
            workflow.nodes[1].model_copy(update={"with_": {"plan_id": "{{ steps['la' ~ 'ter'] }}"}}),
            BaseModel,
            context,
        )
