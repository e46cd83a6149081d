"""Customers (``/v1/customers``): list with number, keyword, group and category filters; read by id."""

from __future__ import annotations

from fastapi import Request, Response

from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import StateDep
from jtl_automator.sandbox.wawi.common import (
    Query,
    json_response,
    not_found,
    paged_envelope,
    sorted_values,
    v1_page,
)

routes = RouteTable()


@routes.get("/customers")
def list_customers(request: Request, state: StateDep) -> Response:
    """Paged; ``searchKeyWord`` matches number, names, company, e-mail and city, case-blind."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = v1_page(state, query)
    customer_number = query.text("number")
    keyword = query.text("searchKeyWord")
    group_id = query.integer("groupId")
    category_id = query.integer("categoryId")
    rows = sorted_values(wawi.customers)
    if customer_number is not None:
        rows = [c for c in rows if c.get("Number") == customer_number]
    if keyword is not None:
        needle = keyword.lower()
        rows = [c for c in rows if needle in _customer_search_text(c)]
    if group_id is not None:
        rows = [c for c in rows if c.get("CustomerGroupId") == group_id]
    if category_id is not None:
        rows = [c for c in rows if c.get("CustomerCategoryId") == category_id]
    return json_response(paged_envelope(rows, number, size, past_end=state.config.wawi_page_past_end))


@routes.get("/customers/{customer_id}")
def get_customer(customer_id: int, state: StateDep) -> Response:
    """One customer by id; 404 ``NotFound`` otherwise."""
    wawi = state.data.wawi
    customer = wawi.customers.get(customer_id)
    if customer is None:
        raise not_found("Customer", customer_id)
    return json_response(customer)


def _customer_search_text(customer: JsonObject) -> str:
    address = customer.get("BillingAddress") or {}
    parts = (
        customer.get("Number"),
        address.get("FirstName"),
        address.get("LastName"),
        address.get("Company"),
        address.get("EmailAddress"),
        address.get("City"),
    )
    return "\n".join(p for p in parts if isinstance(p, str)).lower()
