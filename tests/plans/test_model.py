"""The plan concept without a database: kinds, scope keys, transitions, line keys and inputs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from jtl_automator.plans import (
    TRANSITIONS,
    LineKey,
    NewLine,
    PlanScope,
    PlanStatus,
    UnknownPlanKind,
    iso_week,
    plan_kind,
    plan_kinds,
    register_plan_kind,
)
from jtl_automator.plans.model import _KINDS, can_move, check_period


def test_the_five_kinds_of_the_design_are_registered() -> None:
    assert {k.name for k in plan_kinds()} >= {
        "restock",
        "markdown",
        "rebalance",
        "supplier_return",
        "supplier_exchange",
    }


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(UnknownPlanKind, match=r"unknown plan kind 'restok'; known kinds: .*restock"):
        plan_kind("restok")


def test_later_issues_can_register_a_kind_once() -> None:
    try:
        kind = register_plan_kind("clearance", "sell remaining units of discontinued items")
        assert plan_kind("clearance") is kind
        assert register_plan_kind("clearance", "sell remaining units of discontinued items") == kind
        with pytest.raises(ValueError, match="already registered"):
            register_plan_kind("clearance", "something else")
        with pytest.raises(ValueError, match="lower-case identifier"):
            register_plan_kind("Clear Ance", "x")
    finally:
        _KINDS.pop("clearance", None)


def test_the_scope_key_does_not_depend_on_the_order_given() -> None:
    a = PlanScope(warehouses=("W2", "W1", "W2"), supplier="S-1", extra={"channel": "shop", "brand": "X"})
    b = PlanScope(warehouses=("W1", "W2"), supplier="S-1", extra={"brand": "X", "channel": "shop"})
    assert a.key() == b.key() and a.key_hash() == b.key_hash()
    assert a.warehouses == ("W1", "W2")
    assert a.key() == '{"extra":{"brand":"X","channel":"shop"},"supplier":"S-1","warehouses":["W1","W2"]}'


@pytest.mark.parametrize(
    "other",
    [
        PlanScope(warehouses=("W1",), supplier="S-1"),
        PlanScope(warehouses=("W1", "W2"), supplier="S-2"),
        PlanScope(warehouses=("W1", "W2")),
        PlanScope(warehouses=("W1", "W2"), supplier="S-1", extra={"channel": "shop"}),
    ],
)
def test_different_scopes_have_different_keys(other: PlanScope) -> None:
    assert PlanScope(warehouses=("W1", "W2"), supplier="S-1").key_hash() != other.key_hash()


def test_a_scope_reads_back_from_its_json() -> None:
    scope = PlanScope(warehouses=("W1",), supplier="S", extra={"brand": "X"})
    assert PlanScope.model_validate(scope.as_json()) == scope
    assert scope.describe() == "warehouses W1 · supplier S · brand X"
    assert PlanScope().describe() == "everything"


def test_every_status_has_its_transitions_and_the_end_states_are_final() -> None:
    assert set(TRANSITIONS) == set(PlanStatus)
    assert can_move(PlanStatus.DRAFT, PlanStatus.APPROVED)
    assert can_move(PlanStatus.APPROVED, PlanStatus.EXECUTING)
    assert can_move(PlanStatus.EXECUTING, PlanStatus.DONE)
    assert can_move(PlanStatus.EXECUTING, PlanStatus.APPROVED)  # a failed execution
    assert not can_move(PlanStatus.DRAFT, PlanStatus.EXECUTING)  # nobody approved it
    assert not can_move(PlanStatus.EXECUTING, PlanStatus.CANCELLED)  # things were created
    assert not TRANSITIONS[PlanStatus.DONE] and not TRANSITIONS[PlanStatus.CANCELLED]


@pytest.mark.parametrize(
    ("text", "sku", "warehouse"),
    [("SKU-1@W1", "SKU-1", "W1"), ("SKU-1", "SKU-1", ""), ("mail@shop@W1", "mail@shop", "W1")],
)
def test_line_keys_parse_from_the_command_line(text: str, sku: str, warehouse: str) -> None:
    key = LineKey.parse(text)
    assert (key.sku, key.warehouse) == (sku, warehouse)
    assert str(key) == text


@pytest.mark.parametrize("text", ["@W1", "", " SKU@W1", "S" * 256])
def test_bad_line_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="SKU"):
        LineKey.parse(text)


def test_new_lines_validate_quantity_and_price() -> None:
    line = NewLine(sku="A", warehouse="W1", quantity=3, unit_price=Decimal("12.99"))
    assert line.key == LineKey("A", "W1")
    with pytest.raises(ValidationError):
        NewLine(sku="A", quantity=-1)
    with pytest.raises(ValidationError):
        NewLine(sku="A", quantity=1, unit_price=Decimal("1.23456"))
    with pytest.raises(ValidationError):  # 16 digits: SQLite could not keep it exactly
        NewLine(sku="A", quantity=1, unit_price=Decimal("999999999999.9999"))


def test_periods() -> None:
    assert iso_week(date(2026, 11, 26)) == "2026-W48"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"  # the ISO year, not the calendar year
    assert check_period("2026-11") == "2026-11"
    for bad in ("", " 2026", "x" * 65):
        with pytest.raises(ValueError, match="plan period"):
            check_period(bad)
