"""What a drain did, for a person: one line for the CLI and logs, a markdown artifact for the Prefect UI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jtl_automator.gateway.drain import DrainReport, event_name


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = int((moment - now).total_seconds())
    return f"{moment.isoformat(timespec='seconds')} (in {seconds} s)" if seconds >= 0 else moment.isoformat()


def drain_summary(report: DrainReport, now: datetime) -> dict[str, Any]:
    """The drain as plain data with a one-line ``message``."""
    if report.dry_run:
        shown = len(report.would_deliver)
        message = f"dry run: {shown} event(s) would be delivered ({report.remaining} pending)"
    elif report.busy:
        message = f"another drainer is at work; {report.remaining} event(s) pending"
    elif report.error:
        message = (
            f"delivered {len(report.delivered)}, {report.remaining} pending: Prefect did not take the "
            f"oldest after {report.attempts} attempt(s) ({report.error}); "
            f"next try {_when(report.next_attempt_at, now)}"
        )
    else:
        message = f"delivered {len(report.delivered)} event(s); {report.remaining} pending"
    return {
        "message": message,
        "delivered": len(report.delivered),
        "remaining": report.remaining,
        "error": report.error,
        "attempts": report.attempts,
        "next_attempt_at": report.next_attempt_at.isoformat() if report.next_attempt_at else None,
        "busy": report.busy,
        "dry_run": report.dry_run,
    }


def drain_markdown(report: DrainReport, now: datetime, *, rows: int = 50) -> str:
    """Summary line, then the (first) events delivered or, in a dry run, those that would be."""
    lines = ["# Gateway drain", "", drain_summary(report, now)["message"], ""]
    shown = report.would_deliver if report.dry_run else report.delivered
    if shown:
        lines += ["| # | source | event | sender's id | received |", "|---|---|---|---|---|"]
        for event in shown[:rows]:
            lines.append(
                f"| {event.id} | {event.source} | {event_name(event)} | {event.event_id} "
                f"| {event.received_at.isoformat(timespec='seconds')} |"
            )
        if len(shown) > rows:
            lines.append(f"| … | {len(shown) - rows} more | | | |")
    return "\n".join(lines) + "\n"
