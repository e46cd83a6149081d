"""Read-only master data: suppliers, warehouses, categories, manufacturers, on-hold reasons, methods.

Plus ``GET /info``, the cheap health check, and what prices need: manufacturers, companies, tax classes,
sales channels, customer groups (plain arrays) and the tax rate of a tax class or an item for a company
shipping from one country to another (``/tax/taxclass/…``, ``/tax/item/…``: a ``TaxRate``). Suppliers and
the method/reason lists are plain arrays, the others paged, as in the Wawi 1.0 spec.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from jtl_automator.sandbox.data import iso_now
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import SandboxState, StateDep
from jtl_automator.sandbox.wawi.common import (
    Query,
    WawiError,
    json_response,
    paged_envelope,
    sorted_values,
    v1_page,
    validation_error,
)

routes = RouteTable()


@routes.get("/suppliers")
def list_suppliers(state: StateDep) -> Response:
    """A plain array in id order (not paged in the spec)."""
    wawi = state.data.wawi
    return json_response(list(sorted_values(wawi.suppliers)))


@routes.get("/info")
def info(request: Request, state: StateDep) -> Response:
    """``GET /info``: the cheap health check (version, time, tenant, type)."""
    hosted = getattr(request.state, "wawi_flavour", "onprem") == "cloud"
    tenant = state.config.wawi_cloud_tenant_id if hosted else "eazybusiness"
    return json_response(
        {
            "Version": "1.10.12.0",
            "Timestamp": iso_now(),
            "Tenant": tenant,
            "Type": "Cloud" if hosted else "OnPremise",
        }
    )


@routes.get("/warehouses")
def list_warehouses(request: Request, state: StateDep) -> Response:
    """Paged, optionally only active ones."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = v1_page(state, query)
    is_active = query.boolean("isActive")
    rows = sorted_values(wawi.warehouses)
    if is_active is not None:
        rows = [w for w in rows if w.get("IsActive") == is_active]
    return json_response(paged_envelope(rows, number, size, past_end=state.config.wawi_page_past_end))


@routes.get("/categories")
def list_categories(request: Request, state: StateDep) -> Response:
    """Paged, all levels."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = v1_page(state, query)
    return json_response(
        paged_envelope(sorted_values(wawi.categories), number, size, past_end=state.config.wawi_page_past_end)
    )


@routes.get("/onHoldReasons")
def list_on_hold_reasons(state: StateDep) -> Response:
    """A plain array, as stored."""
    wawi = state.data.wawi
    return json_response(wawi.on_hold_reasons)


@routes.get("/shippingMethods")
def list_shipping_methods(state: StateDep) -> Response:
    """A plain array, as stored."""
    wawi = state.data.wawi
    return json_response(wawi.shipping_methods)


@routes.get("/paymentMethods")
def list_payment_methods(state: StateDep) -> Response:
    """A plain array, as stored."""
    wawi = state.data.wawi
    return json_response(wawi.payment_methods)


# --------------------------------------------------------------------------------------------------
# What prices need: manufacturers, companies, tax classes and rates, sales channels, customer groups


@routes.get("/manufacturers")
def list_manufacturers(state: StateDep) -> Response:
    """A plain array in id order (not paged in the spec)."""
    return json_response(list(sorted_values(state.data.wawi.manufacturers)))


@routes.get("/companies")
def list_companies(state: StateDep) -> Response:
    """A plain array: the merchant's companies (``Id``, ``Name``)."""
    return json_response(list(sorted_values(state.data.wawi.companies)))


@routes.get("/taxClasses")
def list_tax_classes(state: StateDep) -> Response:
    """A plain array of TaxClass (``Id``, ``Name``, ``IsDefault``, ``Type``)."""
    return json_response(list(sorted_values(state.data.wawi.tax_classes)))


@routes.get("/salesChannels")
def list_sales_channels(state: StateDep) -> Response:
    """A plain array of SalesChannel with what the REST API may change on each (``ItemCapabilities``)."""
    return json_response(list(state.data.wawi.sales_channels))


@routes.get("/customerGroups")
def list_customer_groups(state: StateDep) -> Response:
    """A plain array of CustomerGroup."""
    return json_response(list(sorted_values(state.data.wawi.customer_groups)))


def _tax_rate(
    state: SandboxState, tax_class_id: int, company_id: int, departure: str, shipment: str
) -> Response:
    wawi = state.data.wawi
    if tax_class_id not in wawi.tax_classes:
        raise WawiError(404, "NotFound", "No TaxClass with the given ID exists.")
    errors = {}
    if company_id not in wawi.companies:
        errors["companyId"] = f"The company {company_id} does not exist."
    found = next(
        (
            rate
            for rate in wawi.tax_rates
            if rate.get("TaxClassId") == tax_class_id
            and str(rate.get("DepartureCountryISO", "")).upper() == departure.upper()
            and str(rate.get("ShipmentCountryISO", "")).upper() == shipment.upper()
        ),
        None,
    )
    if found is None and not errors:
        errors["shipmentCountryISO"] = f"No tax rate is set up from {departure} to {shipment}."
    if errors:
        raise validation_error(errors)
    return json_response(found)


@routes.get("/tax/taxclass/{tax_class_id}/{company_id}/{departure_country_iso}/{shipment_country_iso}")
def tax_for_tax_class(
    tax_class_id: int, company_id: int, departure_country_iso: str, shipment_country_iso: str, state: StateDep
) -> Response:
    """The TaxRate of a tax class for a company shipping from one country to another."""
    return _tax_rate(state, tax_class_id, company_id, departure_country_iso, shipment_country_iso)


@routes.get("/tax/item/{item_id}/{company_id}/{departure_country_iso}/{shipment_country_iso}")
def tax_for_item(
    item_id: int, company_id: int, departure_country_iso: str, shipment_country_iso: str, state: StateDep
) -> Response:
    """The TaxRate of an item (by its ``TaxClassId``); 404 for an unknown item."""
    item = state.data.wawi.items.get(item_id)
    if item is None:
        raise WawiError(404, "NotFound", "No item with the given ID exists.")
    tax_class_id: Any = item.get("TaxClassId")
    return _tax_rate(state, tax_class_id, company_id, departure_country_iso, shipment_country_iso)
