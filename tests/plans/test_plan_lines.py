"""The movement kinds' line format: what the workflow actions write is what the executor reads."""

from __future__ import annotations

import pytest

from jtl_automator.plans import (
    BadRoute,
    NewLine,
    PlanError,
    Route,
    parse_route,
    rebalance_line,
    route_of,
    supplier_line,
)


def test_a_rebalance_line_carries_its_route_as_warehouse_and_in_details() -> None:
    line = rebalance_line("A-1", "WH1", "WH2", 5, reason="surplus", details={"score_from": 3})
    assert (line.sku, line.warehouse, line.quantity) == ("A-1", "WH1>WH2", 5)
    assert line.details == {"score_from": 3, "from_warehouse": "WH1", "to_warehouse": "WH2"}
    assert route_of(line) == Route("WH1", "WH2") and str(route_of(line)) == "WH1>WH2"
    assert str(line.key) == "A-1@WH1>WH2"


def test_a_route_reads_back_from_a_plain_line_without_details() -> None:
    assert route_of(NewLine(sku="A", warehouse="FULF04XX-1-0001>FULF04XX-2-0002", quantity=1)) == Route(
        "FULF04XX-1-0001", "FULF04XX-2-0002"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("WH1", "is not a route: expected FROM>TO"),
        ("WH1-WH2", "is not a route"),
        ("", "is not a route"),
        (">WH2", "source warehouse ''"),
        ("WH1>", "destination warehouse ''"),
        ("WH1>WH2>WH3", "destination warehouse 'WH2>WH3'"),
        ("WH1> WH2", "destination warehouse ' WH2'"),
        ("WH1>WH1", "moves units to the warehouse they are in"),
    ],
)
def test_malformed_routes_are_refused_with_the_expected_form(text: str, message: str) -> None:
    with pytest.raises(BadRoute, match=message) as caught:
        parse_route(text)
    assert isinstance(caught.value, PlanError) and isinstance(caught.value, ValueError)


def test_details_that_contradict_the_route_are_refused() -> None:
    line = NewLine(sku="A", warehouse="WH1>WH2", quantity=1, details={"from_warehouse": "WH3"})
    with pytest.raises(BadRoute, match=r"details\.from_warehouse 'WH3' contradicts the route"):
        route_of(line)


def test_the_builders_refuse_what_the_executor_could_not_read() -> None:
    with pytest.raises(BadRoute):
        rebalance_line("A", "WH1", "WH1", 1)
    with pytest.raises(BadRoute):
        supplier_line("A", "WH1>WH2", 1)
    line = supplier_line("A", "WH1", 4, reason="defect", details={"rma": "R-1"})
    assert (line.warehouse, line.quantity, line.details) == ("WH1", 4, {"rma": "R-1"})
