"""The OData subset: every operator, precedence, literals, ANY semantics through arrays and clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jtl_automator.sandbox.odata import FieldTable, ODataError, parse_filter, parse_order_by, sort_objects

TABLE = FieldTable(
    types={
        "name": "string",
        "sku": "string",
        "qty": "number",
        "active": "boolean",
        "updated": "datetime",
        "address/city": "string",
        "items/jfsku": "string",
        "items/quantity": "number",
        "items/tags/value": "string",
    },
    arrays=frozenset({"items", "items/tags"}),
    order_only={"created": "datetime"},
)

OBJECTS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Alpha",
        "sku": "00123",
        "qty": 5,
        "active": True,
        "updated": "2024-10-01T10:00:00.000+00:00",
        "address": {"city": "Berlin"},
        "items": [{"jfsku": "MERC0000001", "quantity": 2, "tags": [{"value": "red"}]}],
    },
    {
        "id": 2,
        "name": "O'Brien",
        "sku": "123",
        "qty": 10.5,
        "active": False,
        "updated": "2024-10-02T10:00:00.000+02:00",
        "address": {"city": "Hamburg"},
        "items": [
            {"jfsku": "MERC0000002", "quantity": 1, "tags": []},
            {"jfsku": "MERC0000003", "quantity": 7, "tags": [{"value": "blue"}, {"value": "red"}]},
        ],
    },
    {
        "id": 3,
        "name": None,
        "sku": "ABC",
        "qty": 0,
        "active": True,
        "updated": None,
        "address": None,
        "items": [],
    },
]


def ids(text: str) -> list[int]:
    predicate = parse_filter(text, TABLE)
    return [obj["id"] for obj in OBJECTS if predicate(obj)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("qty eq 5", [1]),
        ("qty ne 5", [2, 3]),
        ("qty gt 5", [2]),
        ("qty ge 5", [1, 2]),
        ("qty lt 5", [3]),
        ("qty le 5", [1, 3]),
        ("qty eq 10.5", [2]),
        ("qty gt -1", [1, 2, 3]),
        ("5 lt qty", [2]),  # literal on the left flips the operator
        ("name eq 'Alpha'", [1]),
        ("name eq 'alpha'", []),  # case-sensitive like OData
        ("name gt 'B'", [2]),
        ("name eq null", [3]),
        ("name ne null", [1, 2]),
        ("active eq true", [1, 3]),
        ("active eq false", [2]),
        ("active", [1, 3]),  # a boolean field alone is a predicate
        ("not active", [2]),
        ("address/city eq 'Hamburg'", [2]),
        ("address/city eq null", [3]),  # a null parent makes the nested value null
        ("updated gt 2024-10-02T08:00:00Z", []),  # 2024-10-02T10:00+02:00 is 08:00Z
        ("updated ge 2024-10-02T08:00:00Z", [2]),
        ("updated gt 2024-10-01T12:00:00", [2]),  # no offset: read as UTC
        ("updated ge 2024-10-01T08:00:00+00:00", [1, 2]),
        ("updated lt '2024-10-02T09:00:00+00:00'", [1, 2]),  # quoted date-time on a date-time field
        ("updated eq null", [3]),
    ],
)
def test_comparison_operators(text: str, expected: list[int]) -> None:
    assert ids(text) == expected


def test_string_literals_keep_leading_zeros_and_unescape_quotes() -> None:
    assert ids("sku eq '00123'") == [1]
    assert ids("sku eq '123'") == [2]
    assert ids("name eq 'O''Brien'") == [2]
    assert ids("name eq 'O''Brien' or name eq ''") == [2]


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    assert ids("qty eq 0 or qty eq 5 and active eq false") == [3]
    assert ids("(qty eq 0 or qty eq 5) and active eq true") == [1, 3]
    assert ids("((qty eq 0) or (qty eq 10.5)) and not (active eq true)") == [2]
    assert ids("qty gt 0 and qty lt 100 and active eq true") == [1]


def test_keywords_are_case_insensitive_but_field_names_are_not() -> None:
    assert ids("qty EQ 5 AND active Eq TRUE") == [1]
    with pytest.raises(ODataError, match="'Qty'"):
        ids("Qty eq 5")


def test_paths_through_arrays_match_if_any_element_matches() -> None:
    assert ids("items/jfsku eq 'MERC0000003'") == [2]
    assert ids("items/quantity gt 5") == [2]
    assert ids("items/quantity eq 2") == [1]
    assert ids("items/tags/value eq 'red'") == [1, 2]
    # ANY semantics for ne as well: some element differs; an empty list never matches.
    assert ids("items/jfsku ne 'MERC0000001'") == [2]
    assert ids("items/jfsku eq 'MERC0000001' or items/jfsku eq 'MERC0000002'") == [1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("unknown eq 1", "unknown or not filterable field 'unknown' at position 0"),
        ("qty eq", "expected a field or value at position 6"),
        ("qty 5", "expected a comparison operator"),
        ("qty eq 5 and", "expected a field or value"),
        ("(qty eq 5", "expected ')'"),
        ("qty eq 5)", "unexpected ')' at position 8"),
        ("name eq 'open", "unterminated string literal starting at position 8"),
        ("name eq 5", "cannot compare string field 'name' with number literal 5"),
        ("qty eq 'five'", "cannot compare number field 'qty' with string literal 'five'"),
        ("active gt true", "cannot use 'gt' on boolean field"),
        ("qty gt null", "cannot use 'gt' with null"),
        ("updated gt 'yesterday'", "is not a date-time"),
        ("name eq sku", "one field with one literal"),
        ("contains(name, 'A')", "unsupported function 'contains'"),
        ("qty eq 5 # 1", "unexpected character '#'"),
        ("qty eq eq", "found operator 'eq'"),
        ("updated gt 2024-13-40", "invalid date-time literal"),
    ],
)
def test_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ODataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(text, TABLE)


@given(st.text(max_size=30))
@pytest.mark.slow
def test_any_string_round_trips_through_quote_escaping(value: str) -> None:
    literal = "'" + value.replace("'", "''") + "'"
    predicate = parse_filter(f"name eq {literal}", TABLE)
    assert predicate({"name": value})
    assert not predicate({"name": value + "x"})


def test_order_by_multiple_keys_and_directions() -> None:
    rows: list[dict[str, Any]] = [
        {"name": "b", "qty": 1},
        {"name": "a", "qty": 2},
        {"name": "b", "qty": 3},
        {"name": None, "qty": 4},
    ]
    ordered = sort_objects(rows, parse_order_by("name asc, qty desc", TABLE))
    assert [row["qty"] for row in ordered] == [4, 2, 3, 1]  # null first ascending
    ordered = sort_objects(rows, parse_order_by("name desc,qty", TABLE))
    assert [row["qty"] for row in ordered] == [1, 3, 2, 4]  # null last descending


def test_order_by_date_time_compares_instants_not_strings() -> None:
    rows: list[dict[str, Any]] = [
        {"updated": "2024-10-02T01:00:00+02:00"},  # 2024-10-01T23:00Z
        {"updated": "2024-10-01T23:30:00+00:00"},
    ]
    ordered = sort_objects(rows, parse_order_by("updated", TABLE))
    assert ordered[0] is rows[0]


def test_order_by_accepts_order_only_fields_and_rejects_bad_clauses() -> None:
    assert parse_order_by("created desc", TABLE)[0].descending
    with pytest.raises(ODataError, match="field of a list"):
        parse_order_by("items/jfsku", TABLE)
    with pytest.raises(ODataError, match="unknown or not sortable field 'nope'"):
        parse_order_by("nope", TABLE)
    with pytest.raises(ODataError, match="invalid sort direction 'up'"):
        parse_order_by("qty up", TABLE)
    with pytest.raises(ODataError, match="invalid \\$orderBy clause"):
        parse_order_by("qty,,name", TABLE)
