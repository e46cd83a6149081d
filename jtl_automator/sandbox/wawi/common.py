"""What every Wawi route shares: JSON responses, ``WawiError``, query parsing and paging.

The guard in front of the routes (auth per flavour, scopes, rate limits) is
:mod:`jtl_automator.sandbox.wawi.guard`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, overload

from fastapi import Body, Request, Response

from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.state import SandboxState

PREFIX = "/wawi/api/eazybusiness"
JSON_MEDIA = "application/json; charset=utf-8"
JsonBody = Annotated[Any, Body()]


# --------------------------------------------------------------------------------------------------
# Responses and errors


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as the real API sends it (also used to deep-copy stored objects)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(obj: Any, status_code: int = 200) -> Response:
    """Serialise straight to bytes: pydantic response models would cost more than the lookup itself."""
    return Response(content=dumps(obj), status_code=status_code, media_type=JSON_MEDIA)


class WawiError(Exception):
    """An error the handler turns into the v1 ``ErrorResponse`` (or the v2 camelCase variant)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        validation_errors: dict[str, str] | None = None,
        *,
        empty_body: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.validation_errors = validation_errors or {}
        self.empty_body = empty_body

    def response(self, *, v2: bool = False) -> Response:
        """Render the error the way the v1 (PascalCase) or v2 (camelCase) API writes it."""
        if self.empty_body:
            return Response(status_code=self.status_code)
        if v2:
            body: JsonObject = {
                "errorCode": self.code,
                "validationErrors": self.validation_errors,
                "errors": {},
                "errorMessage": self.message,
                "stacktrace": None,
            }
        else:
            body = {
                "ErrorCode": self.code,
                "ErrorMessage": self.message,
                "ValidationErrors": self.validation_errors,
                "Stacktrace": None,
            }
        return json_response(body, self.status_code)


def unrouted(path: str, root: str, status_code: int, allow: str | None = None) -> Response:
    """Wawi's ``ErrorResponse`` where no route matches: 404, or 405 (with ``Allow``) for a known path.

    ``root`` is the flavour's API root; a path under its ``/v2`` gets the v2 (camelCase) body.
    """
    rest = path[len(root) :]
    v2 = rest == "/v2" or rest.startswith("/v2/")
    if status_code == 405:
        error = WawiError(
            405, "MethodNotAllowed", f"The requested resource does not support this method: {path}"
        )
    else:
        error = WawiError(404, "NotFound", f"No resource at {path}.")
    response = error.response(v2=v2)
    if allow:
        response.headers["Allow"] = allow
    return response


def not_found(entity: str, key: object) -> WawiError:
    """The v1 404 for an unknown id."""
    return WawiError(404, "NotFound", f"{entity} with id {key} was not found.")


def validation_error(errors: dict[str, str]) -> WawiError:
    """The v1 400 listing every offending member, as ASP.NET model validation does."""
    return WawiError(400, "ValidationError", "One or more validation errors occurred.", errors)


# --------------------------------------------------------------------------------------------------
# Query parsing and paging


@lru_cache(maxsize=1 << 18)
def parse_time(text: str) -> float | None:
    """Epoch seconds of an ISO-8601 string (naive means UTC); cached because filters scan 100k rows."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class Query:
    """Case-insensitive query parameters (ASP.NET binds them that way) with typed getters."""

    def __init__(self, request: Request) -> None:
        self._values = {key.lower(): value for key, value in request.query_params.items()}

    def names(self) -> set[str]:
        """The parameters given, lower-cased."""
        return set(self._values)

    def text(self, name: str) -> str | None:
        """The raw value; empty strings count as absent."""
        value = self._values.get(name.lower())
        return value if value not in (None, "") else None

    def integer(self, name: str) -> int | None:
        """An int32 parameter; junk is a 400 like ASP.NET's model binding."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise validation_error({name: f"The value '{value}' is not valid."}) from None

    def boolean(self, name: str) -> bool | None:
        """``true``/``false`` in any case."""
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise validation_error({name: f"The value '{value}' is not valid."})

    def time(self, name: str) -> float | None:
        """An ISO-8601 date-time as epoch seconds."""
        value = self.text(name)
        if value is None:
            return None
        parsed = parse_time(value)
        if parsed is None:
            raise validation_error({name: f"The value '{value}' is not valid."})
        return parsed


def page_params(query: Query, default_size: int, max_size: int) -> tuple[int, int]:
    """``pageNumber`` (1-based) and ``pageSize``; out-of-range values are a 400, not silently clamped."""
    number = query.integer("pageNumber")
    size = query.integer("pageSize")
    number = 1 if number is None else number
    size = default_size if size is None else size
    errors = {}
    if number < 1:
        errors["pageNumber"] = "The page number must be greater than or equal to 1."
    if size < 1 or size > max_size:
        errors["pageSize"] = f"The page size must be between 1 and {max_size}."
    if errors:
        raise validation_error(errors)
    return number, size


def paged_envelope(
    rows: Sequence[Any], number: int, size: int, *, camel: bool = False, past_end: str = "empty"
) -> JsonObject:
    """The PagedListOf* envelope; v1 quirks: no next page -> NextPageNumber = TotalPages, no previous -> 1.

    A page past the last one (``past_end``, the reference is silent): an empty page, or (``"refuse"``,
    the strictest reading) a 400 naming ``pageNumber``. Page 1 of an empty list is always an empty page.
    """
    total = len(rows)
    pages = math.ceil(total / size) if total else 0
    if past_end == "refuse" and number > max(1, pages):
        raise validation_error({"pageNumber": f"The page number must be at most {max(1, pages)}."})
    has_next = number < pages
    has_prev = number > 1
    items = rows[(number - 1) * size : number * size]
    if camel:
        return {
            "totalItems": total,
            "pageNumber": number,
            "pageSize": size,
            "totalPages": pages,
            "hasPreviousPage": has_prev,
            "hasNextPage": has_next,
            "nextPageNumber": number + 1 if has_next else None,
            "previousPageNumber": number - 1 if has_prev else None,
            "items": items,
        }
    return {
        "TotalItems": total,
        "PageNumber": number,
        "PageSize": size,
        "TotalPages": pages,
        "HasPreviousPage": has_prev,
        "HasNextPage": has_next,
        "NextPageNumber": number + 1 if has_next else pages,
        "PreviousPageNumber": number - 1 if has_prev else 1,
        "Items": items,
    }


class OrderedView(Sequence[JsonObject]):
    """Objects in id order without materialising them: an unfiltered page touches only its own rows."""

    def __init__(self, objects: dict[int, JsonObject]) -> None:
        self._objects = objects
        self._keys = sorted(objects)

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> JsonObject: ...

    @overload
    def __getitem__(self, index: slice) -> list[JsonObject]: ...

    def __getitem__(self, index: int | slice) -> JsonObject | list[JsonObject]:
        if isinstance(index, slice):
            return [self._objects[key] for key in self._keys[index]]
        return self._objects[self._keys[index]]

    def __iter__(self) -> Iterator[JsonObject]:
        objects = self._objects
        return (objects[key] for key in self._keys)


def sorted_values(objects: dict[int, JsonObject]) -> Sequence[JsonObject]:
    """Stored objects in id order (lazily: an unfiltered page reads only its own rows)."""
    return OrderedView(objects)


def next_id(keys: Iterable[int]) -> int:
    """Wawi's ids are identity columns: one past the highest so far."""
    return max(keys, default=0) + 1


def v1_page(state: SandboxState, query: Query) -> tuple[int, int]:
    """``page_params`` with the configured v1 default and maximum page size."""
    return page_params(query, state.config.wawi_default_page_size, state.config.wawi_max_page_size)


def round_quantity(value: float) -> float | int:
    """Quantities and prices as Wawi writes them: at most four decimals, whole numbers as ints."""
    rounded = round(value, 4)
    return int(rounded) if float(rounded).is_integer() else rounded
