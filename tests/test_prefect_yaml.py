"""Every deployment in prefect.yaml points at an importable Flow, with the schedule rules we promise."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "prefect.yaml").read_text())


def _deployments() -> list[dict[str, Any]]:
    deployments = CONFIG.get("deployments") or []
    assert deployments, "prefect.yaml declares no deployments"
    return list(deployments)


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["name"])
@pytest.mark.slow
def test_entrypoint_imports_and_is_a_flow(deployment: dict[str, Any]) -> None:
    from prefect import Flow

    path, _, attr = deployment["entrypoint"].partition(":")
    spec = importlib.util.spec_from_file_location(f"_entry_{attr}", ROOT / path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(getattr(module, attr), Flow)


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["name"])
def test_schedules_are_berlin_time_and_runs_never_overlap(deployment: dict[str, Any]) -> None:
    for schedule in deployment.get("schedules") or []:
        assert schedule.get("timezone") == "Europe/Berlin"
    if deployment.get("schedules"):
        limit = deployment.get("concurrency_limit")
        assert limit is not None, "scheduled deployments run one at a time"
        if isinstance(limit, dict):
            assert limit["limit"] == 1 and limit.get("collision_strategy") == "CANCEL_NEW"
        else:
            assert limit == 1
