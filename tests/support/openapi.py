"""One set of OpenAPI validators over the reference schemas the project ships (FFN and Wawi).

The schemas are the subsets of JTL's OpenAPI files in ``jtl_automator/sandbox/specs``. Where the FFN spec
contradicts itself or the live API, :func:`ffn_with_documented_deviations` names each deviation; every
other relaxation is an explicit option of :func:`validator`, so a test says exactly how strict it is.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any, Literal

from openapi_schema_validator import OAS30ReadValidator, OAS30Validator, oas30_format_checker

Api = Literal["ffn", "wawi"]
Json = dict[str, Any]


@cache
def _spec_text(api: Api) -> str:
    return resources.files("jtl_automator.sandbox").joinpath(f"specs/{api}_schemas.json").read_text("utf-8")


def spec(api: Api) -> Json:
    """A fresh copy of the API's schema file (callers may patch it)."""
    loaded: Json = json.loads(_spec_text(api))
    return loaded


def schemas(api: Api) -> Json:
    """``components.schemas`` of the API."""
    found: Json = spec(api)["components"]["schemas"]
    return found


def ffn_with_documented_deviations(source: Json) -> Json:
    """The FFN spec with the deviations the live API shows, each one named here.

    - ``ErrorResponse.errorMetaData``: the API sends ``errorMetadata`` (the spec's own examples do too).
    - ``Product.openInbounds``/``openOutbounds``: required in the fulfiller view only; the merchant view
      the project reads omits them.
    - ``PageLinks`` and ``Paged*.nextPageLink``: null on the last page.
    - nullable enums: JSON Schema does not let ``nullable`` admit null into an ``enum``; the API sends null.
    """
    patched = copy.deepcopy(source)
    found = patched["components"]["schemas"]
    error = found["ErrorResponse"]
    error["properties"]["errorMetadata"] = error["properties"].pop("errorMetaData")
    error["required"] = ["errorMetadata" if name == "errorMetaData" else name for name in error["required"]]
    for name in ("Product", "ProductPageItem"):
        found[name]["required"] = [
            r for r in found[name]["required"] if r not in ("openInbounds", "openOutbounds")
        ]
    for prop in found["PageLinks"]["properties"].values():
        prop["nullable"] = True
    for name, schema in found.items():
        if schema.get("nullable") and "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        if name.startswith("Paged"):
            schema["properties"]["nextPageLink"]["nullable"] = True
    return patched


def _without_required_dates(source: Json) -> Json:
    """Wawi: date-time fields the API leaves out on objects that never had that event."""
    patched = copy.deepcopy(source)
    for schema in patched["components"]["schemas"].values():
        dates = {n for n, p in schema.get("properties", {}).items() if p.get("format") == "date-time"}
        if "required" in schema:
            schema["required"] = [n for n in schema["required"] if n not in dates]
    return patched


def _as_create_bodies(source: Json) -> Json:
    """A read schema as a create body: nothing required, nothing unknown allowed (recursively)."""
    patched = copy.deepcopy(source)

    def strict(schema: Json) -> None:
        if "properties" in schema:
            schema.pop("required", None)
            schema["additionalProperties"] = False
            for prop in schema["properties"].values():
                strict(prop)
                if "items" in prop:
                    strict(prop["items"])

    for schema in patched["components"]["schemas"].values():
        strict(schema)
    return patched


@cache
def validator(
    api: Api,
    name: str,
    *,
    deviations: bool = True,
    relaxed_dates: bool = False,
    create_body: bool = False,
    read: bool = False,
) -> OAS30Validator:
    """A validator of one component schema, with formats checked (built once per set of options).

    ``deviations``: FFN's documented deviations (no effect for Wawi). ``relaxed_dates``: Wawi date-times
    need not be present. ``create_body``: nothing required, no unknown field. ``read``: the response
    view (``writeOnly`` fields must not appear).
    """
    source = spec(api)
    if api == "ffn" and deviations:
        source = ffn_with_documented_deviations(source)
    if relaxed_dates:
        source = _without_required_dates(source)
    if create_body:
        source = _as_create_bodies(source)
    schema = {"$ref": f"#/components/schemas/{name}", "components": source["components"]}
    kind = OAS30ReadValidator if read else OAS30Validator
    return kind(schema, format_checker=oas30_format_checker)


def problems(check: OAS30Validator, instance: Any, limit: int = 5) -> list[str]:
    """The first validation errors, each as ``path: message``."""
    errors = sorted(check.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:limit]]
