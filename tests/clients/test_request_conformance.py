"""What the clients SEND conforms to the reference schemas (the sandbox tests cover what they receive).

Bodies are captured at the transport and validated against the bundled spec subsets. The FFN spec is
the fulfiller's, whose Outbound/Product/Inbound are the read models: a create body is checked against
the same schema with ``required`` cleared (server fields such as ids and timestamps are absent from a
create) and ``additionalProperties`` forbidden, so every field we send must exist with the right type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.ffn.models import AddressCreate, OutboundCreate, OutboundItemCreate
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import SalesOrderShippingDetail, SalesOrderUpdate, StockAdjustment
from tests.support import openapi


class _Capture:
    def __init__(self, reply: dict[str, Any], status: int = 201) -> None:
        self.bodies: list[tuple[str, str, Any]] = []
        self.reply, self.status = reply, status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.bodies.append((request.method, request.url.path, body))
        if request.method == "GET":  # the idempotency guard's lookup: nothing exists yet
            return httpx.Response(
                200, json={"items": [], "_page": {"total": 0, "limit": 50, "offset": 0}, "count": 0}
            )
        return httpx.Response(self.status, json=self.reply)


class _Token:
    def access_token(self) -> str:
        return "token"

    def invalidate(self, token: str) -> None:
        pass


@pytest.fixture
def ffn_capture() -> Iterator[tuple[FfnClient, _Capture]]:
    capture = _Capture({"outboundId": "MERC02AXEV", "merchantOutboundNumber": "AU-1", "status": "Pending"})
    http = httpx.Client(transport=httpx.MockTransport(capture))
    yield FfnClient(http, _Token(), "http://ffn.test/api"), capture


def test_outbound_create_body_conforms(ffn_capture: tuple[FfnClient, _Capture]) -> None:
    ffn, capture = ffn_capture
    ffn.outbounds.create(
        OutboundCreate(
            merchant_outbound_number="AU-1",
            warehouse_id="FULF04XX-12345-0001",
            shipping_address=AddressCreate(
                firstname="Erika",
                lastname="Mustermann",
                street="Hauptstr. 1",
                zip="10115",
                city="Berlin",
                country="DE",
                email="erika@example.invalid",
            ),
            items=[
                OutboundItemCreate(
                    outbound_item_id="1",
                    jfsku="MERC01PRDCT",
                    merchant_sku="00123",
                    quantity=2,
                    price=12.5,
                    vat=19,
                    name="Bio-Kaffee",
                )
            ],
            shipping_type="Standard",
            order_value=25.0,
            shipping_fee=4.9,
        )
    )
    posts = [b for m, p, b in capture.bodies if m == "POST"]
    assert len(posts) == 1
    validator = openapi.validator("ffn", "Outbound", deviations=False, create_body=True)
    errors = openapi.problems(validator, posts[0])
    assert not errors, errors


@pytest.fixture
def wawi_capture() -> Iterator[tuple[WawiClient, _Capture]]:
    capture = _Capture({"Id": 7, "Number": "AU-7", "WarehouseId": 1, "ItemId": 5})
    http = httpx.Client(transport=httpx.MockTransport(capture))
    yield WawiClient(http, "http://wawi.test/api/eazybusiness", SecretStr("k"), "app/x", "1.0"), capture


@pytest.mark.parametrize(
    ("call", "schema"),
    [
        pytest.param(
            lambda w: w.sales_orders.update(
                7,
                SalesOrderUpdate(
                    comment="on hold: POSTCODE_INVALID",
                    sales_order_shipping_detail=SalesOrderShippingDetail(on_hold_reason_id=3),
                ),
            ),
            "UpdateSalesOrder",
            id="hold-an-order",
        ),
        pytest.param(
            lambda w: w.stocks.adjust(
                StockAdjustment(warehouse_id=1, item_id=5, quantity=-2, comment="Inventur")
            ),
            "CreateStock",
            id="stock-adjustment",
        ),
    ],
)
def test_wawi_bodies_conform(wawi_capture: tuple[WawiClient, _Capture], call: Any, schema: str) -> None:
    wawi, capture = wawi_capture
    call(wawi)
    ((_, _, body),) = [c for c in capture.bodies if c[0] in ("POST", "PATCH")]
    errors = openapi.problems(openapi.validator("wawi", schema), body)
    assert not errors, errors
    props = openapi.schemas("wawi")[schema]["properties"]
    assert set(body) <= set(props), f"fields the schema does not know: {set(body) - set(props)}"


#: Nested objects of a product body and the schema each must satisfy in full (its own ``required``).
_PRODUCT_PARTS = {
    "specifications": "Specifications",
    "dimensions": "Dimensions",
    "netRetailPrice": "Price",
}


def _product_bodies() -> tuple[dict[str, Any], dict[str, Any]]:
    """A create and an update body as the product sync builds them (every synced field set)."""
    from jtl_automator.transforms.product_sync import (
        ProductPlanParams,
        create_body,
        ffn_products_frame,
        plan_product_sync,
        update_body,
        wawi_products_frame,
    )
    from tests.transforms.test_product_sync import item, product

    params = ProductPlanParams()
    suppliers = [{"IsStandard": True, "PackagingUnit": "Karton", "AmountPackagingUnit": 12.0}]
    wawi = wawi_products_frame(
        [
            item(1),
            item(2, Name="Neu", Taric="95030010", Identifiers={"Gtin": "96385074"}, CountryOfOrigin="AT"),
        ],
        params,
        manufacturers={3: "Holzwerkstatt Erzgebirge"},
        suppliers={1: suppliers, 2: suppliers},
    )
    existing = product(2, dimensions={"length": 30, "width": 20, "height": 15.5})
    plan = plan_product_sync(wawi, ffn_products_frame([existing]), params)
    rows = {r["merchant_sku"]: r for r in plan.to_dict("records")}
    return create_body(rows["HOL-1"]), update_body(rows["HOL-2"], existing)


@pytest.mark.slow
def test_product_create_and_update_bodies_conform(ffn_capture: tuple[FfnClient, _Capture]) -> None:
    ffn, capture = ffn_capture
    capture.reply = {"jfsku": "MERC01PRDCT", "merchantSku": "HOL-1", "name": "Spielzeugkiste Buche"}
    create, update = _product_bodies()
    ffn.products.create(create)
    capture.status = 204
    ffn.products.update("MERC01PRDCT", update, idempotent=True)
    sent = {m: b for m, p, b in capture.bodies if m in ("POST", "PATCH")}
    assert set(update) >= {"name", "identifier", "specifications", "dimensions", "originCountry", "bundles"}
    for method, body in sent.items():
        errors = openapi.problems(
            openapi.validator("ffn", "Product", deviations=False, create_body=True), body
        )
        assert not errors, (method, errors)
        for key, schema in _PRODUCT_PARTS.items():
            if body.get(key) is not None:
                found = openapi.problems(openapi.validator("ffn", schema, deviations=False), body[key])
                assert not found, (method, key, found)
        for bundle in body.get("bundles") or []:
            assert not openapi.problems(openapi.validator("ffn", "ProductBundle", deviations=False), bundle)
        mpn = (body.get("identifier") or {}).get("mpn")
        if mpn is not None:
            assert not openapi.problems(openapi.validator("ffn", "Mpn", deviations=False), mpn)
