"""Property tests for the three page iterators: every object exactly once, a known request count,
and a server that repeats itself always stops with PaginationLoopError."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jtl_automator.clients.errors import PaginationLoopError
from jtl_automator.clients.pagination import flatten, iterate_odata, iterate_page_number, iterate_updates

totals = st.integers(min_value=0, max_value=400)
sizes = st.integers(min_value=1, max_value=60)


def objects(n: int) -> list[dict[str, Any]]:
    return [{"id": f"OBJ{i:05d}", "n": i} for i in range(n)]


class ODataServer:
    """FFN-style collection; ``style`` picks which end-of-list signals the envelope carries."""

    def __init__(self, data: list[dict[str, Any]], style: str, repeat_from: int | None = None) -> None:
        self.data = data
        self.style = style
        self.repeat_from = repeat_from  # from this request on, ignore $skip and serve this offset again
        self.calls = 0

    def page(self, skip: int, top: int) -> dict[str, Any]:
        self.calls += 1
        if self.repeat_from is not None and self.calls > self.repeat_from:
            skip = (self.repeat_from - 1) * top
        items = self.data[skip : skip + top]
        body: dict[str, Any] = {"items": items, "_page": {"limit": top, "offset": skip}}
        if self.style in ("count", "links"):
            body["count"] = len(self.data)
        if self.style == "links" and skip + top < len(self.data):
            body["nextPageLink"] = f"/api/v1/merchant/things?$top={top}&$skip={skip + top}"
            body["_links"] = {"next": body["nextPageLink"]}
        return body

    def fetch(self, top: int) -> Any:
        def fetch(link: str | None, skip: int, _top: int) -> Mapping[str, Any]:
            if link:
                skip = int(link.rsplit("$skip=", 1)[1])
            return self.page(skip, top)

        return fetch


@settings(max_examples=150, deadline=None)
@given(n=totals, size=sizes, style=st.sampled_from(["count", "links", "bare"]))
@pytest.mark.slow
def test_odata_yields_each_object_once_with_minimal_requests(n: int, size: int, style: str) -> None:
    data = objects(n)
    server = ODataServer(data, style)
    got = list(flatten(iterate_odata(server.fetch(size), size)))
    assert got == data
    expected = max(1, math.ceil(n / size))
    if style == "bare" and n > 0 and n % size == 0:
        expected += 1  # without count or next link only a short (here: empty) page proves the end
    assert server.calls == expected


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=300),
    size=sizes,
    style=st.sampled_from(["count", "links", "bare"]),
    data=st.data(),
)
def test_odata_server_repeating_a_page_raises(n: int, size: int, style: str, data: st.DataObject) -> None:
    pages = math.ceil(n / size)
    if pages < 2:
        return
    repeat_from = data.draw(st.integers(min_value=1, max_value=pages - 1))
    server = ODataServer(objects(n), style, repeat_from=repeat_from)
    with pytest.raises(PaginationLoopError):
        list(iterate_odata(server.fetch(size), size))
    assert server.calls <= repeat_from + 1


def test_odata_next_link_pointing_to_itself_raises() -> None:
    def fetch(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        return {"items": [{"id": f"x{skip}-{link}"}], "nextPageLink": "/api/v1/merchant/things?$skip=1"}

    with pytest.raises(PaginationLoopError, match="already followed"):
        list(iterate_odata(fetch, 1))


def test_odata_is_lazy() -> None:
    server = ODataServer(objects(100), "count")
    pages = iterate_odata(server.fetch(10), 10)
    assert server.calls == 0
    next(pages)
    assert server.calls == 1


class WawiServer:
    """PagedListOf<T> with the real quirk: NextPageNumber = TotalPages when there is no next page."""

    def __init__(self, data: list[dict[str, Any]], camel: bool = False, stuck_at: int | None = None) -> None:
        self.data = data
        self.camel = camel
        self.stuck_at = stuck_at
        self.calls = 0

    def fetch(self, number: int, size: int) -> Mapping[str, Any]:
        self.calls += 1
        served = min(number, self.stuck_at) if self.stuck_at else number
        total_pages = max(1, math.ceil(len(self.data) / size))
        has_next = served < total_pages
        body = {
            "TotalItems": len(self.data),
            "PageNumber": served,
            "PageSize": size,
            "TotalPages": total_pages,
            "HasPreviousPage": served > 1,
            "HasNextPage": has_next,
            "NextPageNumber": served + 1 if has_next else total_pages,
            "PreviousPageNumber": max(1, served - 1),
            "Items": self.data[(served - 1) * size : served * size],
        }
        if self.camel:
            body = {key[0].lower() + key[1:]: value for key, value in body.items()}
        return body


@settings(max_examples=150, deadline=None)
@given(n=totals, size=sizes, camel=st.booleans())
@pytest.mark.slow
def test_page_number_yields_each_object_once_with_minimal_requests(n: int, size: int, camel: bool) -> None:
    data = objects(n)
    server = WawiServer(data, camel=camel)
    assert list(flatten(iterate_page_number(server.fetch, size))) == data
    assert server.calls == max(1, math.ceil(n / size))


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=2, max_value=300), size=sizes, data=st.data())
@pytest.mark.slow
def test_page_number_server_repeating_a_page_raises(n: int, size: int, data: st.DataObject) -> None:
    pages = math.ceil(n / size)
    if pages < 2:
        return
    stuck = data.draw(st.integers(min_value=1, max_value=pages - 1))
    server = WawiServer(objects(n), stuck_at=stuck)
    with pytest.raises(PaginationLoopError):
        list(iterate_page_number(server.fetch, size))


def test_page_number_lying_about_page_number_still_caught_by_content() -> None:
    def fetch(number: int, size: int) -> Mapping[str, Any]:
        return {"PageNumber": number, "HasNextPage": True, "NextPageNumber": number + 1, "Items": [{"Id": 1}]}

    with pytest.raises(PaginationLoopError, match="repeats"):
        list(iterate_page_number(fetch, 1))


class UpdatesServer:
    """FFN /updates: chunks with moreDataAvailable and (optionally) nextChunkUrl."""

    def __init__(self, data: list[dict[str, Any]], chunk: int, links: bool, repeat: bool = False) -> None:
        self.data, self.chunk, self.links, self.repeat = data, chunk, links, repeat
        self.calls: list[tuple[str | None, Mapping[str, Any] | None]] = []

    def fetch(self, url: str | None, params: Mapping[str, Any] | None) -> Mapping[str, Any]:
        self.calls.append((url, params))
        page = int(url.rsplit("page=", 1)[1]) if url else int(params["page"])  # type: ignore[index]
        if self.repeat and page > 1:
            page = 1
        chunk = self.data[(page - 1) * self.chunk : page * self.chunk]
        more = page * self.chunk < len(self.data)
        body: dict[str, Any] = {"from": "f", "to": "t", "data": chunk, "moreDataAvailable": more}
        if more and self.links:
            body["nextChunkUrl"] = f"/api/v1/merchant/outbounds/updates?page={page + 1}"
        return body


@settings(max_examples=100, deadline=None)
@given(n=totals, chunk=sizes, links=st.booleans())
@pytest.mark.slow
def test_updates_yield_each_object_once(n: int, chunk: int, links: bool) -> None:
    data = objects(n)
    server = UpdatesServer(data, chunk, links)
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    assert list(flatten(iterate_updates(server.fetch, start, end))) == data
    assert len(server.calls) == max(1, math.ceil(n / chunk))
    first_params = server.calls[0][1]
    assert first_params is not None
    assert first_params["fromDate"] == start.isoformat() and first_params["toDate"] == end.isoformat()


@pytest.mark.parametrize("links", [True, False])
def test_updates_repeating_chunk_raises(links: bool) -> None:
    server = UpdatesServer(objects(10), 3, links, repeat=True)
    with pytest.raises(PaginationLoopError):
        list(
            iterate_updates(server.fetch, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
        )


def test_updates_endless_empty_chunks_raise() -> None:
    def fetch(url: str | None, params: Mapping[str, Any] | None) -> Mapping[str, Any]:
        return {"data": [], "moreDataAvailable": True}

    with pytest.raises(PaginationLoopError):
        list(iterate_updates(fetch, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)))


@pytest.mark.parametrize("style", ["count", "links", "bare"])
def test_odata_empty_collection_costs_one_request(style: str) -> None:
    server = ODataServer([], style)
    assert list(flatten(iterate_odata(server.fetch(1), 1))) == []
    assert server.calls == 1
