"""Flow tests share ONE Prefect test server per session (~20 s to start); nothing else starts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Start Prefect's test harness once, with a generous start-up timeout for loaded 2-core machines."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _use_harness(prefect_harness: None) -> None:
    """Every test in tests/flows runs against the shared harness."""
