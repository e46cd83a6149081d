"""Process-wide settings a flow's process starts with.

Python's cyclic garbage collector runs a collection every 700 new container objects by default. The
clients decode answers of a thousand items into dicts and lists, and the flows hold tens of thousands
of rows while they work, so a run spent up to 40 % of its CPU time in the collector re-scanning objects
that were not garbage (the weekly report's reads: 2.11 s on loopback, 1.29 s with the threshold below;
benchmarks/RESULTS.md, report_weekly). The flows make few reference cycles (their rows are freed by
reference counting), so collecting after 50,000 new containers instead costs a few megabytes at most.
"""

from __future__ import annotations

import gc

#: New container objects between two youngest-generation collections (CPython's default: 700).
GC_YOUNGEST_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect after :data:`GC_YOUNGEST_THRESHOLD` new objects (never lowers a higher threshold)."""
    youngest, middle, oldest = gc.get_threshold()
    if youngest and youngest < GC_YOUNGEST_THRESHOLD:  # 0 means a caller turned collection off
        gc.set_threshold(GC_YOUNGEST_THRESHOLD, middle, oldest)


__all__ = ["GC_YOUNGEST_THRESHOLD", "tune_gc"]
