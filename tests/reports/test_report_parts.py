"""The weekly and monthly reports built by sections equal one build, whatever order the sections ran in.

That is what lets a Dask cluster build the sections apart (tests/flows/test_dask_flows.py runs them there).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from jtl_automator.reports import parse_period, report_definition, weekly
from jtl_automator.reports import sections as s
from jtl_automator.reports.data import ReportData, ReportParams
from jtl_automator.reports.model import Report
from jtl_automator.reports.parts import section_part
from jtl_automator.services.reporting import Sources, read_data
from jtl_automator.store import StateStore
from tests.reports.test_reports_generated import generate, items_frame, seed, stock_frame
from tests.support.reports import assert_reports_equal

pytestmark = pytest.mark.slow  # a generated ledger in a state database

PARAMS = ReportParams(top_n=20)
PERIODS = {"weekly": "2026-W46", "monthly": "2026-11"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateStore]:
    world = generate(7)
    opened = StateStore(f"sqlite:///{tmp_path_factory.mktemp('parts') / 'state.db'}")
    seed(opened, world)
    opened.world = world  # type: ignore[attr-defined]
    yield opened
    opened.dispose()


def _data(store: StateStore, name: str) -> ReportData:
    definition = report_definition(name)
    data = read_data(
        definition,
        parse_period(PERIODS[name]),
        PARAMS,
        Sources(store),
        as_of=datetime(2026, 12, 2, 6, tzinfo=UTC),
    )
    world = store.world  # type: ignore[attr-defined]
    data.frames.update(stock=stock_frame(world), items=items_frame(world))
    data.missing.pop("stock", None)
    data.missing.pop("items", None)
    return data


@pytest.mark.parametrize("name", ["weekly", "monthly"])
def test_sections_built_apart_in_any_order_make_the_same_report(store: StateStore, name: str) -> None:
    definition = report_definition(name)
    assert definition.sections and definition.build_from_parts is not None
    data = _data(store, name)
    whole = definition.build(data, PARAMS)
    assert len(whole.kpis) > 10 and len(whole.tables) > 5 and whole.history
    like = Report(definition.name, definition.title, data.period, datetime.now(UTC))
    # last section first: none reads what another wrote
    backwards = [section_part(section, data, PARAMS, like) for section in reversed(definition.sections)]
    assert_reports_equal(definition.build_from_parts(data, PARAMS, backwards[::-1]), whole)


def test_the_monthly_report_is_the_weekly_figures_then_the_price_changes(store: StateStore) -> None:
    """As the monthly report was composed before it was built by sections: nothing moved."""
    data = _data(store, "monthly")
    composed = weekly.build_kpis("monthly", "Monthly", "Last months", data, PARAMS)
    s.add_price_changes(composed, data)
    assert_reports_equal(report_definition("monthly").build(data, PARAMS), composed)
    assert composed.kpis[-1].key == "price_changes"
