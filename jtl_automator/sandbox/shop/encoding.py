r"""How JTL-Shop 5.4 writes JSON and reads path ids: PHP's rules, reproduced (jtl-shop-rest.md §4, §5).

- ``json_encode`` with ``JSON_HEX_TAG|JSON_HEX_APOS|JSON_HEX_AMP|JSON_HEX_QUOT|JSON_UNESCAPED_SLASHES``
  (Laminas ``JsonResponse``): ``<`` ``>`` ``'`` ``&`` ``"`` inside strings become ``\u003C`` ``\u003E``
  ``\u0027`` ``\u0026`` ``\u0022``, non-ASCII is ``\uXXXX`` (no ``JSON_UNESCAPED_UNICODE``), ``/`` stays;
- no ``JSON_PRESERVE_ZERO_FRACTION``: a whole float is written as an int (``17.0`` → ``17``);
- getter dates are PHP ``DateTime`` objects ``{"date": "Y-m-d H:i:s.000000", "timezone_type": 3,
  "timezone": "Europe/Berlin"}`` in the shop's local time; the others plain ``Y-m-d[ H:i:s]`` strings;
- ``(int)"12abc"`` is 12 and ``(int)"abc"`` is 0: path ids are cast that way, not validated.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import Response

SHOP_TIMEZONE = "Europe/Berlin"
JSON_MEDIA = "application/json"

_ESCAPED_QUOTE = re.compile(r'(?<!\\)((?:\\\\)*)\\"')
_HEX = (("<", r"\u003C"), (">", r"\u003E"), ("&", r"\u0026"), ("'", r"\u0027"))
_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")


#: Stands in for ``"`` inside strings while Python encodes them: ``ensure_ascii`` writes it as ``\ue000``,
#: which then becomes ``\u0022`` (far cheaper than finding escaped quotes in the text afterwards).
_QUOTE_STANDIN = "\ue000"


def _text(value: str, seen: list[bool]) -> str:
    if "ue000" in value or _QUOTE_STANDIN in value:  # the stand-in, or text that looks like its escape
        seen[0] = True
    return value.replace('"', _QUOTE_STANDIN) if '"' in value else value


def _prepare(value: Any, seen: list[bool]) -> Any:
    """Whole floats as ints and quotes as the stand-in; ``seen[0]``: a string could be mistaken for it."""
    kind = type(value)
    if kind is str:
        return _text(value, seen)
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict:
        return {_key(key, seen): _prepare(item, seen) for key, item in value.items()}
    if kind is list:
        return [_prepare(item, seen) for item in value]
    # subclasses and tuples (rare): the same, by isinstance
    if isinstance(value, str):
        return _text(str(value), seen)
    if isinstance(value, float):
        return int(value) if value.is_integer() else float(value)
    if isinstance(value, dict):
        return {_key(key, seen): _prepare(item, seen) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_prepare(item, seen) for item in value]
    return value


def _key(key: Any, seen: list[bool]) -> Any:
    return _text(key, seen) if isinstance(key, str) else key


def php_json(value: Any) -> bytes:
    """``value`` as the Shop's ``JsonResponse`` encodes it (see the module docstring)."""
    seen = [False]
    prepared = _prepare(value, seen)
    text = json.dumps(prepared, ensure_ascii=True, separators=(",", ":"))
    # Outside strings JSON has none of < > & ' (and a quote there is structural), so a plain replace
    # escapes exactly the characters inside strings.
    for raw, escaped in _HEX:
        text = text.replace(raw, escaped)
    if seen[0]:  # the data held the stand-in: find the escaped quotes the slow way (an even run of \\)
        text = json.dumps(_prepare_floats_only(value), ensure_ascii=True, separators=(",", ":"))
        for raw, escaped in _HEX:
            text = text.replace(raw, escaped)
        return _ESCAPED_QUOTE.sub(lambda m: m.group(1) + r"\u0022", text).encode("ascii")
    return text.replace(r"\ue000", r"\u0022").encode("ascii")


def _prepare_floats_only(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _prepare_floats_only(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_prepare_floats_only(item) for item in value]
    return value


class ShopJSONResponse(Response):
    """``application/json`` rendered with :func:`php_json`."""

    media_type = JSON_MEDIA

    def render(self, content: Any) -> bytes:
        """PHP's encoding of ``content``."""
        return php_json(content)


def php_datetime(moment: datetime | None, *, date_only: bool = False, zone: str = SHOP_TIMEZONE) -> Any:
    """A getter date as PHP serialises a ``DateTime``: local wall time, microseconds, the zone's name."""
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(zone)) if moment.tzinfo is not None else moment
    if date_only:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"date": local.strftime("%Y-%m-%d %H:%M:%S.%f"), "timezone_type": 3, "timezone": zone}


def plain_date(moment: date | datetime | None, zone: str = SHOP_TIMEZONE) -> str | None:
    """A DB ``date`` column as the Shop hands it out without a getter: ``Y-m-d``."""
    if moment is None:
        return None
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d")


def plain_datetime(moment: datetime | None, zone: str = SHOP_TIMEZONE) -> str | None:
    """A DB ``datetime`` column without a getter: ``Y-m-d H:i:s`` in the shop's local time."""
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(zone)) if moment.tzinfo is not None else moment
    return local.strftime("%Y-%m-%d %H:%M:%S")


def php_int(text: str | None) -> int:
    """PHP's ``(int)`` of a string: its leading integer, 0 when it has none."""
    if text is None:
        return 0
    match = _LEADING_INT.match(text)
    return int(match.group(1)) if match else 0
