"""`prefect deploy --all` registers every deployment of prefect.yaml with its schedule and limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_all_registers_berlin_schedules_and_one_run_at_a_time(tmp_path: Path) -> None:
    api = PREFECT_API_URL.value()
    assert api, "the harness sets the API URL"

    async def make_pool() -> None:
        from prefect.client.schemas.actions import WorkPoolCreate

        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="jtl-process", type="process"), overwrite=True)

    anyio.run(make_pool)
    env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "JTL_AUTOMATOR_HOME": str(ROOT),
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    async def deployments() -> dict[str, object]:
        async with get_client() as client:
            return {d.name: d for d in await client.read_deployments()}

    found = anyio.run(deployments)
    assert {"inbound-verification-daily", "connectivity-check", "order-processing"} <= set(found)
    for name, cron in (
        ("inbound-verification-daily", "0 8 * * *"),
        ("order-processing", "*/10 * * * *"),
        ("pricing", "30 5 * * *"),
    ):
        deployment = found[name]
        schedule = deployment.schedules[0].schedule  # type: ignore[attr-defined]
        assert (schedule.cron, schedule.timezone) == (cron, "Europe/Berlin")
        limit = deployment.global_concurrency_limit.limit  # type: ignore[attr-defined]
        options = deployment.concurrency_options  # type: ignore[attr-defined]
        assert limit == 1 and options.collision_strategy.value == "CANCEL_NEW"
    assert found["inbound-verification-daily"].parameters["sheet_block"] == "inbound-control"  # type: ignore[attr-defined]
    watch = found["product-enrichment-feed-watch"]
    assert watch.parameters["only_if_changed"] is True  # type: ignore[attr-defined]
    watch_schedule = watch.schedules[0]  # type: ignore[attr-defined]
    assert (watch_schedule.schedule.cron, watch_schedule.schedule.timezone) == (
        "*/15 * * * *",
        "Europe/Berlin",
    )
    assert watch_schedule.active is False  # on once its feed is configured (see prefect.yaml)
    assert found["product-enrichment"].global_concurrency_limit.limit == 1  # type: ignore[attr-defined]
