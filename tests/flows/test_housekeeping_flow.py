"""The housekeeping flow under Prefect: prunes past the keep-age, leaves the rest, publishes its artifact."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from jtl_automator.services.housekeeping import RetentionParams
from jtl_automator.store import StateStore
from jtl_automator.store.models import InboundCheck

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def test_housekeeping_removes_old_checks_and_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    from flows.housekeeping import housekeeping
    from jtl_automator.settings import get_settings

    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("JTL_DATABASE_URL", url)
    get_settings.cache_clear()
    store = StateStore(url)
    now = datetime.now(UTC)
    with store.session() as s:
        for age in (1, 100, 200, 300):
            s.add(
                InboundCheck(
                    run_id="r", sheet="s", row_key=f"k{age}", status="ok", checked_at=now - timedelta(age)
                )
            )

    dry = housekeeping(dry_run=True)
    assert next(j for j in dry["journals"] if j["journal"] == "inbound_checks")["older"] == 2
    assert dry["tables"]["inbound_checks"] == 4

    done = housekeeping(params=RetentionParams(archive_dir=str(tmp_path / "archive")))
    checks = next(j for j in done["journals"] if j["journal"] == "inbound_checks")
    assert checks["deleted"] == 2 and Path(checks["archive"]).exists()
    with store.session() as s:
        assert sorted(s.execute(sa.select(InboundCheck.row_key)).scalars()) == ["k1", "k100"]

    async def artifact() -> str:
        async with get_client() as client:
            only = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=["housekeeping"]))
            found = await client.read_latest_artifacts(artifact_filter=only)
            return next(a.data for a in found if a.key == "housekeeping")

    text = asyncio.run(artifact())
    assert "removed 2 journal rows" in text and "| inbound_checks | 180 days |" in text
    get_settings.cache_clear()


def test_a_flow_run_freezes_the_startup_objects_when_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect runs the ``on_running`` hook in the run's process, before the flow's body."""
    import flows
    from flows.housekeeping import housekeeping
    from jtl_automator.settings import get_settings

    calls: list[str] = []
    monkeypatch.setattr(flows, "freeze_startup_objects", lambda: calls.append("frozen") or True)
    monkeypatch.setenv("JTL_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    get_settings.cache_clear()
    housekeeping(dry_run=True)
    assert calls == ["frozen"]
    get_settings.cache_clear()
