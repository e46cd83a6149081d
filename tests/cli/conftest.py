"""The state database the plan commands use (``JTL_DATABASE_URL``), shared by the plan CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jtl_automator.plans import PlanStore
from tests.support.plans import plans_in_env


@pytest.fixture
def plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlanStore]:
    """Plans in a fresh SQLite file that the commands find through ``JTL_DATABASE_URL``."""
    yield from plans_in_env(tmp_path, monkeypatch)
