"""Returns (``/v1/returns``, Retouren) with their line items, and the reason and state lists.

``GET /returns`` is a ``PagedListOfReturn`` ("all non-pending returns") filtered only by what the 1.0 spec
lists: ``returnNumber``, ``customerId``, ``salesOrderId``, ``returnStateId``. It has no date filter and
documents no order, so a client reads every page and picks the dates itself; the strict knobs make that
the only way that works (newest Id first, an unlisted parameter a 400). The quantities are on the line
items (``GET /returns/{id}/lineitems``, a plain array), the reasons' names in ``GET /returnReasons``.
Creating returns (``POST /returns``) is not served: nothing in jtl-automator writes one.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request, Response

from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import StateDep
from jtl_automator.sandbox.wawi.common import (
    Query,
    WawiError,
    json_response,
    not_found,
    paged_envelope,
    sorted_values,
    v1_page,
    validation_error,
)

routes = RouteTable()

#: The query parameters the 1.0 spec lists for ``GET /returns`` (lower-cased, as ASP.NET binds them).
RETURN_FILTERS = {"returnnumber", "customerid", "salesorderid", "returnstateid", "pagenumber", "pagesize"}


@routes.get("/returns")
def list_returns(request: Request, state: StateDep) -> Response:
    """Paged; Id order (strict: newest Id first); only the spec's filters (strict: others are a 400)."""
    wawi = state.data.wawi
    query = Query(request)
    unknown = sorted(query.names() - RETURN_FILTERS)
    if unknown and state.config.wawi_returns_refuse_unknown_parameters:
        raise validation_error(dict.fromkeys(unknown, "The query parameter is not supported."))
    number, size = v1_page(state, query)
    rows: Sequence[JsonObject] = sorted_values(wawi.returns)
    if state.config.wawi_returns_newest_first:
        rows = list(reversed(rows))
    wanted = {
        "Number": query.text("returnNumber"),
        "CustomerId": query.integer("customerId"),
        "SalesOrderId": query.integer("salesOrderId"),
        "StateId": query.integer("returnStateId"),
    }
    wanted = {key: value for key, value in wanted.items() if value is not None}
    if wanted:
        rows = [r for r in rows if all(r.get(key) == value for key, value in wanted.items())]
    return json_response(paged_envelope(rows, number, size, past_end=state.config.wawi_page_past_end))


@routes.get("/returns/{return_id}")
def get_return(return_id: int, state: StateDep) -> Response:
    """One return by id."""
    found = state.data.wawi.returns.get(return_id)
    if found is None:
        raise not_found("Return", return_id)
    return json_response(found)


@routes.get("/returns/{return_id}/lineitems")
def list_return_line_items(return_id: int, state: StateDep) -> Response:
    """A plain array; an unknown return (and, strict, one without lines) is the spec's 404."""
    wawi = state.data.wawi
    if return_id not in wawi.returns:
        raise not_found("Return", return_id)
    lines = wawi.return_line_items.get(return_id, [])
    if not lines and state.config.wawi_return_lines_404_when_empty:
        raise WawiError(404, "NotFound", "No fields could be found.")
    return json_response(lines)


@routes.get("/returnReasons")
def list_return_reasons(state: StateDep) -> Response:
    """A plain array of ``ReturnReason`` (Id and the names per language)."""
    return json_response(state.data.wawi.return_reasons)


@routes.get("/returnStates")
def list_return_states(state: StateDep) -> Response:
    """A plain array of ``ReturnState``."""
    return json_response(state.data.wawi.return_states)
