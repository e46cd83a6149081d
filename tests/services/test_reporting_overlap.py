"""The report's read stage: the state database's queries overlap the API reads, none follows the last page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.reports import parse_period, report_definition
from jtl_automator.reports.data import ReportParams
from jtl_automator.services.reporting import Sources, read_data
from jtl_automator.store import StateStore

pytestmark = pytest.mark.slow  # a migrated state database and the weekly report's every query


class RecordingStore(StateStore):
    """A state store that says when the KPI history, the run's last query, has been read."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.history_read = threading.Event()

    def kpi_history(self, *args: Any, **kwargs: Any) -> Any:
        found = super().kpi_history(*args, **kwargs)
        self.history_read.set()
        return found


class ListingAfterTheQueries:
    """A Wawi whose item listing answers only once the state database has been queried to the end."""

    read_parallelism = 1

    def __init__(self, store: RecordingStore) -> None:
        self.store = store
        self.items = self
        self.returns = self

    def iter_pages(
        self, parallel: int = 1, expected_items: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        assert self.store.history_read.wait(5), "the API answers were awaited before the last query"
        yield [{"SKU": "A-1", "Name": "a", "Categories": [], "ItemPriceData": {"PurchasePriceNet": 2.0}}]

    def return_reasons(self, skipped: Any = None) -> list[Any]:
        return []

    def dated(self, start: datetime, end: datetime, skipped: Any = None) -> Iterator[Any]:
        return iter(())


def test_every_query_runs_before_the_read_stage_waits_for_an_api_answer(tmp_path: Path) -> None:
    store = RecordingStore(f"sqlite:///{tmp_path / 'state.db'}")
    definition = report_definition("weekly")
    assert definition.history and "items" in definition.needs
    data = read_data(
        definition,
        parse_period("2026-W47"),
        ReportParams(),
        Sources(store, wawi=cast(WawiClient, ListingAfterTheQueries(store))),
        as_of=datetime(2026, 11, 23, 6, tzinfo=UTC),
    )
    assert data.frames["items"]["sku"].tolist() == ["A-1"]
    assert "shipped" in data.frames and "comparison_totals" in data.facts
    store.dispose()
