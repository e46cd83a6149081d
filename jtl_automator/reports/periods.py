"""Report periods: a Berlin day (``2026-11-24``), an ISO week (``2026-W47``) or a month (``2026-11``).

A period is a range of the merchant's calendar days; its instants are Berlin midnights, so a figure
"of the week" counts exactly the orders placed between Monday 00:00 and the next Monday 00:00 in Berlin,
whatever the daylight saving time. Each report runs for the last complete period by default (the daily
report at 07:00 for yesterday, the weekly one on Monday for last week, the monthly one on the 1st for
last month).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

#: The merchant's calendar.
TIMEZONE = ZoneInfo("Europe/Berlin")

PeriodKind = Literal["day", "week", "month"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("day", "week", "month")

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
#: The longest backfill one command accepts (a guard against a typo such as 2016 for 2026).
MAX_BACKFILL = 400


class PeriodError(ValueError):
    """A period that cannot be read, or one of the wrong kind for the report."""


@dataclass(frozen=True, order=True)
class Period:
    """A day, ISO week or month of the Berlin calendar: ``start`` and ``end`` are its first and last day."""

    start: date
    end: date
    kind: PeriodKind

    @property
    def label(self) -> str:
        """``2026-11-24``, ``2026-W47`` or ``2026-11``: the period's name in files, tabs and the history."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    def __str__(self) -> str:
        return self.label

    @property
    def days(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """``[first Berlin midnight, the Berlin midnight after the last day)`` as UTC instants."""
        return berlin_midnight(self.start), berlin_midnight(self.end + timedelta(days=1))

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return period_of(self.kind, self.start - timedelta(days=1))

    def next(self) -> Period:
        """The period of the same kind just after this one."""
        return period_of(self.kind, self.end + timedelta(days=1))

    def same_period_last_year(self) -> Period:
        """Last year's counterpart: the same ISO week (W52 for a W53), month, or weekday 52 weeks back."""
        if self.kind == "day":
            return period_of("day", self.start - timedelta(weeks=52))
        if self.kind == "month":
            return period_of("month", self.start.replace(year=self.start.year - 1))
        year, week, _ = self.start.isocalendar()
        last_week_of_year = date(year - 1, 12, 28).isocalendar()[1]
        return period_of("week", date.fromisocalendar(year - 1, min(week, last_week_of_year), 1))


def berlin_midnight(day: date) -> datetime:
    """The instant a Berlin day begins, in UTC."""
    return datetime.combine(day, time(), TIMEZONE).astimezone(UTC)


def berlin_day(moment: datetime) -> date:
    """The Berlin day of an instant (naive instants are UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(TIMEZONE).date()


def period_of(kind: PeriodKind, day: date) -> Period:
    """The period of ``kind`` that holds ``day``."""
    if kind == "day":
        return Period(day, day, "day")
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period(monday, monday + timedelta(days=6), "week")
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following - timedelta(days=1), "month")


def last_complete_period(kind: PeriodKind, now: datetime) -> Period:
    """The latest period of ``kind`` that ended before the Berlin day of ``now`` began."""
    return period_of(kind, berlin_day(now)).previous()


def parse_period(text: str, kind: PeriodKind | None = None) -> Period:
    """``2026-11-24``, ``2026-W47`` or ``2026-11``; ``kind`` set: a period of another kind is refused."""
    value = text.strip()
    found: Period | None = None
    try:
        if match := _WEEK.match(value):
            found = period_of("week", date.fromisocalendar(int(match[1]), int(match[2]), 1))
        elif match := _MONTH.match(value):
            found = period_of("month", date(int(match[1]), int(match[2]), 1))
        elif match := _DAY.match(value):
            found = period_of("day", date(int(match[1]), int(match[2]), int(match[3])))
    except ValueError:
        raise PeriodError(f"period {text!r} does not exist (no such day, week or month)") from None
    if found is None:
        raise PeriodError(f"period {text!r} is none of 2026-11-24 (day), 2026-W47 (week), 2026-11 (month)")
    if kind is not None and found.kind != kind:
        raise PeriodError(f"period {text!r} is a {found.kind}; this report runs per {kind}")
    return found


def period_range(first: Period, last: Period) -> list[Period]:
    """``first`` to ``last`` inclusive (the same kind, in order, at most :data:`MAX_BACKFILL`)."""
    if first.kind != last.kind:
        raise PeriodError(f"a range runs from a {first.kind} to a {last.kind}; give two of the same kind")
    if last < first:
        raise PeriodError(f"the range {first} .. {last} ends before it starts")
    periods = [first]
    while periods[-1] < last:
        periods.append(periods[-1].next())
        if len(periods) > MAX_BACKFILL:
            raise PeriodError(f"the range {first} .. {last} holds more than {MAX_BACKFILL} periods")
    return periods
