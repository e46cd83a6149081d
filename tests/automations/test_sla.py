"""SLA verdicts at a moment: business hours, the opening reset, deadlines, days, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from jtl_automator.alerts.config import BusinessHours, DoneByAlert, NoSuccessAlert
from jtl_automator.alerts.sla import (
    check_done_by,
    check_no_success,
    evaluate,
    in_business_hours,
    report_markdown,
)

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = BusinessHours(timezone="Europe/Berlin", days=(0, 1, 2, 3, 4), start=time(8), end=time(18))
STALE = NoSuccessAlert(
    name="order-processing-stale", kind="no-success", deployment="order-processing", notify=["ops"]
)
OVERDUE = DoneByAlert(
    name="inbound-overdue",
    kind="done-by",
    deployment="inbound-verification-daily",
    deadline=time(9),
    notify=["ops"],
)


def berlin(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A moment in November 2026 (the 23rd is a Monday), Berlin time."""
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (berlin(23, 8, 0), True),
        (berlin(23, 7, 59), False),
        (berlin(23, 17, 59), True),
        (berlin(23, 18, 0), False),
        (berlin(22, 12, 0), False),  # Sunday
        (datetime(2026, 11, 23, 7, 30, tzinfo=UTC), True),  # 08:30 in Berlin (UTC+1)
        (datetime(2026, 7, 6, 6, 30, tzinfo=UTC), True),  # 08:30 in Berlin summer time (UTC+2)
        (datetime(2026, 7, 6, 16, 30, tzinfo=UTC), False),  # 18:30 in Berlin summer time
    ],
)
def test_business_hours_are_local_days_and_times(moment: datetime, inside: bool) -> None:
    assert in_business_hours(moment, HOURS) is inside


def test_a_recent_success_meets_the_window_and_an_old_one_breaches_it() -> None:
    now = berlin(24, 11, 0)
    met = check_no_success(STALE, HOURS, now - timedelta(minutes=29), now)
    assert met.status == "met" and met.resource_id == "jtl-automator.sla.order-processing-stale"
    breached = check_no_success(STALE, HOURS, now - timedelta(minutes=75), now)
    assert breached.status == "breached"
    assert breached.message == (
        "no successful run of order-processing for 1h15m of business hours (allowed: 30m); "
        "last success: Tue 2026-11-24 09:45 CET"
    )


def test_the_clock_restarts_at_the_opening() -> None:
    friday_evening = berlin(20, 17, 50)
    assert check_no_success(STALE, HOURS, friday_evening, berlin(23, 8, 29)).status == "met"
    monday = check_no_success(STALE, HOURS, friday_evening, berlin(23, 8, 30))
    assert monday.status == "breached" and "for 30m of business hours" in monday.message
    assert "last success: Fri 2026-11-20 17:50 CET" in monday.message


def test_outside_business_hours_nothing_is_due_and_a_run_never_seen_counts_from_the_opening() -> None:
    assert check_no_success(STALE, HOURS, None, berlin(22, 12)).status == "not-due"
    assert check_no_success(STALE, HOURS, None, berlin(23, 19)).status == "not-due"
    assert check_no_success(STALE, HOURS, None, berlin(23, 8, 10)).status == "met"
    never = check_no_success(STALE, HOURS, None, berlin(23, 8, 40))
    assert never.status == "breached" and never.message.endswith("last success: never")


def test_without_business_hours_the_window_runs_around_the_clock() -> None:
    always = STALE.model_copy(update={"business_hours_only": False, "window": timedelta(hours=2)})
    assert check_no_success(always, None, berlin(22, 1), berlin(22, 2, 59)).status == "met"
    assert check_no_success(always, None, berlin(22, 1), berlin(22, 3)).status == "breached"
    assert check_no_success(always, None, None, berlin(22, 3)).message == (
        "no successful run of order-processing on record"
    )
    with pytest.raises(ValueError, match="counts business hours"):
        check_no_success(STALE, None, None, berlin(23, 9))


def test_done_by_is_due_from_the_deadline_and_met_by_a_success_since_midnight() -> None:
    assert check_done_by(OVERDUE, None, berlin(23, 8, 59)).status == "not-due"
    late = check_done_by(OVERDUE, berlin(20, 8, 5), berlin(23, 9, 0))
    assert late.status == "breached"
    assert late.message == (
        "inbound-verification-daily has not completed today by 09:00 Europe/Berlin (now 09:00); "
        "last success: Fri 2026-11-20 08:05 CET"
    )
    assert check_done_by(OVERDUE, berlin(23, 0, 1), berlin(23, 9, 30)).status == "met"
    assert check_done_by(OVERDUE, berlin(23, 9, 40), berlin(23, 11)).status == "met"  # late, but done
    assert check_done_by(OVERDUE, berlin(22, 23, 59), berlin(23, 9, 30)).status == "breached"


def test_done_by_is_not_due_on_other_days_and_reads_its_own_time_zone() -> None:
    saturday = check_done_by(OVERDUE, None, berlin(28, 10))
    assert saturday.status == "not-due" and "not due on sat" in saturday.message
    london = OVERDUE.model_copy(update={"timezone": "Europe/London"})
    assert check_done_by(london, None, berlin(23, 9, 30)).status == "not-due"  # 08:30 in London
    assert check_done_by(london, None, berlin(23, 10, 0)).status == "breached"


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        check_no_success(STALE, HOURS, None, datetime(2026, 11, 23, 9, 0))


def test_evaluate_reads_each_deployments_last_success_and_the_report_lists_them() -> None:
    now = berlin(23, 10)
    results = evaluate([STALE, OVERDUE], HOURS, {"order-processing": now - timedelta(minutes=5)}, now)
    assert [(r.alert, r.status) for r in results] == [
        ("order-processing-stale", "met"),
        ("inbound-overdue", "breached"),
    ]
    report = report_markdown(results, now, dry_run=True)
    assert report.startswith("# SLA check (dry run: no events emitted)\n\nAt 2026-11-23 09:00:00 UTC.")
    assert "| inbound-overdue | inbound-verification-daily | **breached** |" in report
    assert "(no SLA alerts configured)" in report_markdown([], now, dry_run=False)
