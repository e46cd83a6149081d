"""The process settings a flow's process starts with."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from jtl_automator.runtime import GC_YOUNGEST_THRESHOLD, tune_gc


@pytest.fixture
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_tune_gc_raises_the_youngest_threshold_and_keeps_the_others(thresholds: None) -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc()
    assert gc.get_threshold() == (GC_YOUNGEST_THRESHOLD, 10, 10)
    tune_gc()  # idempotent
    assert gc.get_threshold() == (GC_YOUNGEST_THRESHOLD, 10, 10)


def test_tune_gc_leaves_a_higher_threshold_and_a_disabled_one(thresholds: None) -> None:
    gc.set_threshold(GC_YOUNGEST_THRESHOLD * 2, 5, 5)
    tune_gc()
    assert gc.get_threshold() == (GC_YOUNGEST_THRESHOLD * 2, 5, 5)
    gc.set_threshold(0, 5, 5)
    tune_gc()
    assert gc.get_threshold()[0] == 0


def test_a_flow_process_starts_with_the_tuned_collector_and_pandera_s_backends_registered() -> None:
    """What a deployment's process does first: import its flow module (the package's __init__ runs).

    pandera's one-time registration (0.14 s with hypothesis installed) then happens at import, not in a run.
    """
    code = (
        "import gc, sys, flows; from pandera.backends.pandas.register import register_pandas_backends as r; "
        "print(gc.get_threshold()[0], r.cache_info().currsize, "
        "'pandera.backends.pandas.builtin_checks' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(GC_YOUNGEST_THRESHOLD), "1", "True"]


def test_freeze_startup_objects_freezes_what_the_process_holds_once() -> None:
    """In a process of its own: a freeze is for the life of the process (the pytest one is shared)."""
    code = (
        "import gc, flows; from jtl_automator.runtime import freeze_startup_objects as f; "
        "before = gc.get_freeze_count(); first = f(); held = gc.get_freeze_count(); "
        "kept = [{'a': [i]} for i in range(1000)]; again = f(); "
        "print(before, first, held > 10_000, again, gc.get_freeze_count() == held)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "True", "True", "False", "True"]


def test_every_flow_freezes_its_startup_objects_when_its_run_starts() -> None:
    """Each flow module's flows carry the hook (a new flow without it would scan its imports again)."""
    import importlib
    import pkgutil

    from prefect import Flow

    import flows

    found = []
    for module in pkgutil.iter_modules(flows.__path__):
        for value in vars(importlib.import_module(f"flows.{module.name}")).values():
            if isinstance(value, Flow) and value.__module__ == f"flows.{module.name}":
                found.append(value.name)
                assert flows.freeze_startup_objects_hook in value.on_running_hooks, value.name
    assert len(found) >= 15
