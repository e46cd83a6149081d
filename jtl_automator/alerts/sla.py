"""SLA decisions at one moment: is a deployment's last success too old, is today's run overdue?

Prefect's automations cannot say "only during business hours" or "by 09:00": their proactive triggers
count a fixed window around the clock. So a small scheduled flow (``flows/sla_check.py``) asks these
functions every few minutes and emits ``jtl-automator.sla.breached`` when one is breached; a plain
reactive automation turns that event into the e-mail and the webhook. Pure functions of the last
successful run and the time, so the rules are tested without a clock or a server.

``no-success`` counts from the later of the last success and today's opening: a run that last succeeded
on Friday evening is not "three days overdue" at 08:01 on Monday; the alert comes at 08:30 if nothing
succeeded since the opening. ``done-by`` wants a success since midnight (local) on the listed days, from
the deadline on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from jtl_automator.alerts.config import (
    DAY_NAMES,
    BusinessHours,
    DoneByAlert,
    NoSuccessAlert,
    SlaAlert,
    format_duration,
)

#: Event names the SLA check emits; the resource is ``jtl-automator.sla.<alert name>``.
BREACHED_EVENT = "jtl-automator.sla.breached"
RESOURCE_PREFIX = "jtl-automator.sla."

Status = Literal["breached", "met", "not-due"]


@dataclass(frozen=True)
class SlaResult:
    """One alert's verdict: ``not-due`` outside its hours or before its deadline."""

    alert: str
    kind: str
    deployment: str
    status: Status
    message: str
    last_success: datetime | None

    @property
    def resource_id(self) -> str:
        """The Prefect event resource of this SLA (what its automation matches)."""
        return f"{RESOURCE_PREFIX}{self.alert}"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("SLA times must carry a time zone")
    return moment


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") if moment else "never"


def _days(days: tuple[int, ...]) -> str:
    return ", ".join(DAY_NAMES[d] for d in days)


def in_business_hours(now: datetime, hours: BusinessHours) -> bool:
    """Whether ``now`` falls within the business hours (start inclusive, end exclusive)."""
    local = _aware(now).astimezone(ZoneInfo(hours.timezone))
    return local.weekday() in hours.days and hours.start <= local.time() < hours.end


def check_no_success(
    alert: NoSuccessAlert, hours: BusinessHours | None, last_success: datetime | None, now: datetime
) -> SlaResult:
    """``no-success``: breached when the time since the last success (within today's hours) ≥ window."""
    now = _aware(now)

    def result(status: Status, message: str) -> SlaResult:
        return SlaResult(alert.name, alert.kind, alert.deployment, status, message, last_success)

    if alert.business_hours_only:
        if hours is None:
            raise ValueError(f"alert {alert.name!r} counts business hours, but none are configured")
        zone = ZoneInfo(hours.timezone)
        if not in_business_hours(now, hours):
            return result(
                "not-due",
                f"outside business hours ({_days(hours.days)} {hours.start:%H:%M}-{hours.end:%H:%M} "
                f"{hours.timezone})",
            )
        local = now.astimezone(zone)
        opening = datetime.combine(local.date(), hours.start, tzinfo=zone)
        since = max(last_success, opening) if last_success is not None else opening
    else:
        zone = ZoneInfo("UTC")
        if last_success is None:
            return result("breached", f"no successful run of {alert.deployment} on record")
        since = last_success
    quiet = now - since
    last = _local(last_success, zone)
    if quiet >= alert.window:
        counted = " of business hours" if alert.business_hours_only else ""
        return result(
            "breached",
            f"no successful run of {alert.deployment} for {format_duration(_minutes(quiet))}{counted} "
            f"(allowed: {format_duration(alert.window)}); last success: {last}",
        )
    return result("met", f"last success: {last}")


def _minutes(value: timedelta) -> timedelta:
    return timedelta(minutes=int(value.total_seconds() // 60))


def check_done_by(alert: DoneByAlert, last_success: datetime | None, now: datetime) -> SlaResult:
    """``done-by``: breached from the deadline on when nothing succeeded since local midnight."""
    zone = ZoneInfo(alert.timezone)
    local = _aware(now).astimezone(zone)

    def result(status: Status, message: str) -> SlaResult:
        return SlaResult(alert.name, alert.kind, alert.deployment, status, message, last_success)

    if local.weekday() not in alert.days:
        return result("not-due", f"not due on {DAY_NAMES[local.weekday()]} (days: {_days(alert.days)})")
    midnight = datetime.combine(local.date(), datetime.min.time(), tzinfo=zone)
    done_today = last_success is not None and last_success >= midnight
    if done_today:
        return result("met", f"done today: {_local(last_success, zone)}")
    if local.time() < alert.deadline:
        return result("not-due", f"due by {alert.deadline:%H:%M} {alert.timezone}")
    return result(
        "breached",
        f"{alert.deployment} has not completed today by {alert.deadline:%H:%M} {alert.timezone} "
        f"(now {local:%H:%M}); last success: {_local(last_success, zone)}",
    )


def evaluate(
    alerts: list[SlaAlert],
    hours: BusinessHours | None,
    last_successes: dict[str, datetime | None],
    now: datetime,
) -> list[SlaResult]:
    """Every SLA alert's verdict; ``last_successes`` maps deployment name to its last Completed run end."""
    results = []
    for alert in alerts:
        last = last_successes.get(alert.deployment)
        if isinstance(alert, NoSuccessAlert):
            results.append(check_no_success(alert, hours, last, now))
        else:
            results.append(check_done_by(alert, last, now))
    return results


def report_markdown(results: list[SlaResult], now: datetime, *, dry_run: bool) -> str:
    """The SLA check's artifact: one row per alert."""
    lines = [
        f"# SLA check{' (dry run: no events emitted)' if dry_run else ''}",
        "",
        f"At {now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC.",
        "",
        "| Alert | Deployment | Status | Detail |",
        "|---|---|---|---|",
    ]
    for r in results:
        detail = r.message.replace("|", "\\|")
        lines.append(f"| {r.alert} | {r.deployment} | **{r.status}** | {detail} |")
    if not results:
        lines.append("| (no SLA alerts configured) | | | |")
    return "\n".join(lines) + "\n"
