"""Runs over their schedule: overrunning, overran, skipped by the concurrency limit; ad hoc runs not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jtl_automator.alerts.overrun import RunView, find_overruns, overruns_markdown

NOW = datetime(2026, 11, 30, 9, 13, tzinfo=UTC)


def run(
    name: str,
    state: str,
    expected: str,
    *,
    start: str | None = None,
    end: str | None = None,
    next_due: str | None = "auto",
    message: str | None = None,
) -> RunView:
    def at(hm: str | None) -> datetime | None:
        return None if hm is None else datetime.fromisoformat(f"2026-11-30T{hm}:00+00:00")

    due = at(expected)
    assert due is not None
    return RunView(
        deployment="order-processing",
        run_id=f"id-{name}",
        name=name,
        state_type=state,
        state_message=message,
        expected_start=due,
        start=at(start),
        end=at(end),
        next_due=due + timedelta(minutes=10) if next_due == "auto" else at(next_due),
    )


def test_a_run_still_going_past_its_next_schedule_is_overrunning() -> None:
    found = find_overruns([run("slow-okapi", "RUNNING", "09:00", start="09:00")], NOW)
    assert [(o.kind, o.name) for o in found] == [("overrunning", "slow-okapi")]
    assert (
        found[0].message == "started 09:00 UTC, still running after 13m, past its next schedule at 09:10 UTC"
    )


def test_a_run_still_inside_its_interval_is_fine() -> None:
    assert find_overruns([run("quick", "RUNNING", "09:10", start="09:10")], NOW) == []


def test_a_finished_run_that_ended_after_its_next_schedule_overran() -> None:
    found = find_overruns(
        [
            run("long", "COMPLETED", "08:40", start="08:40", end="08:52"),
            run("ok", "COMPLETED", "08:50", start="08:52", end="08:58"),
        ],
        NOW,
    )
    assert [(o.kind, o.name) for o in found] == [("overran", "long")]
    assert (
        "took 12m and ended 08:52 UTC, after its next schedule at 08:50 UTC (completed)" in found[0].message
    )


def test_a_due_run_cancelled_by_the_concurrency_limit_is_named_skipped() -> None:
    found = find_overruns(
        [
            run("next", "CANCELLED", "09:10", message="Deployment concurrency limit reached."),
            run("by-hand", "CANCELLED", "09:05", message="Cancelled by the operator"),
        ],
        NOW,
    )
    assert [(o.kind, o.name) for o in found] == [("skipped", "next")]
    assert "due 09:10 UTC was cancelled: the previous run was still going" in found[0].message


def test_runs_without_a_schedule_or_a_start_are_not_judged() -> None:
    assert find_overruns([run("ad-hoc", "RUNNING", "08:00", start="08:00", next_due=None)], NOW) == []
    assert find_overruns([run("never", "COMPLETED", "08:00", end="08:30")], NOW) == []


def test_findings_come_oldest_first_and_the_markdown_says_what_to_do() -> None:
    found = find_overruns(
        [
            run("skipped", "CANCELLED", "09:10", message="Deployment concurrency limit reached."),
            run("slow", "RUNNING", "09:00", start="09:00"),
        ],
        NOW,
    )
    assert [o.name for o in found] == ["slow", "skipped"]
    text = overruns_markdown(found, 60)
    assert "## Runs over their schedule (last 60 minutes)" in text
    assert "| order-processing | slow | **overrunning** |" in text
    assert "widen the schedule" in text
    assert "None: every scheduled run ended" in overruns_markdown([], 60)
