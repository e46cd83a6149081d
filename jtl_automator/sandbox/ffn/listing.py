"""Paged lists with OData ``$filter``/``$orderBy``/``$select``, and the ``/updates`` change feeds.

Objects are stored in their API shape and returned as-is, so a list page is a slice of a cached,
filtered and sorted list of dicts serialised in one go: paging 100,000 stocks costs a few ms per page.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import Response

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.ffn.common import dump_json, runtime, validation_error
from jtl_automator.sandbox.state import FfnRuntime, SandboxState

# Field types of the allow-lists (odata.FieldTable) each list endpoint filters and sorts on.
STR: odata.FieldType = "string"
NUM: odata.FieldType = "number"
BOOL: odata.FieldType = "boolean"
DATE: odata.FieldType = "datetime"
MODIFICATION_ORDER: dict[str, odata.FieldType] = {
    "modificationInfo/createdAt": DATE,
    "modificationInfo/updatedAt": DATE,
}
ADDRESS_FILTER = ["lastname", "company", "city", "email"]
_LIST_CACHE_SIZE = 64


# --------------------------------------------------------------------------------------------- listing
@dataclass(frozen=True)
class _ListQuery:
    top: int
    skip: int
    filter: str | None
    order_by: str | None
    select: tuple[str, ...] | None


def _parse_list_query(request: Request, state: SandboxState) -> _ListQuery:
    params = {key.lower(): value for key, value in request.query_params.multi_items()}
    top = int_param(params, "$top", state.config.ffn_default_top)
    skip = int_param(params, "$skip", 0)
    if top < 0 or skip < 0:
        raise validation_error("$top and $skip must not be negative", {"$top": top, "$skip": skip})
    if top > state.config.ffn_max_top:
        raise validation_error(
            f"$top must not exceed {state.config.ffn_max_top}",
            {"$top": top, "MaxTop": state.config.ffn_max_top},
        )
    select = params.get("$select")
    return _ListQuery(
        top=top,
        skip=skip,
        filter=params.get("$filter") or None,
        order_by=params.get("$orderby") or None,
        select=tuple(name.strip() for name in select.split(",") if name.strip()) if select else None,
    )


def int_param(params: Mapping[str, str], name: str, default: int) -> int:
    """An integer query parameter (case-blind name); junk is a 400 naming the parameter."""
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer, got {raw!r}", {name: raw}) from None


def _select_names(table: odata.FieldTable, objects: list[JsonObject]) -> frozenset[str]:
    names = {name.split("/")[0] for name in (*table.types, *table.order_only)}
    if objects:
        names.update(objects[0])
    return frozenset(names)


def _matching(
    rt: FfnRuntime,
    cache_key: tuple[Any, ...],
    store: Mapping[str, JsonObject],
    source: Callable[[], list[JsonObject]],
    table: odata.FieldTable,
    query: _ListQuery,
    operators: frozenset[str] | None = None,
) -> list[JsonObject]:
    """The filtered and ordered objects for a query, cached until the data changes.

    The store's identity and size are part of the key: a cheap guard for edits that forgot ``mark_changed``.
    ``operators`` (``SandboxConfig.ffn_filter_operators``) is in the key too, so a config swapped at run
    time never serves a result its filter would now be refused for.
    """
    key = (*cache_key, query.filter, operators, query.order_by, rt.version, id(store), len(store))
    cached = rt.list_cache.get(key)
    if cached is not None:
        rt.list_cache.move_to_end(key)
        return cached
    try:
        predicate = odata.parse_filter(query.filter, table, operators) if query.filter else None
        order = odata.parse_order_by(query.order_by, table) if query.order_by else None
    except odata.ODataError as exc:
        if isinstance(exc, odata.OperatorNotSupported):
            rt.filter_refusals += 1
        raise validation_error(
            f"Invalid query: {exc}", {"$filter": query.filter, "$orderBy": query.order_by}
        ) from None
    objects = source()
    if predicate is not None:
        objects = [obj for obj in objects if predicate(obj)]
    if order:
        objects = odata.sort_objects(objects, order)
    rt.list_cache[key] = objects
    if len(rt.list_cache) > _LIST_CACHE_SIZE:
        rt.list_cache.popitem(last=False)
    return objects


def link(request: Request, overrides: Mapping[str, Any]) -> str:
    """This request's URL with some query parameters replaced (next/previous page links)."""
    params = {
        k: v
        for k, v in request.query_params.multi_items()
        if k.lower() not in {k2.lower() for k2 in overrides}
    }
    params.update({k: str(v) for k, v in overrides.items()})
    base = str(request.url.replace(query="", fragment=""))
    return base + "?" + urlencode(params, quote_via=quote, safe="/")


def paged(
    request: Request,
    state: SandboxState,
    cache_key: tuple[Any, ...],
    store: Mapping[str, JsonObject],
    source: Callable[[], list[JsonObject]],
    table: odata.FieldTable,
) -> Response:
    """The Paged*Response envelope: ``count`` = matching items, ``_page.total`` = number of pages [I]."""
    query = _parse_list_query(request, state)
    rt = runtime(state)
    with state.data.lock:
        objects = _matching(rt, cache_key, store, source, table, query, state.config.ffn_filter_operators)
        if state.config.ffn_skip_past_end == "refuse" and 0 < len(objects) <= query.skip:
            raise validation_error(
                f"Invalid query: $skip {query.skip} is past the last item ({len(objects)})",
                {"$skip": query.skip},
            )
        page = objects[query.skip : query.skip + query.top]
        if query.select is not None:
            allowed = _select_names(table, objects)
            unknown = [name for name in query.select if name not in allowed]
            if unknown:
                raise validation_error(
                    f"Invalid query: unknown field {unknown[0]!r} in $select", {"$select": unknown[0]}
                )
            page = [{name: obj[name] for name in query.select if name in obj} for obj in page]
        count = len(objects)
        next_link = (
            link(request, {"$top": query.top, "$skip": query.skip + query.top})
            if query.top and query.skip + query.top < count
            else None
        )
        previous_link = (
            link(request, {"$top": query.top, "$skip": max(query.skip - query.top, 0)})
            if query.skip > 0
            else None
        )
        body = dump_json(
            {
                "items": page,
                "_page": {
                    "total": math.ceil(count / query.top) if query.top else 0,
                    "limit": query.top,
                    "offset": query.skip,
                },
                "_links": {"previous": previous_link, "next": next_link},
                "nextPageLink": next_link,
                "count": count,
            }
        )
    return Response(body, media_type="application/json")


# --------------------------------------------------------------------------------------------- change feed
def _parse_feed_date(raw: str | None, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    # An unencoded '+' in the offset arrives as a space; read it the way the client meant it.
    parsed = odata.parse_timestamp(raw.strip().replace(" ", "+"))
    if parsed is None:
        raise validation_error(f"{name} is not a valid date-time: {raw!r}", {name: raw})
    return parsed


def _event_time(obj: JsonObject) -> datetime | None:
    info = obj.get("modificationInfo") or {}
    stamp = info.get("updatedAt") or info.get("createdAt")
    return odata.parse_timestamp(stamp) if isinstance(stamp, str) else None


def feed(request: Request, state: SandboxState, name: str, store: dict[str, JsonObject]) -> Response:
    """``RecentXxxList``: objects whose last change (updatedAt, else createdAt) lies in [fromDate, toDate).

    Defaults [I]: toDate = now, fromDate = toDate − 24 h. ``nextChunkUrl`` always names the next page
    (the schema makes it a non-nullable URI); ``moreDataAvailable`` says whether to follow it.
    """
    rt = runtime(state)
    params = request.query_params
    to_date = _parse_feed_date(params.get("toDate"), "toDate") or rt.clock().astimezone(UTC)
    from_date = _parse_feed_date(params.get("fromDate"), "fromDate") or to_date - timedelta(days=1)
    page = int_param(params, "page", 1)
    if page < 1:
        raise validation_error("page must be 1 or greater", {"page": page})
    size = state.config.ffn_updates_page_size
    with state.data.lock:
        signature = (rt.version, id(store), len(store))
        cached = rt.feed_cache.get(name)
        if cached is None or cached[0] != signature:
            events = sorted(
                ((when, obj_id) for obj_id, obj in store.items() if (when := _event_time(obj)) is not None),
                key=lambda event: (event[0], event[1]),
            )
            cached = (signature, [when for when, _ in events], [obj_id for _, obj_id in events])
            rt.feed_cache[name] = cached
        _, times, ids = cached
        start, end = bisect_left(times, from_date), bisect_left(times, to_date)
        window = ids[start:end]
        first = (page - 1) * size
        data = [store[obj_id] for obj_id in window[first : first + size]]
        body = dump_json(
            {
                "from": from_date.isoformat(timespec="milliseconds"),
                "to": to_date.isoformat(timespec="milliseconds"),
                "data": data,
                "moreDataAvailable": first + size < len(window),
                "nextChunkUrl": link(
                    request,
                    {
                        "fromDate": from_date.isoformat(timespec="milliseconds"),
                        "toDate": to_date.isoformat(timespec="milliseconds"),
                        "page": page + 1,
                    },
                ),
            }
        )
    return Response(body, media_type="application/json")
