"""PHP's JSON and casts as the sandbox's shop reproduces them (JSON_HEX_*, whole floats, (int), DateTime)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from jtl_automator.sandbox.shop.encoding import php_datetime, php_int, php_json, plain_date, plain_datetime


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("<b>", r'"\u003Cb\u003E"'),
        ("Tom & 'Jerry'", r'"Tom \u0026 \u0027Jerry\u0027"'),
        ('say "hi"', r'"say \u0022hi\u0022"'),
        ("a/b", '"a/b"'),  # JSON_UNESCAPED_SLASHES
        ("Grün", r'"Gr\u00fcn"'),  # no JSON_UNESCAPED_UNICODE
        ("end\\", r'"end\\"'),
        ('\\"', r'"\\\u0022"'),  # a backslash, then a quote
        ('\ue000 "x"', r'"\ue000 \u0022x\u0022"'),  # the encoder's stand-in in the data itself
        ('\\ue000 "x"', r'"\\ue000 \u0022x\u0022"'),  # text that looks like the stand-in's escape
        (17.0, "17"),  # no JSON_PRESERVE_ZERO_FRACTION
        (-3.0, "-3"),
        (9.99, "9.99"),
        (0.1 + 0.2, "0.30000000000000004"),  # serialize_precision -1: the shortest round trip
        ([1.0, 2.5, True, None], "[1,2.5,true,null]"),
        ({'k"ey': 2.0}, r'{"k\u0022ey":2}'),
    ],
)
def test_php_json_escapes_and_numbers(value: Any, encoded: str) -> None:
    text = php_json(value).decode("ascii")
    assert text == encoded
    decoded = json.loads(text)
    assert decoded == value or (isinstance(value, float) and decoded == int(value))


def test_php_int_casts_as_php_does() -> None:
    assert [php_int(v) for v in ("12", "12abc", "abc", "", " 7", "-3", "+4", "1.9", None)] == [
        12,
        12,
        0,
        0,
        7,
        -3,
        4,
        1,
        0,
    ]


def test_dates_as_the_shop_writes_them() -> None:
    moment = datetime(2026, 11, 15, 23, 30, 5, tzinfo=UTC)  # already the 16th in Berlin
    assert php_datetime(moment) == {
        "date": "2026-11-16 00:30:05.000000",
        "timezone_type": 3,
        "timezone": "Europe/Berlin",
    }
    assert php_datetime(moment, date_only=True)["date"] == "2026-11-16 00:00:00.000000"
    assert php_datetime(datetime(2026, 7, 1, 10, tzinfo=UTC))["date"] == "2026-07-01 12:00:00.000000"  # CEST
    assert (plain_date(moment), plain_datetime(moment)) == ("2026-11-16", "2026-11-16 00:30:05")
    assert php_datetime(None) is None and plain_date(None) is None
