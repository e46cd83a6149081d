"""The order run's sequence, defined once in ``run_stages``: order, lease, failure handling, parallelism."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from jtl_automator.services import order_processing as svc
from jtl_automator.services.order_processing import pipeline
from jtl_automator.store.store import LeaseInfo
from jtl_automator.transforms.allocation import available_stock

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def empty_batch() -> svc.ImportedBatch:
    return svc.ImportedBatch(
        NOW, NOW, pd.DataFrame(), pd.DataFrame(), {}, [svc.Outcome("A1", 1, "skipped_existing")]
    )


class Recording:
    """A Stages that records what ran; ``fail_at`` makes that stage raise."""

    def __init__(self, *, holder: LeaseInfo | None = None, fail_at: str | None = None) -> None:
        self.calls: list[str] = []
        self.holder = holder
        self.fail_at = fail_at
        self.alerts: list[LeaseInfo] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail_at:
            raise RuntimeError(f"{name} broke")

    def acquire_lease(self) -> LeaseInfo | None:
        self._call("acquire_lease")
        return self.holder

    def alert_lease_stuck(self, holder: LeaseInfo) -> None:
        self.alerts.append(holder)

    def release_lease(self) -> None:
        self._call("release_lease")

    def import_orders(self) -> svc.ImportedBatch:
        self._call("import_orders")
        return empty_batch()

    def load_lookups(self, batch: svc.ImportedBatch) -> svc.FulfilmentData:
        self._call("load_lookups")
        return svc.FulfilmentData({}, available_stock([]), {}, {"*": 1})

    def plan(self, batch: svc.ImportedBatch, data: svc.FulfilmentData) -> svc.Plan:
        self._call("plan")
        return svc.Plan([svc.Action("fail", f"N{i}", i) for i in range(5)])

    def fulfil(self, chunks: Sequence[Sequence[svc.Action]], data: svc.FulfilmentData) -> list[svc.Outcome]:
        self._call("fulfil")
        return [svc.Outcome(a.order_number, a.order_id, "failed", "x") for chunk in chunks for a in chunk]

    def sync_shipments(self, batch: svc.ImportedBatch) -> tuple[list[svc.Outcome], str]:
        self._call("sync_shipments")
        return [svc.Outcome("S1", 9, "shipped")], "mark"

    def advance_watermarks(self, batch: svc.ImportedBatch, ffn_watermark: str) -> None:
        self._call("advance_watermarks")


PARAMS = svc.OrderProcessingParams(chunk_size=2)
SEQUENCE = [
    "acquire_lease",
    "import_orders",
    "load_lookups",
    "plan",
    "fulfil",
    "sync_shipments",
    "advance_watermarks",
    "release_lease",
]


def test_the_stages_run_in_order_and_every_outcome_is_counted() -> None:
    stages = Recording()
    result = svc.run_stages(stages, PARAMS, dry_run=False)
    assert stages.calls == SEQUENCE
    assert result["counts"]["failed"] == 5 and result["counts"]["shipped"] == 1
    assert result["counts"]["skipped_existing"] == 1


def test_a_dry_run_takes_no_lease() -> None:
    stages = Recording()
    svc.run_stages(stages, PARAMS, dry_run=True)
    assert stages.calls == [c for c in SEQUENCE if "lease" not in c]


def held_since(minutes: float) -> LeaseInfo:
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    return LeaseInfo("order-processing", "run-7", since, datetime.now(UTC) + timedelta(minutes=2))


def test_a_held_lease_skips_the_run_and_says_who_holds_it() -> None:
    stages = Recording(holder=held_since(3))
    result = svc.run_stages(stages, PARAMS, dry_run=False)
    assert result["skipped"].startswith(pipeline.LEASE_HELD) and result["lease_owner"] == "run-7"
    assert stages.calls == ["acquire_lease"] and stages.alerts == []  # a few minutes: a run at work


def test_a_lease_held_longer_than_the_alert_limit_alerts() -> None:
    stages = Recording(holder=held_since(PARAMS.lease_alert_minutes + 1))
    result = svc.run_stages(stages, PARAMS, dry_run=False)
    assert result["lease_held_minutes"] > PARAMS.lease_alert_minutes
    assert [h.owner for h in stages.alerts] == ["run-7"]


@pytest.mark.parametrize("stage", ["import_orders", "fulfil", "sync_shipments"])
def test_a_failing_stage_releases_the_lease_and_never_moves_the_watermarks(stage: str) -> None:
    stages = Recording(fail_at=stage)
    with pytest.raises(RuntimeError, match="broke"):
        svc.run_stages(stages, PARAMS, dry_run=False)
    assert "advance_watermarks" not in stages.calls and stages.calls[-1] == "release_lease"


def test_local_fulfil_runs_params_workers_chunks_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    running, peak = 0, 0

    def apply(ctx: Any, chunk: Sequence[svc.Action]) -> list[svc.Outcome]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return [svc.Outcome(a.order_number, a.order_id, "failed") for a in chunk]

    monkeypatch.setattr(pipeline, "apply_actions", apply)
    params = svc.OrderProcessingParams(workers=3)
    stages = svc.LocalStages(None, None, None, params, dry_run=True)  # type: ignore[arg-type]
    chunks = [[svc.Action("fail", f"N{i}", i)] for i in range(9)]
    outcomes = stages.fulfil(chunks, svc.FulfilmentData({}, available_stock([]), {}, {}))
    assert [o.order_id for o in outcomes] == list(range(9))  # chunk order kept
    assert peak == 3
