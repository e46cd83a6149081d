"""GTIN (EAN/UPC) check digits: what warehouses scan must be a code a scanner accepts.

The one GS1 check-digit rule of the project (GS1 General Specifications, section 7.9): the product
sync's and the sandbox's ``gtin_valid`` and the quality report's reasons
(``transforms.product_quality.gtin_problem``) all use :func:`gtin_check_digit`.
"""

from __future__ import annotations

import re

_GTIN = re.compile(r"^(\d{8}|\d{12,14})$")
_DIGITS = re.compile(r"^[0-9]+$")


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit for ``body`` (the GTIN without its last digit; digits only)."""
    if not body or not _DIGITS.match(body):
        raise ValueError(f"a GTIN body is digits only: {body!r}")
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_valid(code: str | None) -> bool:
    """Whether ``code`` is a GTIN-8, -12 (UPC-A), -13 (EAN) or -14 with a correct GS1 check digit.

    Digits only: a code with spaces, dashes or letters is not one (a scanner reads the digits alone), and
    neither is a code of only zeros (its check digit fits, but GS1 never issues it).
    """
    if code is None or not _GTIN.match(code) or set(code) == {"0"}:
        return False
    return gtin_check_digit(code[:-1]) == int(code[-1])
