"""The SLA check under Prefect: a deployment's last Completed run decides; a dry run emits nothing."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def test_the_last_completed_run_of_the_named_deployment_decides(tmp_path: Path) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
    from prefect.flow_engine import run_flow

    from flows.sla_check import sla_check
    from tests.automations.probe import probe

    (tmp_path / "alerts.yaml").write_text(
        textwrap.dedent(
            """\
            channels: {hook: {type: webhook, webhook_block: h}}
            alerts:
              - {name: stock-fresh, kind: no-success, deployment: stock-sync, window: 1h,
                 business_hours_only: false, notify: [hook]}
              - {name: stock-done, kind: done-by, deployment: stock-sync, deadline: "00:00", days: daily,
                 timezone: UTC, notify: [hook]}
            """
        )
    )
    with get_client(sync_client=True) as client:
        deployment = client.create_deployment(flow_id=client.create_flow(probe), name="stock-sync")
        failed = client.create_flow_run_from_deployment(deployment)
        succeeded = client.create_flow_run_from_deployment(deployment, parameters={"fail": False})
    assert run_flow(probe, flow_run=failed, return_type="state").is_failed()  # type: ignore[union-attr]
    assert run_flow(probe, flow_run=succeeded, parameters={"fail": False}) == "ok"
    with get_client(sync_client=True) as client:
        ended = client.read_flow_run(succeeded.id).end_time
    assert ended is not None

    soon = sla_check(config_dir=str(tmp_path), dry_run=True, at=ended + timedelta(seconds=1))
    assert {r["alert"]: r["status"] for r in soon["results"]} == {"stock-fresh": "met", "stock-done": "met"}
    assert soon["emitted"] == 0
    before = sla_check(config_dir=str(tmp_path), dry_run=True, at=ended - timedelta(seconds=1))
    assert {r["status"] for r in before["results"]} == {"breached"}  # the run ended later: not counted
    later = sla_check(config_dir=str(tmp_path), dry_run=True, at=ended + timedelta(hours=2))
    fresh = next(r for r in later["results"] if r["alert"] == "stock-fresh")
    assert fresh["status"] == "breached" and fresh["message"].startswith(
        "no successful run of stock-sync for 2h"
    )

    async def artifact() -> str:
        async with get_client() as client:
            only = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=["sla-check"]))
            found = await client.read_latest_artifacts(artifact_filter=only)
            return str(next(a.data for a in found if a.key == "sla-check"))

    text = asyncio.run(artifact())
    assert text.startswith("# SLA check (dry run: no events emitted)")
    assert "| stock-fresh | stock-sync | **breached** |" in text


def test_a_run_past_its_next_schedule_and_the_run_it_pushed_out_are_named(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from prefect import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import IntervalSchedule
    from prefect.states import Cancelled, Running, Scheduled

    from flows.sla_check import sla_check
    from tests.automations.probe import probe

    (tmp_path / "alerts.yaml").write_text("channels: {}\nalerts: []\n")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    anchor = now - timedelta(minutes=13)
    with get_client(sync_client=True) as client:
        deployment = client.create_deployment(
            flow_id=client.create_flow(probe),
            name="order-processing-overrun",
            schedules=[
                DeploymentScheduleCreate(
                    schedule=IntervalSchedule(interval=timedelta(minutes=10), anchor_date=anchor), active=True
                )
            ],
        )
        slow = client.create_flow_run_from_deployment(deployment, state=Scheduled(scheduled_time=anchor))
        client.set_flow_run_state(slow.id, Running(), force=True)
        pushed = client.create_flow_run_from_deployment(
            deployment, state=Scheduled(scheduled_time=anchor + timedelta(minutes=10))
        )
        client.set_flow_run_state(
            pushed.id, Cancelled(message="Deployment concurrency limit reached."), force=True
        )
        by_hand = client.create_flow_run_from_deployment(deployment, state=Scheduled(scheduled_time=now))
        client.set_flow_run_state(by_hand.id, Running(), force=True)  # inside its interval: fine

    result = sla_check(config_dir=str(tmp_path), dry_run=True, at=now + timedelta(seconds=30))
    mine = [o for o in result["overruns"] if o["deployment"] == "order-processing-overrun"]
    assert [(o["kind"], o["run"]) for o in mine] == [("overrunning", slow.name), ("skipped", pushed.name)]
    due = (anchor + timedelta(minutes=10)).strftime("%H:%M")
    assert f"past its next schedule at {due} UTC" in mine[0]["message"]
