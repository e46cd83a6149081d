"""Lazy page iterators for the three paging schemes of the JTL APIs, with loop detection.

Each iterator takes a ``fetch`` callable (the client's HTTP call) and yields *pages*: lists of raw
dicts exactly as the API sent them. Clients wrap them into models or flatten them; benchmarks keep
the dicts. A server that hands out the same page or next link twice makes the iterator raise
:class:`PaginationLoopError` instead of looping forever (meltano's ``advance()`` check).

Request counts for ``n`` objects and page size ``s`` (what the property tests pin down):

- FFN OData: ``ceil(n / s)`` requests (one for ``n = 0``) when the envelope carries ``count`` or a
  next link; a server sending neither costs one extra (empty) request whenever ``n`` is a multiple of
  ``s``, because only a short page proves the end.
- Wawi pageNumber/pageSize: ``ceil(n / s)`` (one for ``n = 0``), driven by ``HasNextPage``.
- FFN ``/updates``: one request per chunk while ``moreDataAvailable`` is true.

A server that refuses the page size as too large (FFN's ``$top`` and Wawi's ``pageSize`` have no
documented maximum) costs one more request per halving: the OData and pageNumber iterators take a
:class:`PageSize`, halve it on such a 400 and ask again for the same item offset.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from jtl_automator.clients.errors import PaginationLoopError
from jtl_automator.clients.hedged import HedgedReads
from jtl_automator.correlation import correlated_logger

logger = correlated_logger("jtl_automator.pagination")

JsonObject = dict[str, Any]
Page = list[JsonObject]
T = TypeVar("T")


def _fingerprint(items: list[Any]) -> tuple[int, str, str]:
    """Identity of a page cheap enough for 100k objects: its size and its first and last object."""
    if not items:
        return (0, "", "")
    return (
        len(items),
        json.dumps(items[0], sort_keys=True, default=str),
        json.dumps(items[-1], sort_keys=True, default=str),
    )


class _LoopGuard:
    def __init__(self, what: str) -> None:
        self.what = what
        self._pages: set[tuple[int, str, str]] = set()
        self._links: set[str] = set()

    def page(self, items: list[Any], where: str) -> None:
        fingerprint = _fingerprint(items)
        if fingerprint in self._pages:
            raise PaginationLoopError(f"{self.what}: the page at {where} repeats an earlier page")
        self._pages.add(fingerprint)

    def link(self, link: str) -> None:
        if link in self._links:
            raise PaginationLoopError(f"{self.what}: next link {link!r} was already followed")
        self._links.add(link)


class PageSize:
    """The page size a client asks for, lowered for the rest of the client's life when refused.

    Neither API documents a maximum page size, so a client starts with the configured one and, when the
    server answers a page with a 400 that ``refused`` recognises as "page size too large", asks again
    with half of it. The lowered size is kept (every later list of the client starts with it) and said
    once in the log; at 1 there is nothing left to halve and the error is raised.
    """

    def __init__(self, size: int, refused: Callable[[Exception], bool], *, what: str) -> None:
        if size < 1:
            raise ValueError("page size must be >= 1")
        self.configured = size
        self._current = size
        self._refused = refused
        self.what = what
        #: Pages the server refused for their size (each cost one request); run summaries and tests.
        self.refusals = 0
        self._logged = False
        self._lock = threading.Lock()

    @property
    def current(self) -> int:
        """The size the next list starts with."""
        return self._current

    def start(self, requested: int | None = None) -> int:
        """A list's first page size: the caller's (when it wants fewer), never above what was accepted."""
        if requested is not None and requested < 1:
            raise ValueError("page size must be >= 1")
        return self._current if requested is None else min(requested, self._current)

    def lower(self, error: Exception, sent: int) -> int | None:
        """After ``error`` answered a page of ``sent`` items: the size to ask with now, or ``None``.

        ``None`` when the error is not about the page size or ``sent`` was already 1 (raise it then).
        """
        if sent <= 1 or not self._refused(error):
            return None
        smaller = sent // 2
        with self._lock:
            self._current = min(self._current, smaller)
            self.refusals += 1
            first = not self._logged
            self._logged = True
        level = logging.WARNING if first else logging.DEBUG
        logger.log(
            level,
            "%s: the server refused a page size of %d as too large; asking with %d from now on",
            self.what,
            sent,
            smaller,
            extra={"page_size": smaller},
        )
        return smaller


def fixed_page_size(size: int) -> PageSize:
    """A page size nothing lowers: every error is raised as it is."""
    return PageSize(size, lambda _error: False, what="paged list")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def iterate_odata(
    fetch_page: Callable[[str | None, int, int], Mapping[str, Any]],
    top: int,
    *,
    skip: int = 0,
    what: str = "OData list",
    sizes: PageSize | None = None,
) -> Iterator[Page]:
    """Pages of an FFN ``$top``/``$skip`` collection.

    ``fetch_page(next_link, skip, top)`` must GET ``next_link`` when given, else the collection with
    ``$top=top&$skip=skip``. Next links (``nextPageLink`` or ``_links.next``) win; without one the
    iterator advances ``$skip`` while ``count`` (total matching items) says more remain, or, with no
    ``count`` either, while pages come back full. When ``sizes`` recognises an error as a refused page
    size, the same ``$skip`` is asked again with the smaller ``$top`` (the next link carries the old one).
    """
    if top < 1:
        raise ValueError("top must be >= 1")
    guard = _LoopGuard(what)
    link: str | None = None
    last_offset: int | None = None
    while True:
        try:
            body = fetch_page(link, skip, top)
        except Exception as error:
            smaller = sizes.lower(error, top) if sizes is not None else None
            if smaller is None:
                raise
            top, link = smaller, None
            continue
        items = list(body.get("items") or [])
        page_info = _mapping(body.get("_page"))
        raw_offset = page_info.get("offset")
        offset: int = raw_offset if isinstance(raw_offset, int) else skip
        where = f"offset {offset}"
        if items and last_offset is not None and offset <= last_offset:
            raise PaginationLoopError(f"{what}: offset did not advance ({last_offset} -> {offset})")
        guard.page(items, where)
        if not items:
            return
        yield items
        last_offset = offset
        skip = offset + len(items)
        links = _mapping(body.get("_links"))
        next_link = body.get("nextPageLink") or links.get("next")
        if next_link:
            guard.link(str(next_link))
            link = str(next_link)
            continue
        link = None
        count = body.get("count")
        if isinstance(count, int):
            if skip >= count:
                return
        elif len(items) < (page_info.get("limit") or top):
            return


#: Pages a parallel listing may hold ahead of its consumer, per worker: a slow answer (a server's long
#: tail) then does not hold the other workers, which go on with the pages after it, while what waits for
#: a slow consumer stays bounded.
PAGES_AHEAD_PER_WORKER = 4


class _FetchedInOrder:
    """``(key, run(key))`` in the keys' order, ``workers`` fetched at once.

    At most ``PAGES_AHEAD_PER_WORKER`` times as many are fetched ahead of the consumer. The first ones
    are asked for when it is made, so a caller can start the later pages before it hands out the first
    one. A page overdue while a worker idles (the listing's tail) is asked for a second time
    (:class:`HedgedReads`). :meth:`close` (the consumer stopped early, or an error) cancels what has not
    started and waits for the rest, so no page is fetched behind a caller's back after it moved on.
    """

    def __init__(self, run: Callable[[int], Mapping[str, Any]], keys: Iterable[int], workers: int, name: str):
        self._reads: HedgedReads[int, Mapping[str, Any]] = HedgedReads(run, workers, name)
        self._keys = iter(keys)
        self._ahead: deque[int] = deque()
        self._most = workers * PAGES_AHEAD_PER_WORKER
        self.refill()

    def refill(self) -> None:
        """Ask for the next keys until as many are ahead as may be (after ``keys`` got longer)."""
        for key in itertools.islice(self._keys, max(0, self._most - len(self._ahead))):
            self._reads.submit(key)
            self._ahead.append(key)

    def __iter__(self) -> Iterator[tuple[int, Mapping[str, Any]]]:
        return self

    def __next__(self) -> tuple[int, Mapping[str, Any]]:
        if not self._ahead:
            self.close()
            raise StopIteration
        return self._answer(self._ahead.popleft())

    def take(self, key: int) -> Mapping[str, Any]:
        """``key``'s answer out of turn, waiting for it (the iteration goes on without it)."""
        self._ahead.remove(key)
        return self._answer(key)[1]

    def _answer(self, key: int) -> tuple[int, Mapping[str, Any]]:
        """``key`` (no longer ahead) once answered; the next key asked for in its place."""
        try:
            body = self._reads.result(key)
        except BaseException:
            self.close()
            raise
        self._follow(key)
        return key, body

    def _follow(self, key: int) -> None:
        """``key`` is done with: the next key is asked for in its place."""
        self._reads.forget(key)
        following = next(self._keys, None)
        if following is not None:
            self._reads.submit(following)
            self._ahead.append(following)

    def drop_from(self, key: int) -> None:
        """Forget the keys from ``key`` on that were asked for (past an end the first answer told).

        Those not started are not asked for; those under way finish on their own, unread (an empty page,
        a refusal), and nothing waits for them.
        """
        for dropped in [k for k in self._ahead if k >= key]:
            self._reads.drop(dropped)
        self._ahead = deque(k for k in self._ahead if k < key)

    def close(self) -> None:
        """Cancel what has not started, wait for what has (but the slower asks of pages answered)."""
        self._ahead.clear()
        self._reads.close()

    def abandon(self) -> None:
        """Close without waiting for any key asked for ahead (the first answer says none fits)."""
        self.drop_from(0)
        self.close()


class _FetchedAsAnswered(_FetchedInOrder):
    """:class:`_FetchedInOrder`, but each ``(key, run(key))`` as soon as it is answered."""

    def __next__(self) -> tuple[int, Mapping[str, Any]]:
        key = self._next_answered()
        if key is None:
            self.close()
            raise StopIteration
        return self._answer(key)

    def next_settled(self) -> tuple[int, Mapping[str, Any] | Exception] | None:
        """The next key answered, with its answer or its error (the others go on); None: none is ahead."""
        key = self._next_answered()
        if key is None:
            return None
        try:
            body: Mapping[str, Any] | Exception = self._reads.result(key)
        except Exception as error:
            body = error
        self._follow(key)
        return key, body

    def _next_answered(self) -> int | None:
        """The next key ahead answered, no longer ahead (None: none is ahead)."""
        while self._ahead:
            key = self._reads.next_answered()
            if key is not None and key in self._ahead:  # else taken out of turn before
                self._ahead.remove(key)
                return key
        return None


def _answered_before_page_1(
    fetched: _FetchedAsAnswered, guard: _LoopGuard, what: str, held: list[tuple[int, Any]]
) -> Iterator[Page]:
    """The pages asked for beside page 1, each as it is answered, until page 1 is (it goes in ``held``).

    Yielded at once: a page of items that says how many pages there are (a page of the list as it is,
    whatever page 1 will say). Held for after page 1's answer, which decides about them: a failed page
    (past the end, or not), an empty one, one without the totals.
    """
    while (settled := fetched.next_settled()) is not None:
        number, body = settled
        if number == 1:
            held.append(settled)
            return
        page = [] if isinstance(body, Exception) else list(_first(body, "Items", "items") or [])
        told = None if isinstance(body, Exception) else _first(body, "TotalPages", "totalPages")
        if isinstance(body, Exception) or not page or not isinstance(told, int):
            held.append(settled)
            continue
        _check_number(body, number, what)
        guard.page(page, f"page {number}")
        yield page
    raise RuntimeError(f"{what}: page 1 was never answered")  # it was asked for first: cannot happen


def _check_number(body: Mapping[str, Any], number: int, what: str) -> None:
    returned = _first(body, "PageNumber", "pageNumber")
    if isinstance(returned, int) and returned != number:
        raise PaginationLoopError(f"{what}: asked for page {number}, the server returned page {returned}")


class _MovingRange:
    """``range(start, stop, step)`` whose ``stop`` may move (once the first page says how many there are).

    An iterator, not a generator: asked again after ``stop`` grew, it goes on. Page numbers (Wawi's
    listings) and ``$skip`` offsets (FFN's, offset 0 first: the first page, taken out of turn) alike.
    """

    def __init__(self, start: int, stop: int, step: int = 1) -> None:
        self.stop = stop
        self._next = start
        self._step = step

    def __iter__(self) -> _MovingRange:
        return self

    def __next__(self) -> int:
        if self._next >= self.stop:
            raise StopIteration
        self._next += self._step
        return self._next - self._step


def iterate_odata_parallel(
    fetch_page: Callable[[str | None, int, int], Mapping[str, Any]],
    top: int,
    *,
    workers: int,
    what: str = "OData list",
    sizes: PageSize | None = None,
    wrap: Callable[[Callable[[int], Mapping[str, Any]]], Callable[[int], Mapping[str, Any]]] | None = None,
    expected_items: int | None = None,
) -> Iterator[Page]:
    """The pages of :func:`iterate_odata`, the ones after the first fetched ``workers`` at a time.

    The first page says how many items match (``count``) and how many a page holds (its length, which
    may be less than asked for); the other pages' ``$skip`` follow from that, so they do not wait for
    each other. Pages are yielded in order, ``workers`` fetched at once and at most ``PAGES_AHEAD_PER_WORKER``
    times as many ahead of the consumer (a slow answer does not hold the other workers). Without ``count``
    (or with one worker) the rest is read one page after the other, as :func:`iterate_odata` does; a
    page shorter than the first before the end (the collection changed) does the same from there on.
    ``wrap`` wraps the function the worker threads run (e.g. to carry the correlation id into them).

    ``expected_items`` (the collection's size as the caller last knew it) lets the pages it implies be
    asked for beside the first, not after its answer: the listing then takes its slowest page, not the
    first and then the slowest later one. The first page still decides: pages past its ``count`` are
    dropped unread, pages beyond the expected ones are asked for as usual, and where the first page holds
    fewer items than asked for (the server's cap) or refused the size, the pages asked ahead are dropped
    and the rest asked for at the size it answered with, as without the hint.
    """
    if top < 1:
        raise ValueError("top must be >= 1")

    def sized(at: int) -> Callable[[int], Mapping[str, Any]]:
        def fetch(skip: int) -> Mapping[str, Any]:
            return fetch_page(None, skip, at)

        return wrap(fetch) if wrap is not None else fetch

    first: Mapping[str, Any] | None = None
    fetched: _FetchedInOrder | None = None
    ahead = _MovingRange(0, expected_items or 0, top)
    if expected_items is not None and expected_items > top and workers > 1:
        # the first page first in the queue: it is on the wire before any page after it
        fetched = _FetchedInOrder(sized(top), ahead, workers, "odata-pages")
        try:
            first = fetched.take(0)
        except Exception as error:
            fetched.close()
            fetched = None
            smaller = sizes.lower(error, top) if sizes is not None else None
            if smaller is None:
                raise
            top = smaller
    while first is None:
        try:
            first = fetch_page(None, 0, top)
        except Exception as error:
            smaller = sizes.lower(error, top) if sizes is not None else None
            if smaller is None:
                raise
            top = smaller
    items = list(first.get("items") or [])
    guard = _LoopGuard(what)
    guard.page(items, "offset 0")
    count = first.get("count")
    stride = len(items)
    if not items or not isinstance(count, int) or workers <= 1 or count <= stride:
        if fetched is not None:  # pages asked for ahead that the first page says are not there
            fetched.abandon()
        if not items:
            return
        yield items
        if not isinstance(count, int) or count > stride:
            yield from iterate_odata(fetch_page, top, skip=stride, what=what, sizes=sizes)
        return

    if fetched is not None and stride == top:  # asked for ahead: as many as the first page says there are
        ahead.stop = count
        fetched.drop_from(count)  # past the end it told (the collection shrank): not read
        fetched.refill()
    else:
        if fetched is not None:  # a page holds fewer than asked for: the offsets asked ahead do not fit
            fetched.abandon()
        # the later pages are on their way before the first is handed out (the caller's work on it overlaps)
        fetched = _FetchedInOrder(sized(top), range(stride, count, stride), workers, "odata-pages")
    rest: int | None = None
    try:
        yield items
        for skip, body in fetched:
            page = list(body.get("items") or [])
            offset = _mapping(body.get("_page")).get("offset")
            if isinstance(offset, int) and offset != skip:
                raise PaginationLoopError(f"{what}: asked for offset {skip}, the server sent {offset}")
            guard.page(page, f"offset {skip}")
            if page:
                yield page
            if len(page) < stride and skip + len(page) < count:
                # shorter than the others before the end: go on one page after the other from here
                rest = skip + len(page) if page else None
                break
    finally:
        fetched.close()
    if rest is not None:
        yield from iterate_odata(fetch_page, top, skip=rest, what=what, sizes=sizes)


def iterate_updates(
    fetch: Callable[[str | None, Mapping[str, Any] | None], Mapping[str, Any]],
    from_date: datetime,
    to_date: datetime,
    *,
    extra_params: Mapping[str, Any] | None = None,
    what: str = "updates feed",
) -> Iterator[Page]:
    """Chunks of an FFN ``/updates`` feed for the window ``[from_date, to_date)``.

    ``fetch(url, params)`` GETs ``url`` (the server's ``nextChunkUrl``) when given, else the feed with
    ``params`` (``fromDate``, ``toDate``, ``page``). Iteration ends when ``moreDataAvailable`` is false.
    """
    params: dict[str, Any] = {
        **(extra_params or {}),
        "fromDate": from_date.isoformat(),
        "toDate": to_date.isoformat(),
        "page": 1,
    }
    guard = _LoopGuard(what)
    url: str | None = None
    while True:
        body = fetch(url, None if url else dict(params))
        data = list(body.get("data") or [])
        guard.page(data, url or f"page {params['page']}")
        if data:
            yield data
        if not body.get("moreDataAvailable"):
            return
        next_url = body.get("nextChunkUrl")
        if next_url:
            guard.link(str(next_url))
            url = str(next_url)
        else:
            url = None
        params["page"] += 1


def iterate_page_number(
    fetch: Callable[[int, int], Mapping[str, Any]],
    page_size: int,
    *,
    start: int = 1,
    what: str = "paged list",
    sizes: PageSize | None = None,
) -> Iterator[Page]:
    """Pages of a Wawi ``pageNumber``/``pageSize`` list (``PagedListOf<T>``, PascalCase v1 or camelCase v2).

    ``fetch(page_number, page_size)`` GETs one page. ``HasNextPage`` decides; ``NextPageNumber`` is only
    a hint because on the last page it repeats ``TotalPages`` instead of being null.

    The iterator keeps the item offset, not the page number: when ``sizes`` lowers a refused page size,
    the page holding the next unseen item is computed for the new size and the items of it already
    yielded are dropped, so nothing is skipped or repeated.
    """
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    guard = _LoopGuard(what)
    size = page_size
    offset = (start - 1) * size  # items before the next one to yield
    while True:
        number = offset // size + 1
        try:
            body = fetch(number, size)
        except Exception as error:
            smaller = sizes.lower(error, size) if sizes is not None else None
            if smaller is None:
                raise
            size = smaller
            continue
        raw = list(_first(body, "Items", "items") or [])
        returned = _first(body, "PageNumber", "pageNumber")
        if isinstance(returned, int) and returned != number:
            raise PaginationLoopError(f"{what}: asked for page {number}, the server returned page {returned}")
        guard.page(raw, f"page {number}")
        seen = offset - (number - 1) * size  # a page after a size change may start before the offset
        items = raw[seen:]
        if not raw:
            return
        if items:
            yield items
        offset = max(offset, (number - 1) * size + len(raw))
        has_next = _first(body, "HasNextPage", "hasNextPage")
        if has_next is None:
            total_pages = _first(body, "TotalPages", "totalPages")
            has_next = number < total_pages if isinstance(total_pages, int) else len(raw) >= size
        if not has_next:
            return
        hinted = _first(body, "NextPageNumber", "nextPageNumber")
        if isinstance(hinted, int) and hinted <= number:
            raise PaginationLoopError(f"{what}: HasNextPage on page {number} but NextPageNumber is {hinted}")


def iterate_page_number_parallel(
    fetch: Callable[[int, int], Mapping[str, Any]],
    page_size: int,
    *,
    workers: int,
    what: str = "paged list",
    sizes: PageSize | None = None,
    wrap: Callable[[Callable[[int], Mapping[str, Any]]], Callable[[int], Mapping[str, Any]]] | None = None,
    expected_pages: int | None = None,
    ordered: bool = True,
) -> Iterator[Page]:
    """The pages of :func:`iterate_page_number`, the ones after the first fetched ``workers`` at a time.

    The first page says how many pages there are (``TotalPages``) at the size it was answered with, so
    the others do not wait for each other: an on-premise Wawi serves a few requests at once, and paging
    one after the other leaves all but one of them idle. Pages are yielded in order, ``workers`` fetched
    at once and at most ``PAGES_AHEAD_PER_WORKER`` times as many ahead of the consumer (a slow answer
    does not hold the other workers). Without ``TotalPages`` (or with one worker) the rest is read one
    page after the other, as :func:`iterate_page_number` does; a short or empty page before the last (the list
    shrank meanwhile) ends the parallel part, and a last page that still says ``HasNextPage`` (it grew)
    goes on one page after the other from there. ``wrap`` wraps what the worker threads run (e.g. to
    carry the correlation id into them).

    ``expected_pages`` (how many pages the caller expects: the list's size when it was last read) lets
    the pages after the first be asked for beside it, not after its answer: a listing then takes its
    slowest page, not page 1 and then its slowest later page. Page 1 still decides: pages it says do
    not exist are dropped unread (a speculative ask of a page past the end changes nothing: a ``GET``),
    pages beyond the expected ones are read as usual, and a page size page 1 refused asks again at the
    smaller size from page 1 on, as without the hint.

    ``ordered=False``: the pages after the first as they are answered, for a caller to whom the order
    means nothing (a page answered early is not held behind a slower one). Then a short page does not end
    the listing: every page page 1 told of is read.
    """
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    size = page_size

    def sized(at: int) -> Callable[[int], Mapping[str, Any]]:
        def one(number: int) -> Mapping[str, Any]:
            return fetch(number, at)

        return wrap(one) if wrap is not None else one

    fetching = _FetchedInOrder if ordered else _FetchedAsAnswered
    fetched: _FetchedInOrder | None = None
    numbers = _MovingRange(1, (expected_pages or 0) + 1)
    first: Mapping[str, Any] | None = None
    guard = _LoopGuard(what)
    held: list[tuple[int, Any]] = []  # pages answered before page 1, for after it (unordered)
    early = 0  # pages yielded before page 1's answer (unordered)
    if expected_pages is not None and expected_pages > 1 and workers > 1:
        # page 1 first in the queue: it is on the wire before any page after it
        fetched = fetching(sized(size), numbers, workers, "wawi-pages")
        try:
            if isinstance(fetched, _FetchedAsAnswered):
                for page in _answered_before_page_1(fetched, guard, what, held):
                    early += 1
                    yield page
                _, answer = held.pop()
                if isinstance(answer, Exception):
                    raise answer
                first = answer
            else:
                first = fetched.take(1)
        except Exception as error:
            fetched.close()
            fetched = None
            smaller = sizes.lower(error, size) if sizes is not None and not early else None
            if smaller is None:
                raise
            size, held = smaller, []
    while first is None:
        try:
            first = fetch(1, size)
        except Exception as error:
            smaller = sizes.lower(error, size) if sizes is not None else None
            if smaller is None:
                raise
            size = smaller
    items = list(_first(first, "Items", "items") or [])
    if items:
        guard.page(items, "page 1")
    total_pages = _first(first, "TotalPages", "totalPages")
    has_next = _first(first, "HasNextPage", "hasNextPage")
    if not items or not isinstance(total_pages, int) or workers <= 1 or total_pages <= 1:
        if fetched is not None:
            fetched.close()  # pages asked for ahead that page 1 says are not there (or not so many)
        if items:
            yield items
        more = bool(has_next) if has_next is not None else len(items) >= size
        if items and more and not early:  # (pages yielded early: the list shrank to page 1 since)
            yield from iterate_page_number(fetch, size, start=2, what=what, sizes=sizes)
        return

    # What a page holds: less than asked for where the server caps the size (its TotalPages counts so)
    served = _first(first, "PageSize", "pageSize")
    stride = min(size, served) if isinstance(served, int) and served > 0 else size
    stride = min(stride, len(items))

    if fetched is None:
        # the later pages are on their way before page 1 is handed out (the caller's work on it overlaps)
        fetched = fetching(sized(size), range(2, total_pages + 1), workers, "wawi-pages")
    else:  # asked for ahead: as many as page 1 says there are
        numbers.stop = total_pages + 1
        fetched.refill()
    grew_after: int | None = None
    try:
        yield items
        for number, body in itertools.chain(sorted(held, key=lambda entry: entry[0]), fetched):
            if number > total_pages:  # asked for ahead, past the end page 1 told
                if ordered:
                    break
                continue
            if isinstance(body, Exception):  # a page answered before page 1, failed
                raise body
            _check_number(body, number, what)
            page = list(_first(body, "Items", "items") or [])
            if page:
                guard.page(page, f"page {number}")
                yield page
            if len(page) < stride and ordered:
                break  # the last page, or the list shrank under us: the rest was on pages already read
            if number == total_pages and _first(body, "HasNextPage", "hasNextPage"):
                grew_after = number  # the list grew while it was read
    finally:
        fetched.close()
    if grew_after is not None:
        yield from iterate_page_number(fetch, size, start=grew_after + 1, what=what, sizes=sizes)


def flatten(pages: Iterable[Page]) -> Iterator[JsonObject]:
    """Objects of every page, still lazily."""
    for page in pages:
        yield from page


def chunked(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` values: requests that take a list, batches of work."""
    if size < 1:
        raise ValueError("size must be >= 1")
    for start in range(0, len(values), size):
        yield values[start : start + size]
