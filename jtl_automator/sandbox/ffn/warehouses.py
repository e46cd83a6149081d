"""Warehouses and shipping methods (read-only lists of the fulfiller's set-up), and the current user."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.ffn.common import get_or_404, json_response
from jtl_automator.sandbox.ffn.listing import ADDRESS_FILTER, MODIFICATION_ORDER, STR, paged
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import StateDep

routes = RouteTable()

WAREHOUSE_FIELDS = odata.FieldTable(
    types={
        "warehouseId": STR,
        "fulfillerId": STR,
        "name": STR,
        **{f"address/{name}": STR for name in ADDRESS_FILTER},
    },
    order_only=MODIFICATION_ORDER,
)
SHIPPING_METHOD_FIELDS = odata.FieldTable(
    types=dict.fromkeys(
        [
            "shippingMethodId",
            "name",
            "carrierCode",
            "carrierName",
            "shippingType",
            "fulfillerShippingMethodNumber",
        ],
        STR,
    ),
    order_only=MODIFICATION_ORDER,
)


# --------------------------------------------------------------------------------------------- routes
@routes.get("/warehouses")
def list_warehouses(request: Request, state: StateDep) -> Response:
    """Paged warehouses of the merchant's fulfiller."""
    warehouses = state.data.ffn.warehouses
    return paged(
        request, state, ("warehouses",), warehouses, lambda: list(warehouses.values()), WAREHOUSE_FIELDS
    )


@routes.get("/warehouses/{warehouse_id}")
def get_warehouse(warehouse_id: str, state: StateDep) -> Response:
    """One warehouse; 404 ``Warehouses_WarehouseNotFound`` otherwise."""
    with state.data.lock:
        return json_response(
            get_or_404(
                state.data.ffn.warehouses,
                warehouse_id,
                "Warehouses_WarehouseNotFound",
                "Warehouse",
                "WarehouseId",
            )
        )


@routes.get("/shippingmethods")
def list_shipping_methods(request: Request, state: StateDep) -> Response:
    """Paged shipping methods (all lower case in the path, as FFN spells it)."""
    methods = state.data.ffn.shipping_methods
    return paged(
        request,
        state,
        ("shippingmethods",),
        methods,
        lambda: list(methods.values()),
        SHIPPING_METHOD_FIELDS,
    )


@routes.get("/shippingmethods/{shipping_method_id}")
def get_shipping_method(shipping_method_id: str, state: StateDep) -> Response:
    """One shipping method; 404 ``ShippingMethods_ShippingMethodNotFound`` otherwise."""
    with state.data.lock:
        return json_response(
            get_or_404(
                state.data.ffn.shipping_methods,
                shipping_method_id,
                "ShippingMethods_ShippingMethodNotFound",
                "Shipping method",
                "ShippingMethodId",
            )
        )
