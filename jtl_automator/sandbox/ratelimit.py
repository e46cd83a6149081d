"""Fixed-window rate limits with JTL's ``X-RateLimit-*`` headers, shared by Wawi Cloud and FFN.

The JTL platform's rate-limiting guide (jtl-apis.md §2.5) puts ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Interval-Length-Seconds`` on every response and answers 429
past the limit; FFN documents nothing (§1.6), so the sandbox offers the same mechanism there as an option.
"""

from __future__ import annotations

from collections.abc import Hashable, MutableMapping
from typing import TypeVar

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Interval-Length-Seconds")

K = TypeVar("K", bound=Hashable)


def take_slot(
    windows: MutableMapping[K, tuple[float, int]], key: K, now: float, limit: int, interval: float
) -> tuple[bool, dict[str, str]]:
    """Count one request in ``key``'s fixed window; (allowed, the three X-RateLimit-* headers).

    ``windows`` maps a key to the start and request count of its current window; the caller holds the
    lock that guards it. A refused request is not counted, so waiting out the window always helps.
    """
    start, count = windows.get(key, (now, 0))
    if now - start >= interval:
        start, count = now, 0
    allowed = count < limit
    if allowed:
        count += 1
    windows[key] = (start, count)
    interval_text = str(int(interval)) if float(interval).is_integer() else str(interval)
    values = (str(limit), str(max(0, limit - count)), interval_text)
    return allowed, dict(zip(RATE_HEADERS, values, strict=True))
