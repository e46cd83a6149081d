"""The state database the plan commands use (``JTL_DATABASE_URL``), shared by the plan CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jtl_automator.plans import PlanStore
from jtl_automator.store import StateStore


@pytest.fixture
def plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlanStore]:
    """Plans in a fresh SQLite file that the commands find through ``JTL_DATABASE_URL``."""
    from jtl_automator.settings import get_settings

    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("JTL_DATABASE_URL", url)
    get_settings.cache_clear()  # the commands read JTL_DATABASE_URL through the cached settings
    store = StateStore(url)
    try:
        yield PlanStore(store)
    finally:
        store.dispose()
        get_settings.cache_clear()
