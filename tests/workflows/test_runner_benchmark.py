"""The workflow runner benchmark at a tiny size, so it never rots (the full size: python -m benchmarks)."""

from __future__ import annotations

import pytest

from benchmarks import load


@pytest.mark.slow
def test_workflow_runner_benchmark_tiny() -> None:
    result = load("workflow_runner").run(skus=300, runs=3, prefect_runs=0, batch_runs=0, per_step_runs=0)
    raw = result.raw
    assert raw["requests"] == raw["lower_bound"]  # the entity read is bulk: one listing per resource
    assert raw["firings"] > 0 and raw["runs"] == 3 and raw["prefect_runs"] == 0
    assert raw["runner_statuses"] == {"completed": 3}
    # 3 runs x 5 webhook steps, directly and through the runner: each a side effect, each one request
    assert raw["side_effects"] == raw["receiver_keys"] == raw["receiver_requests"] == 30
    assert raw["requests_total"] == raw["lower_bound"] + raw["side_effects"]
    assert result.passed, result.markdown()
    assert "workflow_runner" in result.markdown()


@pytest.mark.slow
@pytest.mark.prefect
def test_workflow_runner_benchmark_through_the_flow() -> None:
    """Two runs as ``workflow-run`` flow runs, two with a task run per step, three in batches of two."""
    result = load("workflow_runner").run(
        skus=200, runs=2, prefect_runs=2, per_step_runs=2, batch_runs=3, batch_size=2
    )
    raw = result.raw
    assert raw["prefect_statuses"] == {"completed": 2} and raw["prefect_flow_statuses"] == {"completed": 2}
    assert raw["per_step_statuses"] == {"completed": 2}
    assert raw["batch_statuses"] == {"completed": 3} and raw["batch_flow_runs"] == 2
    assert raw["side_effects"] == raw["receiver_keys"] == (2 + 2 + 2 + 2 + 3) * 5
    assert raw["requests_total"] == raw["lower_bound"] + raw["side_effects"]
    assert result.metric("workflow-run flow (Prefect), per step").value.endswith("ms")
    assert raw["batch_server_cpu"] > 0 and raw["prefect_server_cpu"] > 0
    assert result.passed, result.markdown()
