"""A plan store in a fresh SQLite file that the CLI commands and flows find through ``JTL_DATABASE_URL``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jtl_automator.plans import PlanStore
from jtl_automator.store import StateStore


def plans_in_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlanStore]:
    """Yield the store; the cached settings are cleared around it, since they read the variable once."""
    from jtl_automator.settings import get_settings

    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("JTL_DATABASE_URL", url)
    get_settings.cache_clear()
    store = StateStore(url)
    try:
        yield PlanStore(store)
    finally:
        store.dispose()
        get_settings.cache_clear()
