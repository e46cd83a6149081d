"""The client's answer to an FFN that takes only the documented ``$filter`` (``eq``, ``and``): when an
``or`` chain is refused, it learns so once per process and looks each value up with its own ``eq``."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from jtl_automator.clients.errors import ValidationFailed
from jtl_automator.clients.ffn import FfnClient
from jtl_automator.clients.ffn.client import (
    OR_FILTERS,
    refuses_or_filter,
    reset_or_filter_detection,
    sends_or,
)
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox import oauth
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.odata import DOCUMENTED_FFN_OPERATORS
from jtl_automator.sandbox.server import asgi_transport
from tests.clients.conftest import Recorder, json_response

REFUSAL = "operator 'or'"


class _Token:
    """A fixed access token minted by the sandbox (the OAuth dance is tested elsewhere)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def invalidate(self, token: str) -> None:
        """Never needed: the token lives for the whole test."""


class _Logged(httpx.BaseTransport):
    """Delegates to the sandbox and keeps every request and its status, to count what was sent."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[httpx.Request, int]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        with self._lock:
            self.sent.append((request, response.status_code))
        return response

    def filters(self) -> list[tuple[str, int]]:
        return [(r.url.params["$filter"], status) for r, status in self.sent if "$filter" in r.url.params]


@dataclass
class Ffn:
    client: FfnClient
    transport: _Logged
    state: Any


def _data() -> SandboxData:
    """The generated world plus inbounds that share a merchant number (one reference, two inbounds)."""
    data = generate(seed=7, skus=100, orders=60)
    for n, inbound in enumerate(list(data.ffn.inbounds.values())):
        twin = copy.deepcopy(inbound)
        twin["inboundId"] = f"MERC03TWIN{n:03d}"
        data.ffn.inbounds[twin["inboundId"]] = twin
    return data


@pytest.fixture
def sandboxes() -> Iterator[dict[str, Ffn]]:
    """``or`` accepted (lenient) and refused (only eq/and), over identical data."""
    made: dict[str, Ffn] = {}
    transports = []
    for name, operators in (("or", None), ("eq", DOCUMENTED_FFN_OPERATORS)):
        app = create_app(_data(), SandboxConfig(ffn_filter_operators=operators))
        inner = asgi_transport(app)
        transports.append(inner)
        logged = _Logged(inner)
        token = oauth.issue_token_pair(app.state.sandbox)["access_token"]
        client = FfnClient(
            httpx.Client(transport=logged),
            _Token(token),
            "http://sandbox/api",
            retry=RetryPolicy(max_delay=0.1),
        )
        made[name] = Ffn(client, logged, app.state.sandbox)
    yield made
    for inner in transports:
        inner.close()


def _numbers(ffn: Ffn) -> list[str]:
    """Every outbound number the sandbox has, plus 30 it has not: two 40-clause chunks."""
    known = sorted(o["merchantOutboundNumber"] for o in ffn.state.data.ffn.outbounds.values())
    assert len(known) > 10
    return known + [f"NOPE-{n}" for n in range(30)]


def _refusals(ffn: Ffn) -> list[str]:
    return [text for text, status in ffn.transport.filters() if status == 400]


# ------------------------------------------------------------------------------------------- outbounds
@pytest.mark.slow
def test_outbound_lookup_learns_the_refusal_once_and_finds_what_the_or_chain_finds(
    sandboxes: dict[str, Ffn], caplog: pytest.LogCaptureFixture
) -> None:
    chains, eqs = sandboxes["or"], sandboxes["eq"]
    numbers = _numbers(chains)
    expected = chains.client.outbounds.find_by_merchant_numbers(numbers)
    assert not OR_FILTERS.refused and not _refusals(chains)
    assert len(chains.transport.filters()) == 2 and all(sends_or(f) for f, _ in chains.transport.filters())

    with caplog.at_level(logging.INFO, logger="jtl_automator.ffn"):
        found = eqs.client.outbounds.find_by_merchant_numbers(numbers)
    assert found == expected and len(found) == len(numbers) - 30
    assert OR_FILTERS.refused
    (refused,) = _refusals(eqs)  # the first chunk only; it was re-done with eq filters
    assert sends_or(refused)
    after = eqs.transport.filters()[1:]
    assert len(after) == len(numbers) and not any(sends_or(text) for text, _ in after)
    assert {text for text, _ in after} == {f"merchantOutboundNumber eq '{n}'" for n in numbers}
    warnings = [r for r in caplog.records if "refused 'or'" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert REFUSAL in warnings[0].getMessage()  # the log says what FFN answered

    # Later lookups in this process go straight to eq filters: no second refusal, no second warning.
    again = eqs.client.outbounds.find_by_merchant_numbers(numbers[:50])
    assert again == {n: o for n, o in expected.items() if n in numbers[:50]}
    assert len(_refusals(eqs)) == 1
    assert len([r for r in caplog.records if "refused 'or'" in r.getMessage()]) == 1


@pytest.mark.slow
def test_reset_makes_the_next_lookup_try_the_chain_again(sandboxes: dict[str, Ffn]) -> None:
    eqs = sandboxes["eq"]
    numbers = _numbers(eqs)[:5]
    first = eqs.client.outbounds.find_by_merchant_numbers(numbers)
    assert OR_FILTERS.refused and len(_refusals(eqs)) == 1
    reset_or_filter_detection()
    assert not OR_FILTERS.refused
    assert eqs.client.outbounds.find_by_merchant_numbers(numbers) == first
    assert len(_refusals(eqs)) == 2 and OR_FILTERS.refused


@pytest.mark.slow
def test_concurrent_lookups_learn_the_refusal_once(
    sandboxes: dict[str, Ffn], caplog: pytest.LogCaptureFixture
) -> None:
    chains, eqs = sandboxes["or"], sandboxes["eq"]
    numbers = _numbers(eqs)
    expected = chains.client.outbounds.find_by_merchant_numbers(numbers)
    results: list[dict[str, Any]] = []
    start = threading.Barrier(4)

    def lookup() -> None:
        start.wait()
        results.append(eqs.client.outbounds.find_by_merchant_numbers(numbers))

    with caplog.at_level(logging.INFO, logger="jtl_automator.ffn"):
        threads = [threading.Thread(target=lookup) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [expected] * 4
    assert 1 <= len(_refusals(eqs)) <= 4  # threads that raced past the flag each saw one refusal
    assert len([r for r in caplog.records if "refused 'or'" in r.getMessage()]) == 1


# ------------------------------------------------------------------------------------------- inbounds
@pytest.mark.slow
def test_inbound_lookup_by_both_keys_falls_back_with_the_same_result(sandboxes: dict[str, Ffn]) -> None:
    chains, eqs = sandboxes["or"], sandboxes["eq"]
    stored = chains.state.data.ffn.inbounds.values()
    originals = sorted((i for i in stored if "TWIN" not in i["inboundId"]), key=lambda i: i["inboundId"])
    assert len(originals) >= 5
    references = [i["merchantInboundNumber"] for i in originals[:3]]  # each brings an inbound and its twin
    references += [f"MERC03TWIN{n:03d}" for n in (3, 4)]  # by id: just the twin
    references += [originals[0]["inboundId"], " missing "]  # an id whose number is also wanted: still once

    def ids(ffn: Ffn) -> list[str]:
        return sorted(i["inboundId"] for i in ffn.client.inbounds.find_by_references(references))

    expected = ids(chains)
    wanted = {r.strip() for r in references}
    assert expected == sorted(
        i["inboundId"] for i in stored if wanted & {i["inboundId"], i["merchantInboundNumber"]}
    )
    assert len(expected) == len(set(expected)) >= 6  # three numbers, each held by two inbounds
    assert ids(eqs) == expected
    assert len(_refusals(eqs)) == 1
    eq_filters = [text for text, status in eqs.transport.filters() if status == 200]
    assert len(eq_filters) == 2 * len(wanted)  # one per reference and field
    assert {text.split(" eq ")[0] for text in eq_filters} == {"inboundId", "merchantInboundNumber"}


@pytest.mark.slow
def test_matching_in_eq_form_pages_and_yields_each_object_once_per_chunk(sandboxes: dict[str, Ffn]) -> None:
    """The fallback keeps :meth:`matching`'s shape: paged, and an object equal to two pairs comes once."""
    chains, eqs = sandboxes["or"], sandboxes["eq"]
    inbound = next(iter(chains.state.data.ffn.inbounds.values()))
    values = [inbound["inboundId"], inbound["merchantInboundNumber"]]
    fields = ("inboundId", "merchantInboundNumber")
    small = FfnClient(eqs.client.core.http, eqs.client.token_provider, "http://sandbox/api", page_size=1)

    def ids(client: FfnClient) -> list[str]:
        return sorted(i["inboundId"] for i in client.inbounds.matching(fields, values))

    assert ids(small) == ids(chains.client) == sorted({inbound["inboundId"], f"MERC03TWIN{0:03d}"})
    assert OR_FILTERS.refused
    pages = [r for r, _ in eqs.transport.sent if r.url.params.get("$skip") == "1"]
    assert pages  # the twin came on a second page of one eq lookup


# ------------------------------------------------------------------------------------------- not a refusal
@pytest.mark.slow
def test_an_unknown_field_in_an_or_chain_is_raised_not_taken_for_a_refusal(sandboxes: dict[str, Ffn]) -> None:
    eqs = sandboxes["eq"]
    with pytest.raises(ValidationFailed, match="unknown or not filterable field 'nope'"):
        list(eqs.client.outbounds.matching(("nope",), ["A", "B"]))
    assert not OR_FILTERS.refused
    assert len(eqs.transport.filters()) == 1  # no eq lookups after it


def _envelope(message: str) -> httpx.Response:
    return json_response(
        400,
        {
            "errorCode": {"code": "Shared_ModelValidation", "description": "General validation exception"},
            "errorMessages": [{"message": message}],
            "errorMetadata": {"$filter": "a eq 'x' or a eq 'y'"},
        },
    )


@pytest.mark.parametrize(
    "message",
    [
        "merchantOutboundNumber: The field merchantOutboundNumber is invalid.",  # speaks of neither
        "Invalid query: unknown or not filterable field 'x' at position 0",  # the filter, no operator
        "Operator overloaded, try later",  # an operator, not the filter
    ],
)
def test_other_400s_answering_a_chain_are_raised(message: str, policy: RetryPolicy) -> None:
    recorder = Recorder(_envelope(message))
    ffn = FfnClient(recorder.client(), _Token("t"), "https://ffn.example.test/api", retry=policy)
    with pytest.raises(ValidationFailed):
        ffn.outbounds.find_by_merchant_numbers(["A", "B"])
    assert not OR_FILTERS.refused and len(recorder.requests) == 1


def test_a_refusal_worded_message_without_an_or_in_the_request_is_raised(policy: RetryPolicy) -> None:
    recorder = Recorder(_envelope("Invalid query: operator 'or' is not supported in $filter"))
    ffn = FfnClient(recorder.client(), _Token("t"), "https://ffn.example.test/api", retry=policy)
    with pytest.raises(ValidationFailed):
        ffn.outbounds.find_by_merchant_numbers(["A or B"])  # one value: an eq filter, 'or' only quoted
    assert not OR_FILTERS.refused


def test_a_refusal_after_a_page_was_yielded_is_raised_not_repeated(policy: RetryPolicy) -> None:
    first_page = json_response(
        200,
        {
            "items": [{"merchantOutboundNumber": "A", "outboundId": "1"}],
            "count": 2,
            "nextPageLink": "https://ffn.example.test/api/v1/merchant/outbounds?page=2",
        },
    )
    recorder = Recorder(first_page, _envelope("Invalid query: operator 'or' is not supported in $filter"))
    ffn = FfnClient(recorder.client(), _Token("t"), "https://ffn.example.test/api", retry=policy)
    seen: list[str] = []
    with pytest.raises(ValidationFailed):
        for outbound in ffn.outbounds.matching(("merchantOutboundNumber",), ["A", "B"]):
            seen.append(outbound["outboundId"])
    assert seen == ["1"] and not OR_FILTERS.refused


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a eq 'x' or a eq 'y'", True),
        ("a eq 'x' OR a eq 'y'", True),
        ("a eq 'x or y'", False),  # inside a literal
        ("a eq 'it''s or' and b eq 'order'", False),
        ("order eq 'x'", False),  # a word that contains 'or'
    ],
)
def test_sends_or_reads_the_operator_outside_literals(expression: str, expected: bool) -> None:
    assert sends_or(expression) is expected


def test_refuses_or_filter_needs_a_400_validation_error() -> None:
    text = "a eq 'x' or a eq 'y'"
    refusal = ("Invalid query: operator 'or' at position 9 is not supported in $filter",)
    assert refuses_or_filter(ValidationFailed("x", status=400, messages=refusal), text)
    assert not refuses_or_filter(ValidationFailed("x", status=422, messages=refusal), text)
    assert not refuses_or_filter(ValueError("operator 'or' in $filter"), text)
    assert not refuses_or_filter(ValidationFailed("x", status=400, messages=refusal), None)
    # Metadata echoing the filter (which holds 'or') is not a message about the operator.
    echoed = ValidationFailed("x", status=400, messages=("Invalid $filter",), metadata={"$filter": text})
    assert not refuses_or_filter(echoed, text)
    # The wording an ASP.NET OData service uses for a disallowed logical operator counts too.
    aspnet = (
        "The query specified in the URI is not valid. 'Or' is not allowed in 'AllowedLogicalOperators'.",
    )
    assert refuses_or_filter(ValidationFailed("x", status=400, messages=aspnet), text)
