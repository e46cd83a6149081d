"""The workflow runner benchmark at a tiny size, so it never rots (the full size: python -m benchmarks)."""

from __future__ import annotations

import pytest

from benchmarks import load


@pytest.mark.slow
def test_workflow_runner_benchmark_tiny() -> None:
    result = load("workflow_runner").run(skus=300, runs=3)
    raw = result.raw
    assert raw["requests"] == raw["lower_bound"]  # the entity read is bulk: one listing per resource
    assert raw["firings"] > 0 and raw["runs"] == 3
    assert result.metric("entity read: Wawi requests").passed
    assert "workflow_runner" in result.markdown()
