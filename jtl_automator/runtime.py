"""Process-wide settings a flow's process starts with.

Python's cyclic garbage collector runs a collection every 700 new container objects by default. The
clients decode answers of a thousand items into dicts and lists, and the flows hold tens of thousands
of rows while they work, so a run spent up to 40 % of its CPU time in the collector re-scanning objects
that were not garbage (the weekly report's reads: 2.11 s on loopback, 1.29 s with the threshold below;
benchmarks/RESULTS.md, report_weekly). The flows make few reference cycles (their rows are freed by
reference counting), so collecting after 50,000 new containers instead costs a few megabytes at most.

pandera registers its pandas backends on a process's first validation: it imports its built-in checks
and, where hypothesis is installed (the development environment), its data-generation strategies. That
took 0.14 s here (0.01 s without hypothesis), and a run's first validation often comes after its last
answer (the pricing rerun's first priced page waits for the VAT rates). It belongs to starting the
process, so :func:`prepare_process` does it then.

What a process holds when a run starts (the modules, classes and functions its imports made: about
225,000 tracked objects in a flow's process) lives as long as the process. Until the collector moves
them to its oldest generation, its middle-generation collections scan them again, and its full
collections scan them every time; none of them is ever garbage. Measured on the warm product sync
(benchmarks/RESULTS.md, product_sync): the run's first middle-generation collection took 0.13 to
0.15 s of a run of about a second, and 0.012 to 0.016 s with those objects frozen (``gc.freeze``); a
full collection in a process that imported the flows took 0.13 s, and 0.03 s frozen. So a flow run
freezes them when it starts (:func:`freeze_startup_objects`, the flows' ``on_running`` hook).
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


_startup_frozen = False


def freeze_startup_objects() -> bool:
    """Keep what the process holds now out of the collector's scans; once per process (True: now).

    A flow's process runs one flow, so its first run's start is the end of its imports. Once only: a
    long-lived process (a test session) would otherwise freeze each run's leftovers too, and what is
    frozen is never collected (still freed when nothing refers to it).
    """
    global _startup_frozen
    if _startup_frozen:
        return False
    gc.freeze()
    _startup_frozen = True
    return True


def register_validation_backends() -> None:
    """Have pandera register its pandas backends now rather than at a run's first validation."""
    import pandas as pd
    import pandera.pandas as pa

    pa.DataFrameSchema({"ready": pa.Column(int, pa.Check.ge(0))}).validate(pd.DataFrame({"ready": [0]}))


def prepare_process() -> None:
    """Everything a flow's process sets up before its first run (the collector, pandera's backends)."""
    tune_gc()
    register_validation_backends()


__all__ = [
    "GC_YOUNGEST_THRESHOLD",
    "freeze_startup_objects",
    "prepare_process",
    "register_validation_backends",
    "tune_gc",
]
