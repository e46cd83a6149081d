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
from concurrent.futures import Future, ThreadPoolExecutor
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
    fetch: Callable[[int, int], Any],
    limit: int,
    *,
    after: int = 0,
    what: str = "Shop list",
    prefetch: bool = False,
    wrap: Callable[[Callable[[int, int], Any]], Callable[[int, int], Any]] | None = None,
) -> Iterator[tuple[list[Any], int]]:
    """Pages of a cursor-paged Shop list as ``(rows, cursor after the page)``, lazily.

    ``fetch(cursor, limit)`` GETs one page; the client leaves ``cursor`` out of the query when it is 0.
    ``after`` starts after that primary key (a saved watermark). Rows are handed out raw: the caller
    types them, so one malformed row cannot lose the page, and the cursor still moves past it.

    With ``prefetch`` the next page is requested (in a thread) as soon as this one names its cursor, so
    the caller's work on a page overlaps the wait for the next: the chain of page latencies is all a
    list costs. Same requests, same order; only a caller that stops early leaves one page unread.
    ``wrap`` wraps the function the thread runs (e.g. to carry the correlation id into it).
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    if after < 0:
        raise ValueError("after must be >= 0 (the Shop reads a negative cursor as 'from the start')")
    if not prefetch:
        yield from _pages(lambda cursor: fetch(cursor, limit), limit, after, what)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shop-page") as pool:
        ahead: dict[int, Future[Any]] = {}

        def body_at(cursor: int) -> Any:
            pending = ahead.pop(cursor, None)
            return pending.result() if pending is not None else fetch(cursor, limit)

        run = wrap(fetch) if wrap is not None else fetch

        def next_page(cursor: int) -> None:
            ahead[cursor] = pool.submit(run, cursor, limit)

        yield from _pages(body_at, limit, after, what, next_page)


def _pages(
    body_at: Callable[[int], Any],
    limit: int,
    after: int,
    what: str,
    next_page: Callable[[int], None] | None = None,
) -> Iterator[tuple[list[Any], int]]:
    """:func:`iterate_cursor`'s loop; ``next_page(cursor)`` (if given) is told the page to come first."""
    cursor = after
    while True:
        body = body_at(cursor)
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
        count = block.get("count")
        returned = count if isinstance(count, int) and not isinstance(count, bool) else len(rows)
        last = returned < limit or len(rows) < limit
        if not last and next_page is not None:
            next_page(following)
        yield rows, following
        if last:
            return
        cursor = following
