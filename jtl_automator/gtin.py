"""GTIN (EAN/UPC) check digits: what warehouses scan must be a code a scanner accepts."""

from __future__ import annotations

import re

_GTIN = re.compile(r"^(\d{8}|\d{12,14})$")


def gtin_valid(code: str) -> bool:
    """Whether ``code`` is a GTIN-8, -12 (UPC-A), -13 (EAN) or -14 with a correct GS1 check digit.

    Digits only: a code with spaces, dashes or letters is not one (a scanner reads the digits alone).
    """
    if not _GTIN.match(code):
        return False
    digits = [int(c) for c in code]
    weighted = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - weighted % 10) % 10 == digits[-1]
