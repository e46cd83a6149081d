"""Products (``/products``): create with a generated jfsku, PATCH by merge, lists and the change feed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response

from jtl_automator.gtin import gtin_valid
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
_SERVER_FIELDS = frozenset({"jfsku", "merchantId", "modificationInfo", "pictures"})
_ISO_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ISO_CURRENCY = re.compile(r"^[A-Z]{3}$")


class _Values:
    """The value checks of ``ffn_product_value_checks`` (strict): what FFN's schema leaves open [I]."""

    def __init__(self, check: Checker, on: bool) -> None:
        self.check, self.on = check, on

    def not_negative(self, value: float | int | None, field: str) -> None:
        if self.on and value is not None and value < 0:
            self.check.fail(f"{field} must not be negative.")

    def positive(self, value: float | int | None, field: str) -> None:
        if self.on and value is not None and value <= 0:
            self.check.fail(f"{field} must be greater than 0.")

    def gtin(self, value: str | None, field: str) -> None:
        if self.on and value and not gtin_valid(value):
            self.check.fail(
                f"{field} {value!r} is not a GTIN (8, 12, 13 or 14 digits with a valid check digit)."
            )


def _object(check: Checker, body: Mapping[str, Any], key: str, where: str = "") -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        check.fail(f"{where}{key} must be an object.")
        return None
    return value


def _flag(check: Checker, specs: Mapping[str, Any], key: str) -> bool:
    value = specs.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        check.fail(f"specifications.{key} must be a boolean.")
        return False
    return value


def _identifier(check: Checker, body: Mapping[str, Any], values: _Values) -> JsonObject:
    identifier = _object(check, body, "identifier") or {}
    mpn = identifier.get("mpn")
    if mpn is not None:
        if not isinstance(mpn, dict) or "manufacturer" not in mpn or "partNumber" not in mpn:
            check.fail("identifier.mpn needs manufacturer and partNumber.")
            mpn = None
        else:
            mpn = {
                "manufacturer": check.string(mpn, "manufacturer", "identifier.mpn.") or "",
                "partNumber": check.string(mpn, "partNumber", "identifier.mpn.") or "",
            }
    codes = {k: check.string(identifier, k, "identifier.") for k in ("ean", "isbn", "upc", "asin")}
    values.gtin(codes["ean"], "identifier.ean")
    return {"mpn": mpn, **codes}


def _specifications(check: Checker, body: Mapping[str, Any]) -> JsonObject:
    specs = _object(check, body, "specifications") or {}
    components = specs.get("billOfMaterialsComponents") or []
    if not isinstance(components, list):
        check.fail("specifications.billOfMaterialsComponents must be a list.")
        components = []
    kept = []
    for index, component in enumerate(components):
        at = f"specifications.billOfMaterialsComponents[{index}]."
        if not isinstance(component, dict):
            check.fail(f"{at[:-1]} must be an object.")
            continue
        jfsku = check.string(component, "jfsku", at, required=True)
        if jfsku is not None and len(jfsku) != 11:
            check.fail(f"{at}jfsku must be 11 characters long.")
        kept.append({"jfsku": jfsku, "quantity": check.number(component, "quantity", at, required=True)})
    return {
        **{
            k: check.string(specs, k, "specifications.")
            for k in ("unNumber", "hazardIdentifier", "taric", "fnsku")
        },
        **{k: _flag(check, specs, k) for k in _SPEC_FLAGS},
        "billOfMaterialsComponents": kept,
    }


def _dimensions(check: Checker, body: Mapping[str, Any], values: _Values) -> JsonObject | None:
    dimensions = _object(check, body, "dimensions")
    if dimensions is None:
        return None
    sizes = {
        k: check.number(dimensions, k, "dimensions.", required=k != "width")
        for k in ("length", "width", "height")
    }
    for key, size in sizes.items():
        values.not_negative(size, f"dimensions.{key}")
    return sizes


def _price(check: Checker, body: Mapping[str, Any], values: _Values) -> JsonObject | None:
    price = _object(check, body, "netRetailPrice")
    if price is None:
        return None
    amount = check.number(price, "amount", "netRetailPrice.", required=True)
    currency = check.string(price, "currency", "netRetailPrice.", required=True)
    if currency is not None and not _ISO_CURRENCY.match(currency):
        check.fail("netRetailPrice.currency must be an ISO 4217 alpha code (three capital letters).")
    values.not_negative(amount, "netRetailPrice.amount")
    return {"amount": amount, "currency": currency}


def _bundles(check: Checker, body: Mapping[str, Any], values: _Values) -> list[JsonObject]:
    bundles = body.get("bundles")
    if bundles is None:
        return []
    if not isinstance(bundles, list):
        check.fail("bundles must be a list.")
        return []
    kept = []
    for index, bundle in enumerate(bundles):
        at = f"bundles[{index}]."
        if not isinstance(bundle, dict):
            check.fail(f"bundles[{index}] must be an object.")
            continue
        if bundle.get("name") is None:
            check.fail(f"The {at}name field is required.")
        name = check.string(bundle, "name", at)
        quantity = check.number(bundle, "quantity", at, required=True)
        values.positive(quantity, f"{at}quantity")
        ean = check.string(bundle, "ean", at)
        values.gtin(ean, f"{at}ean")
        kept.append(
            {"name": name or "", "quantity": quantity, "ean": ean, "upc": check.string(bundle, "upc", at)}
        )
    return kept


def _normalise_product(check: Checker, body: Mapping[str, Any], value_checks: bool = False) -> JsonObject:
    """A product body checked against the spec's ``Product`` (lengths, formats, required members).

    With ``value_checks`` also what the spec leaves open, at its strictest [I]: no negative weight,
    dimension or price, a bundle holds at least something, ``netWeight`` is at most ``weight``, and an
    EAN (product or bundle) is a GTIN with a valid check digit.
    """
    values = _Values(check, value_checks)
    product: JsonObject = {}
    product["name"] = check.string(body, "name", "", required=True) or ""
    product["merchantSku"] = check.string(body, "merchantSku", "", required=True) or ""
    for key in _PRODUCT_STRINGS:
        product[key] = check.string(body, key, "", max_length=4096 if key == "note" else 255)
    origin = check.string(body, "originCountry", "")
    if origin is not None and not _ISO_COUNTRY.match(origin):
        check.fail("originCountry must be an ISO 3166 alpha-2 code.")
    product["originCountry"] = origin
    product["weight"] = check.number(body, "weight", "")
    product["netWeight"] = check.number(body, "netWeight", "")
    values.not_negative(product["weight"], "weight")
    values.not_negative(product["netWeight"], "netWeight")
    if (
        value_checks
        and product["weight"] is not None
        and product["netWeight"] is not None
        and product["netWeight"] > product["weight"]
    ):
        check.fail("netWeight must not be above weight.")
    product["identifier"] = _identifier(check, body, values)
    product["specifications"] = _specifications(check, body)
    product["dimensions"] = _dimensions(check, body, values)
    product["attributes"] = check_attributes(check, body.get("attributes"), "attributes")
    product["netRetailPrice"] = _price(check, body, values)
    product["bundles"] = _bundles(check, body, values)
    product["relatedProducts"] = [r for r in body.get("relatedProducts") or [] if isinstance(r, dict)]
    product["condition"] = check.enum(body, "condition", "", CONDITIONS) or "Default"
    return product


def _duplicate(sku: str, jfsku: str | None) -> FfnError:
    return FfnError(
        400, "Shared_DuplicateKey", "The given key already exists", {"MerchantSku": sku, "Jfsku": jfsku}
    )


def create_product(state: SandboxState, body: Mapping[str, Any]) -> JsonObject:
    """POST /products: generated jfsku (merchantId + 7 chars) unless given.

    A merchantSku another product carries is refused with Shared_DuplicateKey [I] unless
    ``ffn_unique_merchant_sku`` is off (strict: FFN documents no such uniqueness, so the client must not
    lean on it). A repeated jfsku is always refused.
    """
    ffn, rt = state.data.ffn, runtime(state)
    check = Checker()
    fields = _normalise_product(check, body, state.config.ffn_product_value_checks)
    jfsku = check.string(body, "jfsku", "")
    if jfsku is not None and len(jfsku) != 11:
        check.fail("jfsku must be 11 characters long.")
    check.raise_if_failed()
    with state.data.lock:
        skus = unique_index(rt, "merchantSku", ffn.products, "merchantSku")
        taken = state.config.ffn_unique_merchant_sku and fields["merchantSku"] in skus
        if taken or (jfsku is not None and jfsku in ffn.products):
            raise _duplicate(fields["merchantSku"], jfsku)
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
    """PATCH /products/{jfsku}: given members replace, re-validated as a whole (the route answers 204).

    A nested object merges into the stored one unless ``ffn_patch_replaces_nested_objects`` (strict: it
    replaces it, so a PATCH of ``identifier: {ean}`` drops the stored mpn) [I]. A merchantSku another
    product carries is refused as on create (when ``ffn_unique_merchant_sku``).
    """
    ffn, rt = state.data.ffn, runtime(state)
    with state.data.lock:
        old = get_or_404(ffn.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
        if state.config.ffn_patch_replaces_nested_objects:
            merged = {**old, **{k: v for k, v in body.items() if k not in _SERVER_FIELDS}}
        else:
            merged = merge_patch(old, body, _SERVER_FIELDS)
        check = Checker()
        fields = _normalise_product(check, merged, state.config.ffn_product_value_checks)
        check.raise_if_failed()
        skus = unique_index(rt, "merchantSku", ffn.products, "merchantSku")
        owner = skus.get(fields["merchantSku"])
        if state.config.ffn_unique_merchant_sku and owner is not None and owner != jfsku:
            raise _duplicate(fields["merchantSku"], None)
        renamed = fields["merchantSku"] != old.get("merchantSku")
        old.update(fields)
        touch(old, timestamp(rt))
        if renamed:  # rebuilding the index costs a pass over every product: only when a key moved
            rt.unique_indexes.pop("merchantSku", None)
        changed(rt)
        return old


def authorize_product(state: SandboxState, jfsku: str | None, body: Mapping[str, Any]) -> list[str]:
    """Grant a fulfiller one product (``jfsku``) or every product (None); the jfskus newly granted.

    ``fulfillerId`` must be a fulfiller of one of the merchant's warehouses (else 400 naming it). A grant
    that exists already is answered as a new one unless ``ffn_authorization_duplicate_refused`` (strict:
    400 Shared_DuplicateKey) [I]: the reference names the endpoints, not their answers.
    """
    ffn = state.data.ffn
    check = Checker()
    fulfiller = check.string(body, "fulfillerId", "", required=True)
    check.raise_if_failed()
    assert fulfiller is not None
    with state.data.lock:
        known = {str(w.get("fulfillerId")) for w in ffn.warehouses.values()} | {ffn.fulfiller_id}
        if fulfiller not in known:
            raise validation_error(
                f"fulfillerId '{fulfiller}' is not a fulfiller of this merchant", {"FulfillerId": fulfiller}
            )
        if jfsku is not None:
            get_or_404(ffn.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
            granted = ffn.product_authorizations.setdefault(jfsku, [])
            if fulfiller in granted:
                if state.config.ffn_authorization_duplicate_refused:
                    raise FfnError(
                        400,
                        "Shared_DuplicateKey",
                        "The given key already exists",
                        {"Jfsku": jfsku, "FulfillerId": fulfiller},
                    )
                return []
            granted.append(fulfiller)
            return [jfsku]
        new = []
        for key in ffn.products:
            granted = ffn.product_authorizations.setdefault(key, [])
            if fulfiller not in granted:
                granted.append(fulfiller)
                new.append(key)
        return new


def revoke_product(state: SandboxState, jfsku: str, fulfiller_id: str) -> None:
    """DELETE /products/{jfsku}/authorizations/{fulfillerId}; 404 when there is no such grant."""
    ffn = state.data.ffn
    with state.data.lock:
        get_or_404(ffn.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
        granted = ffn.product_authorizations.get(jfsku) or []
        if fulfiller_id not in granted:
            raise FfnError(
                404,
                "Shared_OperationForbidden",
                f"Product '{jfsku}' is not authorised for fulfiller '{fulfiller_id}'",
                {"Jfsku": jfsku, "FulfillerId": fulfiller_id},
            )
        granted.remove(fulfiller_id)


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


@routes.post("/products/authorizations")
def post_all_authorizations(state: StateDep, body: bytes = Depends(raw_body)) -> Response:
    """Grant a fulfiller every product (201); declared before ``/products/{jfsku}``."""
    granted = authorize_product(state, None, require_object(body))
    return json_response({"fulfillerId": require_object(body).get("fulfillerId"), "jfskus": granted}, 201)


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


@routes.post("/products/{jfsku}/authorizations")
def post_authorization(jfsku: str, state: StateDep, body: bytes = Depends(raw_body)) -> Response:
    """201 with the grant ``{jfsku, fulfillerId}``."""
    payload = require_object(body)
    authorize_product(state, jfsku, payload)
    return json_response({"jfsku": jfsku, "fulfillerId": payload.get("fulfillerId")}, 201)


@routes.delete("/products/{jfsku}/authorizations/{fulfiller_id}")
def delete_authorization(jfsku: str, fulfiller_id: str, state: StateDep) -> Response:
    """204: the fulfiller no longer sees the product."""
    revoke_product(state, jfsku, fulfiller_id)
    return Response(status_code=204)
