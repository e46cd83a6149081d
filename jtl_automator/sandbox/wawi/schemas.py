"""The Wawi 1.0 schemas: completing stored objects and merging request bodies into them, typed.

Objects are kept exactly as served; created objects are completed from the spec's schemas so every
required property is present. Date-time properties without a value are left out rather than invented:
the real API omits null keys too.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.wawi.common import parse_time


@cache
def schemas() -> dict[str, JsonObject]:
    """The spec subset shipped with the package (components/schemas of the Wawi 1.0 OpenAPI)."""
    text = resources.files("jtl_automator.sandbox").joinpath("specs/wawi_schemas.json").read_text("utf-8")
    loaded: dict[str, JsonObject] = json.loads(text)["components"]["schemas"]
    return loaded


def _ref_name(prop: JsonObject) -> str | None:
    ref = prop.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _target_name(schema_name: str) -> str:
    """CreateAddress/UpdateAddress -> Address: request schemas mirror the response schemas' names."""
    for prefix in ("Create", "Update"):
        if schema_name.startswith(prefix) and schema_name[len(prefix) :] in schemas():
            return schema_name[len(prefix) :]
    return schema_name


def complete(schema_name: str, obj: JsonObject | None = None) -> JsonObject:
    """Fill every required property the object lacks with the type's neutral value (date-times excepted)."""
    schema = schemas()[schema_name]
    result: JsonObject = dict(obj or {})
    props: JsonObject = schema.get("properties", {})
    for key in schema.get("required", []):
        if key in result and result[key] is not None:
            continue
        prop = props.get(key, {})
        ref = _ref_name(prop)
        if ref is not None:
            result[key] = complete(ref)
            continue
        kind = prop.get("type")
        if kind == "string":
            if prop.get("format") == "date-time":
                result.pop(key, None)
                continue
            result[key] = ""
        elif kind == "integer":
            result[key] = prop["enum"][0] if "enum" in prop else 0
        elif kind == "number":
            result[key] = 0
        elif kind == "boolean":
            result[key] = False
        elif kind == "array":
            result[key] = []
        else:
            result[key] = {}
    return result


_TYPE_MESSAGES = {
    "integer": "System.Int32",
    "number": "System.Decimal",
    "boolean": "System.Boolean",
    "string": "System.String",
    "array": "System.Collections.Generic.List",
    "object": "System.Object",
}


def _type_ok(prop: JsonObject, value: Any) -> bool:
    kind = prop.get("type")
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return ok and ("enum" not in prop or value in prop["enum"])
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        if not isinstance(value, str):
            return False
        if prop.get("format") == "date-time":
            return parse_time(value) is not None
        return True
    if kind == "array":
        return isinstance(value, list)
    return True


def merge(
    schema_name: str,
    target: JsonObject,
    patch: Any,
    *,
    path: str = "",
    check_required: bool = False,
    errors: dict[str, str] | None = None,
) -> dict[str, str]:
    """Apply a request body to a stored object, typed by the request schema; returns the errors.

    Unknown keys are ignored (as ASP.NET's binder does) and nulls leave the value unchanged.
    """
    errors = {} if errors is None else errors
    schema = schemas()[schema_name]
    if not isinstance(patch, dict):
        errors[path or "body"] = f"The JSON value could not be converted to {schema_name}."
        return errors
    props: JsonObject = schema.get("properties", {})
    if check_required:
        for key in schema.get("required", []):
            if patch.get(key) is None:
                errors[f"{path}{key}"] = f"The {key} field is required."
    for key, value in patch.items():
        prop = props.get(key)
        if prop is None or value is None:
            continue
        here = f"{path}{key}"
        ref = _ref_name(prop)
        if ref is not None:
            sub = target.get(key)
            if not isinstance(sub, dict):
                sub = complete(_target_name(ref))
            merge(ref, sub, value, path=f"{here}.", check_required=check_required, errors=errors)
            target[key] = sub
            continue
        if not _type_ok(prop, value):
            type_name = _TYPE_MESSAGES.get(prop.get("type", ""), "the type")
            errors[here] = f"The JSON value could not be converted to {type_name}."
            continue
        item_ref = _ref_name(prop.get("items", {})) if prop.get("type") == "array" else None
        if item_ref is not None:
            converted = []
            for index, element in enumerate(value):
                obj = complete(_target_name(item_ref))
                merge(item_ref, obj, element, path=f"{here}[{index}].", check_required=True, errors=errors)
                converted.append(complete(_target_name(item_ref), obj))
            target[key] = converted
        else:
            min_length = prop.get("minLength")
            if min_length and isinstance(value, str) and len(value) < min_length:
                errors[here] = f"The {key} field is required."
                continue
            minimum = prop.get("minimum")
            if minimum is not None and value < minimum:
                errors[here] = f"The field {key} must be between {minimum} and {prop.get('maximum')}."
                continue
            target[key] = value
    return errors
