"""The Shop's cursor paging (jtl-shop-rest.md §3), with the stop rules a client needs.

``GET /{resource}?limit=L[&cursor=C]`` answers ``{"data": [...], "meta": {"cursor": {"current": C,
"prev": P, "next": N, "count": K}}}``: ``next`` is the primary key of the page's last row as a JSON
*string* (``"1002"``), or the int ``-1`` for an empty page; ``count`` is the rows of this page (there is
no total). ``cursor <= 0`` reads the first page, so ``-1`` must never be sent back. The iterator stops
when a page is empty, ``next`` is -1, or the page has fewer rows than asked for: ``ceil(n / L)``
requests for ``n`` rows, plus one empty page when ``n`` is a multiple of ``L``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jtl_automator.clients.errors import PaginationLoopError
from jtl_automator.clients.shop.errors import ShopResponseError

JsonObject = dict[str, Any]

#: ``meta.cursor.next`` of an empty page.
END_OF_LIST = -1


def read_cursor(value: Any, what: str) -> int:
    """``meta.cursor.next`` as an int: a decimal string (PHP's stringified fetch), an int, or -1."""
    if isinstance(value, bool):
        raise ShopResponseError(f"{what}: meta.cursor.next is {value!r}, not a key")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ShopResponseError(f"{what}: meta.cursor.next is {value!r}, not a key")


def rows_of(body: Any, what: str) -> list[Any]:
    """The ``data`` array of a list answer (a missing envelope is a broken answer, not an empty list)."""
    if not isinstance(body, Mapping) or "data" not in body:
        raise ShopResponseError(f"{what}: the answer has no 'data' envelope")
    data = body["data"]
    if not isinstance(data, list):
        raise ShopResponseError(f"{what}: 'data' is {type(data).__name__}, not a list")
    return data


def iterate_cursor(
    fetch: Callable[[int, int], Any], limit: int, *, after: int = 0, what: str = "Shop list"
) -> Iterator[tuple[list[Any], int]]:
    """Pages of a cursor-paged Shop list as ``(rows, cursor after the page)``, lazily.

    ``fetch(cursor, limit)`` GETs one page; the client leaves ``cursor`` out of the query when it is 0.
    ``after`` starts after that primary key (a saved watermark). Rows are handed out raw: the caller
    types them, so one malformed row cannot lose the page, and the cursor still moves past it.
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    if after < 0:
        raise ValueError("after must be >= 0 (the Shop reads a negative cursor as 'from the start')")
    cursor = after
    while True:
        body = fetch(cursor, limit)
        where = f"{what} after {cursor}"
        rows = rows_of(body, where)
        if not rows:
            return
        meta = body.get("meta")
        block = meta.get("cursor") if isinstance(meta, Mapping) else None
        if not isinstance(block, Mapping) or "next" not in block:
            raise ShopResponseError(f"{where}: a page of rows without meta.cursor.next")
        following = read_cursor(block.get("next"), where)
        if following == END_OF_LIST:
            raise ShopResponseError(f"{where}: meta.cursor.next is -1 on a page of {len(rows)} row(s)")
        if following <= cursor:
            raise PaginationLoopError(f"{where}: meta.cursor.next {following} does not advance")
        yield rows, following
        count = block.get("count")
        returned = count if isinstance(count, int) and not isinstance(count, bool) else len(rows)
        if returned < limit or len(rows) < limit:
            return
        cursor = following
