"""One JSON decoder for every answer the clients read.

orjson decodes a 1,000-item Wawi page in about half the time of the standard library (measured in
benchmarks/RESULTS.md, report_weekly), and pages are most of what the clients' threads spend CPU on
while other pages are on the wire. What orjson refuses but the standard library reads (NaN and
Infinity, UTF-16 or UTF-32 bodies) falls back to the standard library, so an answer decodes to what it
did before and a broken one raises the same ``json.JSONDecodeError``.

One difference stays: orjson reads an integer past 64 bits as a float. No JTL API has one: their
OpenAPI files declare integers as int32 and int64 (decimals are JSON numbers and floats either way).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson


def decode_json(response: httpx.Response) -> Any:
    """The answer's body as JSON (``response.json()``, faster)."""
    content = response.content
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)
