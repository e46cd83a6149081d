"""The gateway rate-limit benchmark at a tiny size, so it never rots (the full size: python -m benchmarks)."""

from __future__ import annotations

import pytest

from benchmarks import load


@pytest.mark.slow
def test_gateway_ratelimit_benchmark_tiny() -> None:
    result = load("gateway_ratelimit").run(requests=20, rounds=2, calls=20)
    assert result.passed, result.markdown()
    sqlite = result.raw["measured"]["SQLite"]
    assert sqlite["statuses"] == {
        "per-process/unsigned": [401],
        "per-process/signed": [202],
        "shared/unsigned": [401],
        "shared/signed": [202],
    }
    assert sqlite["alone"]["flood_refused"] == 1001 and sqlite["alone"]["flood_transactions"] == 1
    assert "ms shared" in result.metric("SQLite: accepted (202), median per request").value
