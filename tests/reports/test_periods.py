"""Report periods: Berlin days, ISO weeks and months; parsing, bounds across DST, comparisons, ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from jtl_automator.reports.periods import (
    PeriodError,
    last_complete_period,
    parse_period,
    period_of,
    period_range,
)


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        pytest.param("2026-11-24", "day", date(2026, 11, 24), date(2026, 11, 24), id="day"),
        pytest.param("2026-W47", "week", date(2026, 11, 16), date(2026, 11, 22), id="iso-week"),
        pytest.param("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 4), id="week-1-starts-last-year"),
        pytest.param("2026-11", "month", date(2026, 11, 1), date(2026, 11, 30), id="month"),
        pytest.param("2028-02", "month", date(2028, 2, 1), date(2028, 2, 29), id="leap-february"),
    ],
)
def test_periods_parse_to_their_days(text: str, kind: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.kind, period.start, period.end, period.label) == (kind, start, end, text)


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        pytest.param("2026-W54", None, "does not exist", id="no-week-54"),
        pytest.param("2026-13", None, "does not exist", id="no-month-13"),
        pytest.param("24.11.2026", None, "none of", id="german-date"),
        pytest.param("2026-11", "week", "is a month; this report runs per week", id="wrong-kind"),
    ],
)
def test_bad_periods_are_refused_in_one_clear_line(text: str, kind: str | None, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(text, kind)  # type: ignore[arg-type]


def test_bounds_are_berlin_midnights_in_utc_across_daylight_saving_time() -> None:
    # the week of the switch to winter time: Monday 00:00 CEST to Monday 00:00 CET
    week = parse_period("2026-W43")  # Sunday 25 October 2026 ends summer time
    assert week.utc_bounds() == (
        datetime(2026, 10, 18, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 23, tzinfo=UTC),
    )
    day = parse_period("2026-10-25")  # 25 hours long
    start, end = day.utc_bounds()
    assert (end - start).total_seconds() == 25 * 3600


def test_previous_and_last_year() -> None:
    assert parse_period("2026-W01").previous().label == "2025-W52"
    assert parse_period("2026-03").previous().label == "2026-02"
    assert parse_period("2026-03-01").previous().label == "2026-02-28"
    assert parse_period("2026-W47").same_period_last_year().label == "2025-W47"
    assert parse_period("2026-W53").same_period_last_year().label == "2025-W52"  # 2025 has no W53
    assert parse_period("2026-11").same_period_last_year().label == "2025-11"
    day = parse_period("2026-11-24")  # a Tuesday: last year's Tuesday 52 weeks back
    assert day.same_period_last_year().start == date(2025, 11, 25)


def test_the_default_period_is_the_last_complete_one_in_berlin() -> None:
    monday_morning = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    assert last_complete_period("day", monday_morning).label == "2026-11-22"
    assert last_complete_period("week", monday_morning).label == "2026-W47"
    assert last_complete_period("month", datetime(2026, 12, 1, 6, tzinfo=UTC)).label == "2026-11"
    # 23:30 UTC on Sunday is already Monday in Berlin
    assert last_complete_period("day", datetime(2026, 11, 22, 23, 30, tzinfo=UTC)).label == "2026-11-22"


def test_a_backfill_range_holds_every_period_once_in_order() -> None:
    weeks = period_range(parse_period("2026-W52"), parse_period("2027-W02"))
    assert [w.label for w in weeks] == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    assert (
        period_range(period_of("day", date(2026, 1, 1)), period_of("day", date(2026, 1, 1)))[0].label
        == "2026-01-01"
    )
    with pytest.raises(PeriodError, match="ends before it starts"):
        period_range(parse_period("2026-11"), parse_period("2026-10"))
    with pytest.raises(PeriodError, match="from a week to a month"):
        period_range(parse_period("2026-W01"), parse_period("2026-02"))
    with pytest.raises(PeriodError, match="more than"):
        period_range(parse_period("2016-01-01"), parse_period("2026-01-01"))
