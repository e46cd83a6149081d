"""Strict FFN knobs (issue 8): ``$filter`` narrowed to the documented ``eq``/``and``/paths, and outbound
numbers that FFN need not keep unique."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.odata import (
    DOCUMENTED_FFN_OPERATORS,
    FILTER_OPERATORS,
    FieldTable,
    ODataError,
    parse_filter,
)

API = "/api/v1/merchant"
TABLE = FieldTable(
    types={"sku": "string", "qty": "number", "active": "boolean", "items/jfsku": "string", "a/b/c": "string"},
    arrays=frozenset({"items"}),
)
OBJECTS: list[dict[str, Any]] = [
    {
        "sku": "A",
        "qty": 1,
        "active": True,
        "items": [{"jfsku": "J1"}, {"jfsku": "J2"}],
        "a": {"b": {"c": "x"}},
    },
    {"sku": "B", "qty": 2, "active": False, "items": [{"jfsku": "J2"}], "a": {"b": {"c": "y"}}},
    {"sku": "C", "qty": 3, "active": True, "items": [], "a": None},
]
#: Each operator FFN does not document, in a filter that is valid when every operator is accepted.
REFUSED = {
    "or": "sku eq 'A' or sku eq 'B'",
    "ne": "sku ne 'A'",
    "gt": "qty gt 1",
    "ge": "qty ge 2",
    "lt": "qty lt 2",
    "le": "qty le 1",
    "not": "not sku eq 'A'",
}


def skus(text: str, operators: frozenset[str] | None) -> list[str]:
    predicate = parse_filter(text, TABLE, operators)
    return [obj["sku"] for obj in OBJECTS if predicate(obj)]


# ------------------------------------------------------------------------------------------- parser
def test_the_documented_operators_are_eq_and_and() -> None:
    assert {"eq", "and"} == DOCUMENTED_FFN_OPERATORS
    assert set(REFUSED) == FILTER_OPERATORS - DOCUMENTED_FFN_OPERATORS  # every other operator is tried


@pytest.mark.parametrize("operator", sorted(REFUSED))
def test_narrowed_parser_refuses_each_undocumented_operator_by_name(operator: str) -> None:
    text = REFUSED[operator]
    assert skus(text, None)  # the same filter is fine for the lenient parser
    with pytest.raises(ODataError, match=rf"operator '{operator}' at position \d+ is not supported"):
        parse_filter(text, TABLE, DOCUMENTED_FFN_OPERATORS)


def test_narrowed_parser_names_the_operator_also_inside_brackets_and_in_upper_case() -> None:
    text = "qty eq 1 and (sku eq 'A' OR sku eq 'B')"
    with pytest.raises(ODataError, match=rf"operator 'or' at position {text.index('OR')} "):
        parse_filter(text, TABLE, DOCUMENTED_FFN_OPERATORS)


def test_narrowed_parser_refuses_a_bare_boolean_path() -> None:
    """``active`` alone means ``active eq true`` in OData, a form FFN does not document."""
    assert skus("active", None) == ["A", "C"]
    with pytest.raises(ODataError, match=r"expected a comparison operator \(eq\) at position 6"):
        parse_filter("active", TABLE, DOCUMENTED_FFN_OPERATORS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sku eq 'A'", ["A"]),
        ("'B' eq sku", ["B"]),
        ("active eq true and qty eq 3", ["C"]),
        ("items/jfsku eq 'J2'", ["A", "B"]),  # through an array (ANY)
        ("a/b/c eq 'y' and items/jfsku eq 'J2'", ["B"]),
        ("a/b/c eq null", ["C"]),
        ("(sku eq 'A') and (qty eq 1)", ["A"]),
        ("sku EQ 'C' AND qty eq 3", ["C"]),
    ],
)
def test_narrowed_parser_accepts_eq_and_and_nested_paths(text: str, expected: list[str]) -> None:
    assert skus(text, DOCUMENTED_FFN_OPERATORS) == expected == skus(text, None)


def test_an_unknown_operator_in_the_allowed_set_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="contains"):
        parse_filter("sku eq 'A'", TABLE, frozenset({"eq", "contains"}))


# ------------------------------------------------------------------------------------------- config
def test_strictest_takes_only_the_documented_operators_and_no_outbound_number_uniqueness() -> None:
    lenient, strict = SandboxConfig(), SandboxConfig.strictest()
    assert lenient.ffn_filter_operators is None and lenient.ffn_unique_merchant_outbound_number
    assert strict.ffn_filter_operators == DOCUMENTED_FFN_OPERATORS
    assert not strict.ffn_unique_merchant_outbound_number


# ------------------------------------------------------------------------------------------- API
@pytest.fixture
def strict(ffn_kit: Any) -> Iterator[tuple[TestClient, dict[str, str], SandboxState]]:
    state = ffn_kit.make_state(
        ffn_filter_operators=DOCUMENTED_FFN_OPERATORS, ffn_unique_merchant_outbound_number=False
    )
    with TestClient(ffn_kit.make_app(state), base_url="http://sandbox.test") as client:
        yield client, ffn_kit.bearer(state), state


API_REFUSED = {
    "or": "merchantSku eq 'SKU-1' or merchantSku eq 'SKU-2'",
    "ne": "merchantSku ne 'SKU-1'",
    "gt": "jfsku gt 'MERC0000028'",
    "ge": "jfsku ge 'MERC0000028'",
    "lt": "jfsku lt 'MERC0000002'",
    "le": "jfsku le 'MERC0000002'",
    "not": "not merchantSku eq 'SKU-1'",
}


@pytest.mark.slow
@pytest.mark.parametrize("operator", sorted(API_REFUSED))
def test_strict_api_answers_an_undocumented_operator_with_the_validation_envelope(
    operator: str, strict: Any, client: TestClient, auth: dict[str, str]
) -> None:
    text = API_REFUSED[operator]
    assert client.get(f"{API}/products", params={"$filter": text}, headers=auth).status_code == 200  # lenient
    strict_client, strict_auth, _ = strict
    response = strict_client.get(f"{API}/products", params={"$filter": text}, headers=strict_auth)
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"]["code"] == "Shared_ModelValidation"
    (message,) = [entry["message"] for entry in body["errorMessages"]]
    assert message.startswith("Invalid query: ") and f"operator '{operator}'" in message
    assert body["errorMetadata"]["$filter"] == text


def test_strict_api_filters_with_eq_and_and_nested_paths(strict: Any, ffn_kit: Any) -> None:
    client, auth, state = strict

    def jfskus(path: str, text: str) -> list[str]:
        response = client.get(f"{API}/{path}", params={"$filter": text, "$top": 1000}, headers=auth)
        assert response.status_code == 200, response.text
        return [obj["jfsku"] for obj in response.json()["items"]]

    assert jfskus("products", "merchantSku eq 'SKU-1'") == [ffn_kit.jfsku(1)]
    assert jfskus("products", "identifier/mpn/partNumber eq 'P-9' and manufacturer eq null") == [
        ffn_kit.jfsku(9)
    ]
    in_b_unblocked = [
        s["jfsku"]
        for s in state.data.ffn.stocks.values()
        if s["stockLevelBlocked"] == 0
        and any(r["warehouseId"] == ffn_kit.warehouse_b for r in s["warehouses"])
    ]
    assert 0 < len(in_b_unblocked) < len(state.data.ffn.stocks)
    text = f"warehouses/warehouseId eq '{ffn_kit.warehouse_b}' and stockLevelBlocked eq 0"
    assert jfskus("stocks", text) == in_b_unblocked


def test_a_second_outbound_with_the_same_number_is_created_when_uniqueness_is_off(
    strict: Any, ffn_kit: Any
) -> None:
    client, auth, state = strict
    first = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body("SO-7"), headers=auth)
    second = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body("SO-7"), headers=auth)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["outboundId"] != second.json()["outboundId"]
    numbers = [o["merchantOutboundNumber"] for o in state.data.ffn.outbounds.values()]
    assert numbers.count("SO-7") == 2
    listed = client.get(
        f"{API}/outbounds", params={"$filter": "merchantOutboundNumber eq 'SO-7'"}, headers=auth
    ).json()
    assert listed["count"] == 2
    # A PATCH may give another outbound a number in use, too.
    third = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body("SO-8"), headers=auth).json()
    patched = client.patch(
        f"{API}/outbounds/{third['outboundId']}", json={"merchantOutboundNumber": "SO-7"}, headers=auth
    )
    assert patched.status_code == 204
    # A given outboundId stays unique whatever the knob says.
    again = client.post(
        f"{API}/outbounds",
        json=ffn_kit.outbound_body("SO-9", outboundId=first.json()["outboundId"]),
        headers=auth,
    )
    assert again.status_code == 400 and again.json()["errorCode"]["code"] == "Shared_DuplicateKey"


def test_patching_to_a_used_number_is_refused_while_uniqueness_is_on(
    client: TestClient, auth: dict[str, str], ffn_kit: Any, state: SandboxState
) -> None:
    assert state.config.ffn_unique_merchant_outbound_number
    client.post(f"{API}/outbounds", json=ffn_kit.outbound_body("SO-7"), headers=auth)
    other = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body("SO-8"), headers=auth).json()
    patched = client.patch(
        f"{API}/outbounds/{other['outboundId']}", json={"merchantOutboundNumber": "SO-7"}, headers=auth
    )
    assert patched.status_code == 400 and patched.json()["errorCode"]["code"] == "Shared_DuplicateKey"


@pytest.mark.slow
def test_the_operator_restriction_is_part_of_the_list_cache_key(
    client: TestClient, auth: dict[str, str], state: SandboxState
) -> None:
    """A config narrowed at run time must not be answered from a result cached while ``or`` was fine."""
    text = "merchantSku eq 'SKU-1' or merchantSku eq 'SKU-2'"
    assert client.get(f"{API}/products", params={"$filter": text}, headers=auth).json()["count"] == 2
    state.config.ffn_filter_operators = DOCUMENTED_FFN_OPERATORS
    assert client.get(f"{API}/products", params={"$filter": text}, headers=auth).status_code == 400
