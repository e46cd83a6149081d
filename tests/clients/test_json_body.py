"""The clients' JSON decoder: orjson's speed, the standard library's answers and errors."""

from __future__ import annotations

import json

import httpx
import pytest

from jtl_automator.clients.json_body import decode_json


def _answer(content: bytes) -> httpx.Response:
    return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    "content",
    [
        b'{"Items": [{"Id": 1, "SKU": "A-1", "Name": "Caf\xc3\xa9", "Price": 12.5, "Tags": [], "X": null}]}',
        b'[1, 2.25, -0.0, 1e300, "\\u00fc", true, false]',
        b'"Invalid api key"',
        b'{"a": 1, "a": 2}',  # a repeated key: the last one, as the standard library does
        b'  \n {"TotalPages": 3} \n',
    ],
)
def test_valid_answers_decode_as_the_standard_library_decodes_them(content: bytes) -> None:
    assert decode_json(_answer(content)) == json.loads(content)


@pytest.mark.parametrize(
    "content",
    [
        b'{"stockLevel": NaN}',  # not JSON, but what the standard library (and so httpx) accepted
        '{"name": "Gr\u00fc\u00dfe"}'.encode("utf-16"),  # a UTF-16 body with its byte order mark
    ],
)
def test_what_orjson_refuses_falls_back_to_the_standard_library(content: bytes) -> None:
    decoded = decode_json(_answer(content))
    expected = json.loads(content)
    assert json.dumps(decoded) == json.dumps(expected)  # NaN != NaN: compare the text


@pytest.mark.parametrize("content", [b"", b"{", b"<html>502 Bad Gateway</html>", b'{"a": 1,}'])
def test_a_broken_body_raises_the_standard_library_s_error(content: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_json(_answer(content))


def test_a_body_that_is_not_utf8_raises_what_httpx_raised() -> None:
    content = b'{"name": "\xff\xfe\xfa"}'
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)) as ours:
        decode_json(_answer(content))
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)) as theirs:
        _answer(content).json()
    assert type(ours.value) is type(theirs.value)


def test_integers_of_64_bits_stay_exact() -> None:
    """JTL's OpenAPI files declare int32 and int64; orjson reads only integers past 64 bits as floats."""
    content = b'{"min": -9223372036854775808, "max": 9223372036854775807, "u": 18446744073709551615}'
    decoded = decode_json(_answer(content))
    assert decoded == json.loads(content)
    assert all(type(v) is int for v in decoded.values())
