"""The Shop's cursor paging (jtl-shop-rest.md §3), with the stop rules a client needs.

``GET /{resource}?limit=L[&cursor=C]`` answers ``{"data": [...], "meta": {"cursor": {"current": C,
"prev": P, "next": N, "count": K}}}``: ``next`` is the primary key of the page's last row as a JSON
*string* (``"1002"``), or the int ``-1`` for an empty page; ``count`` is the rows of this page (there is
no total). ``cursor <= 0`` reads the first page, so ``-1`` must never be sent back. The iterator stops
when a page is empty, ``next`` is -1, or the page has fewer rows than asked for: ``ceil(n / L)``
requests for ``n`` rows, plus one empty page when ``n`` is a multiple of ``L``.
"""

from __future__ import annotations

import json
import threading
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


def cursor_hint(raw: bytes) -> tuple[int, int] | None:
    """``(meta.cursor.next, meta.cursor.count)`` read from the end of a list answer's bytes, or None.

    The envelope ends with its ``meta`` (``{"data": [...], "meta": {...}}``), so the last ``"meta":``
    is followed by the meta object and the envelope's closing brace: a few hundred bytes to parse where
    the whole page is hundreds of kilobytes. Anything else (another key order, no count, a value that is
    no key) gives None, and the caller waits for the decoded page as before.
    """
    at = raw.rfind(b'"meta"')
    if at < 0:
        return None
    rest = raw[at + len(b'"meta"') :].lstrip()
    if not rest.startswith(b":"):
        return None
    tail = rest[1:].rstrip()
    if not tail.endswith(b"}"):
        return None
    try:
        meta = json.loads(tail[:-1])
    except ValueError:
        return None
    block = meta.get("cursor") if isinstance(meta, dict) else None
    if not isinstance(block, dict):
        return None
    count = block.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        return None
    try:
        return read_cursor(block.get("next"), "hint"), count
    except ShopResponseError:
        return None


def iterate_cursor(
    fetch: Callable[[int, int], Any],
    limit: int,
    *,
    after: int = 0,
    what: str = "Shop list",
    prefetch: bool = False,
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
    decode: Callable[[Any], Any] | None = None,
    peek: Callable[[Any], tuple[int, int] | None] | None = None,
) -> Iterator[tuple[list[Any], int]]:
    """Pages of a cursor-paged Shop list as ``(rows, cursor after the page)``, lazily.

    ``fetch(cursor, limit)`` GETs one page; the client leaves ``cursor`` out of the query when it is 0.
    ``after`` starts after that primary key (a saved watermark). Rows are handed out raw: the caller
    types them, so one malformed row cannot lose the page, and the cursor still moves past it.
    ``decode`` turns what ``fetch`` returned into the JSON body (default: it already is one).

    With ``prefetch`` the next page is requested (in a thread) as soon as this one names its cursor, so
    the caller's work on a page overlaps the wait for the next: the chain of page latencies is all a
    list costs. ``peek(raw)`` may name the cursor and the row count before the page is decoded
    (:func:`cursor_hint`): a full page then sends for the next one before its own decoding, which is
    the only client work left between two links of the chain. The next page is asked for only while the
    caller waits for this one, so at most one page is read ahead of the page the caller holds. Same
    requests, same order; only a caller that stops early leaves one page unread.
    ``wrap`` wraps the function the thread runs (e.g. to carry the correlation id into it).
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    if after < 0:
        raise ValueError("after must be >= 0 (the Shop reads a negative cursor as 'from the start')")
    as_body: Callable[[Any], Any] = decode if decode is not None else (lambda raw: raw)
    if not prefetch:
        yield from _pages(lambda cursor: as_body(fetch(cursor, limit)), limit, after, what)
        return
    # two threads: one decodes a page while the other already waits for the next
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="shop-page") as pool:
        ahead: dict[int, Future[Any]] = {}  # pages asked for before the caller wanted them
        hinted: dict[int, int] = {}  # page -> the next page's cursor its tail named (not yet asked for)
        lock = threading.Lock()

        def load(cursor: int) -> Any:
            raw = fetch(cursor, limit)
            hint = peek(raw) if peek is not None else None
            if hint is not None and hint[0] > cursor and hint[1] >= limit:
                with lock:
                    if cursor in ahead:  # the caller still holds the page before: it asks when it wants this
                        hinted[cursor] = hint[0]
                    elif hint[0] not in ahead:  # the caller waits for this page: on to the next at once
                        ahead[hint[0]] = pool.submit(run, hint[0])
            return as_body(raw)

        run = wrap(load) if wrap is not None else load

        def body_at(cursor: int) -> Any:
            with lock:
                pending = ahead.pop(cursor, None)
                if pending is None:
                    pending = pool.submit(run, cursor)
                following = hinted.pop(cursor, None)
                if following is not None and following not in ahead:
                    ahead[following] = pool.submit(run, following)
            return pending.result()

        def next_page(cursor: int) -> None:
            with lock:
                if cursor not in ahead:
                    ahead[cursor] = pool.submit(run, cursor)

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
