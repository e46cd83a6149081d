"""Request-body validation the FFN way: every problem of a body collected into one 400."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from jtl_automator.sandbox.data import FfnData, JsonObject
from jtl_automator.sandbox.ffn.common import ATTRIBUTE_TYPES, FfnError, validation_error


class Checker:
    """Collects every problem of a request body so one 400 lists them all, like ASP.NET model validation."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str) -> None:
        """Record a problem; :meth:`raise_if_failed` reports them all."""
        self.errors.append(message)

    def string(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: bool = False, max_length: int = 255
    ) -> str | None:
        """A string field (optional unless ``required``), at most ``max_length`` characters."""
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(f"The {where}{key} field is required.")
            return None
        if not isinstance(value, str):
            self.fail(f"{where}{key} must be a string.")
            return None
        if required and not value.strip():
            self.fail(f"The {where}{key} field is required.")
        if len(value) > max_length:
            self.fail(f"{where}{key} must be at most {max_length} characters long.")
        return value

    def number(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: bool = False
    ) -> float | int | None:
        """A finite number field (booleans are not numbers)."""
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(f"The {where}{key} field is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(f"{where}{key} must be a number.")
            return None
        return value

    def enum(
        self,
        obj: Mapping[str, Any],
        key: str,
        where: str,
        allowed: tuple[str, ...],
        *,
        required: bool = False,
    ) -> str | None:
        """A string field that must be one of ``allowed``."""
        value = self.string(obj, key, where, required=required)
        if value is not None and value not in allowed:
            self.fail(f"{where}{key} must be one of {', '.join(allowed)}; got {value!r}.")
            return None
        return value

    def raise_if_failed(self) -> None:
        """One 400 listing every recorded problem, if there is any."""
        if self.errors:
            raise validation_error(self.errors)


def check_address(check: Checker, address: Any, where: str, *, required: bool) -> JsonObject | None:
    """An address as FFN stores it (every key present); street, city, country and a name are required."""
    if address is None:
        if required:
            check.fail(f"The {where} field is required.")
        return None
    if not isinstance(address, dict):
        check.fail(f"{where} must be an object.")
        return None
    prefix = f"{where}."
    for key in (
        "salutation",
        "firstname",
        "lastname",
        "company",
        "extraLine",
        "extraAddressLine",
        "zip",
        "state",
        "email",
        "phone",
        "mobile",
        "fax",
    ):
        check.string(address, key, prefix)
    check.string(address, "street", prefix, required=True)
    check.string(address, "city", prefix, required=True)
    country = check.string(address, "country", prefix, required=True)
    if country is not None and (len(country) != 2 or not country.isalpha()):
        check.fail(f"{prefix}country must be an ISO 3166 alpha-2 code.")
    if not (address.get("company") or "").strip() and not (address.get("lastname") or "").strip():
        check.fail(f"One of {prefix}company or {prefix}lastname must be given.")
    keys = (
        "salutation",
        "firstname",
        "lastname",
        "company",
        "street",
        "extraLine",
        "extraAddressLine",
        "zip",
        "city",
        "state",
        "country",
        "email",
        "phone",
        "mobile",
        "fax",
    )
    return {key: address.get(key) for key in keys}


def check_attributes(check: Checker, value: Any, where: str) -> list[JsonObject]:
    """Key/value attributes; non-string values are stored as their JSON text."""
    if value is None:
        return []
    if not isinstance(value, list):
        check.fail(f"{where} must be a list.")
        return []
    result = []
    for index, attribute in enumerate(value):
        at = f"{where}[{index}]."
        if not isinstance(attribute, dict):
            check.fail(f"{where}[{index}] must be an object.")
            continue
        key = check.string(attribute, "key", at, required=True)
        raw = attribute.get("value")
        text = raw if isinstance(raw, str) else (None if raw is None else json.dumps(raw))
        if text is None:
            check.fail(f"The {at}value field is required.")
        kind = check.enum(attribute, "attributeType", at, ATTRIBUTE_TYPES) or "String"
        result.append({"key": key, "value": text, "attributeType": kind})
    return result


def check_items_known(ffn: FfnData, jfskus: list[str]) -> None:
    """Every referenced jfsku must be a product, else one 400 naming all missing ones."""
    missing = sorted({jfsku for jfsku in jfskus if jfsku not in ffn.products})
    if missing:
        raise FfnError(
            400,
            "Products_ProductsNotFound",
            f"Products '{', '.join(missing)}' not found",
            {"Jfskus": ", ".join(missing)},
        )


def check_warehouse(ffn: FfnData, warehouse_id: str) -> None:
    """The warehouse must exist (a 400, not a 404: it is a reference in a body)."""
    if warehouse_id not in ffn.warehouses:
        raise FfnError(
            400,
            "Warehouses_WarehouseNotFound",
            f"Warehouse '{warehouse_id}' not found",
            {"WarehouseId": warehouse_id},
        )
