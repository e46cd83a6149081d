"""The lines of the movement kinds (rebalance, supplier return, supplier exchange): built and read here.

A line's key is (SKU, warehouse), so a rebalance line carries its route in the warehouse part,
``"<from>><to>"`` (``WH1>WH2``): the same SKU may move along several routes in one plan, and a rerun
that proposes the same SKU and route updates its line. ``details`` repeats the two ends
(``from_warehouse``, ``to_warehouse``) for readers that do not parse. A supplier return or exchange
line names the warehouse the units leave from; the supplier is the plan's ``scope.supplier`` (as for
restock plans: a Wawi supplier Id, number or name). The workflow actions build lines with these helpers
and the executor reads them with :func:`route_of`, so both sides agree on one format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from jtl_automator.plans.model import NewLine, PlanError

#: Separates the two warehouses of a rebalance line's route (warehouse ids never contain it).
ROUTE_SEP = ">"


class BadRoute(PlanError, ValueError):
    """A rebalance line whose route cannot be read; the message says what is wrong and the expected form."""


@dataclass(frozen=True, order=True)
class Route:
    """Where a rebalance line moves its units: from one warehouse to another."""

    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.source}{ROUTE_SEP}{self.target}"


class _HasRoute(Protocol):
    @property
    def warehouse(self) -> str: ...

    @property
    def details(self) -> dict[str, Any] | None: ...


def _check_end(value: str, what: str) -> str:
    if not value or value != value.strip() or ROUTE_SEP in value:
        raise BadRoute(
            f"{what} warehouse {value!r} must be a warehouse id without surrounding spaces or "
            f"{ROUTE_SEP!r}; a rebalance line's warehouse reads FROM{ROUTE_SEP}TO, e.g. WH1{ROUTE_SEP}WH2"
        )
    return value


def make_route(source: str, target: str) -> Route:
    """A checked route: two different warehouse ids."""
    route = Route(_check_end(source, "source"), _check_end(target, "destination"))
    if route.source == route.target:
        raise BadRoute(
            f"route {route} moves units to the warehouse they are in: give two different warehouses"
        )
    return route


def parse_route(text: str) -> Route:
    """``"WH1>WH2"`` as a route; anything else is a :class:`BadRoute` naming the expected form."""
    source, sep, target = text.partition(ROUTE_SEP)
    if not sep:
        raise BadRoute(
            f"rebalance line warehouse {text!r} is not a route: expected FROM{ROUTE_SEP}TO, e.g. "
            f"WH1{ROUTE_SEP}WH2"
        )
    return make_route(source, target)


def route_of(line: _HasRoute) -> Route:
    """The route of a rebalance line (stored or new): its warehouse text, checked against its details."""
    route = parse_route(line.warehouse)
    details = line.details or {}
    for key, end in (("from_warehouse", route.source), ("to_warehouse", route.target)):
        given = details.get(key)
        if given is not None and str(given) != end:
            raise BadRoute(
                f"rebalance line {line.warehouse!r}: details.{key} {given!r} contradicts the route"
            )
    return route


def rebalance_line(
    sku: str,
    source: str,
    target: str,
    quantity: int,
    *,
    reason: str | None = None,
    score: float | None = None,
    details: dict[str, Any] | None = None,
) -> NewLine:
    """A line moving ``quantity`` units of ``sku`` from ``source`` to ``target``."""
    route = make_route(source, target)
    return NewLine(
        sku=sku,
        warehouse=str(route),
        quantity=quantity,
        reason=reason,
        score=score,
        details={**(details or {}), "from_warehouse": route.source, "to_warehouse": route.target},
    )


def supplier_line(
    sku: str,
    warehouse: str,
    quantity: int,
    *,
    reason: str | None = None,
    score: float | None = None,
    details: dict[str, Any] | None = None,
) -> NewLine:
    """A supplier return or exchange line: ``quantity`` units of ``sku`` leave ``warehouse``.

    The supplier is the plan's scope (``PlanScope(supplier=...)``); an exchange expects the same units
    back into the same warehouse.
    """
    return NewLine(
        sku=sku,
        warehouse=_check_end(warehouse, "source"),
        quantity=quantity,
        reason=reason,
        score=score,
        details=details,
    )
