"""Products (``/products``): create with a generated jfsku, PATCH by merge, lists and the change feed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.ffn.common import (
    CONDITIONS,
    FfnError,
    changed,
    get_or_404,
    index_add,
    json_response,
    merge_patch,
    new_id,
    new_modification_info,
    raw_body,
    require_object,
    runtime,
    timestamp,
    touch,
    unique_index,
    validation_error,
)
from jtl_automator.sandbox.ffn.listing import BOOL, MODIFICATION_ORDER, NUM, STR, feed, paged
from jtl_automator.sandbox.ffn.stock import new_stock
from jtl_automator.sandbox.ffn.validation import Checker, check_attributes
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import SandboxState, StateDep

routes = RouteTable()

PRODUCT_FIELDS = odata.FieldTable(
    types={
        **dict.fromkeys(
            [
                "jfsku",
                "merchantId",
                "name",
                "merchantSku",
                "productGroup",
                "manufacturer",
                "condition",
                "identifier/ean",
                "identifier/isbn",
                "identifier/upc",
                "identifier/asin",
                "identifier/mpn/manufacturer",
                "identifier/mpn/partNumber",
                "specifications/unNumber",
                "specifications/hazardIdentifier",
                "specifications/taric",
                "specifications/fnsku",
                "attributes/key",
                "attributes/value",
                "bundles/ean",
                "bundles/upc",
                "relatedProducts/jfsku",
                "relatedProducts/condition",
            ],
            STR,
        ),
        **dict.fromkeys(
            [
                "specifications/isBatch",
                "specifications/isDivisible",
                "specifications/isBestBefore",
                "specifications/isSerialNumber",
                "specifications/isBillOfMaterials",
            ],
            BOOL,
        ),
        "pictures/number": NUM,
    },
    arrays=frozenset({"attributes", "bundles", "pictures", "relatedProducts"}),
    order_only=MODIFICATION_ORDER,
)


_PRODUCT_STRINGS = ("productGroup", "manufacturer", "note")
# Warehouse.warehouseId in the reference: 14 to 255 characters.
_WAREHOUSE_ID_MIN, _WAREHOUSE_ID_MAX = 14, 255
_SPEC_FLAGS = ("isBatch", "isDivisible", "isBestBefore", "isSerialNumber", "isBillOfMaterials", "isPackaging")


def _normalise_product(check: Checker, body: Mapping[str, Any]) -> JsonObject:
    product: JsonObject = {}
    product["name"] = check.string(body, "name", "", required=True) or ""
    product["merchantSku"] = check.string(body, "merchantSku", "", required=True) or ""
    for key in _PRODUCT_STRINGS:
        product[key] = check.string(body, key, "", max_length=4096 if key == "note" else 255)
    origin = check.string(body, "originCountry", "")
    if origin is not None and len(origin) != 2:
        check.fail("originCountry must be an ISO 3166 alpha-2 code.")
    product["originCountry"] = origin
    product["weight"] = check.number(body, "weight", "")
    product["netWeight"] = check.number(body, "netWeight", "")
    identifier = body.get("identifier") or {}
    if not isinstance(identifier, dict):
        check.fail("identifier must be an object.")
        identifier = {}
    mpn = identifier.get("mpn")
    if mpn is not None and not (isinstance(mpn, dict) and "manufacturer" in mpn and "partNumber" in mpn):
        check.fail("identifier.mpn needs manufacturer and partNumber.")
        mpn = None
    product["identifier"] = {
        "mpn": mpn,
        **{k: check.string(identifier, k, "identifier.") for k in ("ean", "isbn", "upc", "asin")},
    }
    specs = body.get("specifications") or {}
    if not isinstance(specs, dict):
        check.fail("specifications must be an object.")
        specs = {}
    components = specs.get("billOfMaterialsComponents") or []
    product["specifications"] = {
        **{
            k: check.string(specs, k, "specifications.")
            for k in ("unNumber", "hazardIdentifier", "taric", "fnsku")
        },
        **{k: bool(specs.get(k, False)) for k in _SPEC_FLAGS},
        "billOfMaterialsComponents": [
            {"jfsku": c.get("jfsku"), "quantity": c.get("quantity")}
            for c in components
            if isinstance(c, dict)
        ],
    }
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, dict):
            check.fail("dimensions must be an object.")
            dimensions = None
        else:
            dimensions = {
                k: check.number(dimensions, k, "dimensions.", required=k != "width")
                for k in ("length", "width", "height")
            }
    product["dimensions"] = dimensions
    product["attributes"] = check_attributes(check, body.get("attributes"), "attributes")
    price = body.get("netRetailPrice")
    if price is not None:
        if not isinstance(price, dict):
            check.fail("netRetailPrice must be an object.")
            price = None
        else:
            price = {
                "amount": check.number(price, "amount", "netRetailPrice.", required=True),
                "currency": check.string(price, "currency", "netRetailPrice.", required=True),
            }
    product["netRetailPrice"] = price
    product["bundles"] = [
        {
            "name": b.get("name") or "",
            "quantity": b.get("quantity") or 0,
            "ean": b.get("ean"),
            "upc": b.get("upc"),
        }
        for b in body.get("bundles") or []
        if isinstance(b, dict)
    ]
    product["relatedProducts"] = [r for r in body.get("relatedProducts") or [] if isinstance(r, dict)]
    product["condition"] = check.enum(body, "condition", "", CONDITIONS) or "Default"
    return product


def create_product(state: SandboxState, body: Mapping[str, Any]) -> JsonObject:
    """POST /products: generated jfsku (merchantId + 7 chars) unless given; merchantSku unique [I]."""
    ffn, rt = state.data.ffn, runtime(state)
    check = Checker()
    fields = _normalise_product(check, body)
    jfsku = check.string(body, "jfsku", "")
    if jfsku is not None and len(jfsku) != 11:
        check.fail("jfsku must be 11 characters long.")
    check.raise_if_failed()
    with state.data.lock:
        skus = unique_index(rt, "merchantSku", ffn.products, "merchantSku")
        if fields["merchantSku"] in skus or (jfsku is not None and jfsku in ffn.products):
            raise FfnError(
                400,
                "Shared_DuplicateKey",
                "The given key already exists",
                {"MerchantSku": fields["merchantSku"], "Jfsku": jfsku},
            )
        jfsku = jfsku or new_id(rt, ffn.merchant_id, 11 - len(ffn.merchant_id), ffn.products)
        product = {
            "jfsku": jfsku,
            "merchantId": ffn.merchant_id,
            **fields,
            "pictures": [],
            "modificationInfo": new_modification_info(timestamp(rt)),
        }
        ffn.products[jfsku] = product
        index_add(rt, "merchantSku", ffn.products, fields["merchantSku"], jfsku)
        if jfsku not in ffn.stocks:
            ffn.stocks[jfsku] = new_stock(jfsku, fields["merchantSku"])
        changed(rt)
        return product


def patch_product(state: SandboxState, jfsku: str, body: Mapping[str, Any]) -> JsonObject:
    """PATCH /products/{jfsku}: merge, re-validate, keep merchantSku unique (the route answers 204)."""
    ffn, rt = state.data.ffn, runtime(state)
    with state.data.lock:
        old = get_or_404(ffn.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
        merged = merge_patch(old, body, frozenset({"jfsku", "merchantId", "modificationInfo", "pictures"}))
        check = Checker()
        fields = _normalise_product(check, merged)
        check.raise_if_failed()
        skus = unique_index(rt, "merchantSku", ffn.products, "merchantSku")
        owner = skus.get(fields["merchantSku"])
        if owner is not None and owner != jfsku:
            raise FfnError(
                400,
                "Shared_DuplicateKey",
                "The given key already exists",
                {"MerchantSku": fields["merchantSku"]},
            )
        old.update(fields)
        touch(old, timestamp(rt))
        rt.unique_indexes.pop("merchantSku", None)
        changed(rt)
        return old


# --------------------------------------------------------------------------------------------- routes
def referenced_warehouse(params: Mapping[str, str]) -> str | None:
    """``referencedWarehouse`` (case-blind name): a warehouse id as FFN's schema bounds it, else FFN's 400.

    The spec gives the parameter no description, only ``string, nullable``; empty means absent.
    """
    raw = next((v for k, v in params.items() if k.lower() == "referencedwarehouse"), None)
    if raw is None or raw == "":
        return None
    if (
        not (_WAREHOUSE_ID_MIN <= len(raw) <= _WAREHOUSE_ID_MAX)
        or not raw.isprintable()
        or raw != raw.strip()
    ):
        raise validation_error(
            f"referencedWarehouse must be a warehouse id ({_WAREHOUSE_ID_MIN} to {_WAREHOUSE_ID_MAX} "
            f"characters), got {raw!r}",
            {"referencedWarehouse": raw},
        )
    return raw


@routes.get("/products")
def list_products(request: Request, state: StateDep) -> Response:
    """Paged products, filterable on the fields of ``PRODUCT_FIELDS``.

    ``referencedWarehouse`` keeps the products the warehouse references: those with a stock row there,
    which every announcement, receipt, reservation or shipment in that warehouse creates [I] (the spec
    names the parameter without describing it). A well-formed id no warehouse has matches nothing.
    """
    warehouse_id = referenced_warehouse(request.query_params)
    products, stocks = state.data.ffn.products, state.data.ffn.stocks
    if warehouse_id is None:
        return paged(request, state, ("products",), products, lambda: list(products.values()), PRODUCT_FIELDS)

    def referenced() -> list[JsonObject]:
        return [
            product
            for jfsku, product in products.items()
            if any(
                row.get("warehouseId") == warehouse_id
                for row in (stocks.get(jfsku) or {}).get("warehouses") or []
            )
        ]

    return paged(request, state, ("products", warehouse_id), products, referenced, PRODUCT_FIELDS)


@routes.post("/products")
def post_product(state: StateDep, body: bytes = Depends(raw_body)) -> Response:
    """201 with the stored product."""
    return json_response(create_product(state, require_object(body)), 201)


@routes.get("/products/updates")
def product_updates(request: Request, state: StateDep) -> Response:
    """Products changed in ``[fromDate, toDate)`` (declared before ``/products/{jfsku}``)."""
    return feed(request, state, "products", state.data.ffn.products)


@routes.get("/products/{jfsku}")
def get_product(jfsku: str, state: StateDep) -> Response:
    """One product; 404 ``Products_ProductNotFound`` otherwise."""
    with state.data.lock:
        return json_response(
            get_or_404(state.data.ffn.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
        )


@routes.patch("/products/{jfsku}")
def patch_product_route(jfsku: str, state: StateDep, body: bytes = Depends(raw_body)) -> Response:
    """204 without a body, as FFN answers a PATCH."""
    patch_product(state, jfsku, require_object(body))
    return Response(status_code=204)
