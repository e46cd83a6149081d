"""Runs that outlast their schedule: still running (or finished) after the deployment's next due time.

Every deployment in ``prefect.yaml`` has a concurrency limit of 1 with ``CANCEL_NEW``: a run that is
still going when the next one is due makes Prefect cancel that next one ("Deployment concurrency limit
reached."), so two runs never overlap. That is safe, but quiet: the operator sees one long run and a
cancelled one among hundreds. The SLA check (``flows/sla_check.py``) reads the recent runs and names
them with these pure functions: a run **overrunning** (still going past its next due time), a run that
**overran** (ended after it) and a due run **skipped** because the one before was still going.

The next due time comes from the deployment's own schedules (the task computes it with Prefect's
schedule objects), so an ad hoc run never counts as "the next schedule".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from jtl_automator.alerts.config import format_duration

#: The state message Prefect gives a run cancelled by a full deployment concurrency limit.
CONCURRENCY_CANCEL_MESSAGE = "Deployment concurrency limit reached"

OverrunKind = Literal["overrunning", "overran", "skipped"]


@dataclass(frozen=True)
class RunView:
    """What the check needs of one flow run of a scheduled deployment (times aware, UTC or not)."""

    deployment: str
    run_id: str
    name: str
    state_type: str  # Prefect's StateType value: RUNNING, COMPLETED, CANCELLED, ...
    state_message: str | None
    expected_start: datetime | None
    start: datetime | None
    end: datetime | None
    #: The deployment's first schedule time after ``expected_start`` (None: no active schedule).
    next_due: datetime | None


@dataclass(frozen=True)
class Overrun:
    """One finding: which run, what happened, in one sentence for the artifact and the log."""

    kind: OverrunKind
    deployment: str
    run_id: str
    name: str
    message: str


def _hm(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%H:%M} UTC"


def _minutes(start: datetime, end: datetime) -> str:
    """How long, to the minute past the first (``12m``, ``1h5m``, ``45s``)."""
    seconds = int((end - start).total_seconds())
    return format_duration(timedelta(seconds=seconds if seconds < 60 else seconds - seconds % 60))


def find_overruns(runs: list[RunView], now: datetime) -> list[Overrun]:
    """The runs that outlasted their schedule and the due runs skipped for it, by due time."""
    found: list[tuple[datetime, Overrun]] = []
    for run in runs:
        began = run.start or run.expected_start
        if run.state_type == "CANCELLED" and (run.state_message or "").startswith(CONCURRENCY_CANCEL_MESSAGE):
            due = run.expected_start
            found.append(
                (
                    due or now,
                    Overrun(
                        "skipped",
                        run.deployment,
                        run.run_id,
                        run.name,
                        f"the run due {_hm(due) if due else 'now'} was cancelled: the previous run was "
                        "still going (concurrency limit 1)",
                    ),
                )
            )
            continue
        if began is None or run.next_due is None:
            continue
        if run.state_type in ("RUNNING", "CANCELLING") and now > run.next_due:
            found.append(
                (
                    run.expected_start or began,
                    Overrun(
                        "overrunning",
                        run.deployment,
                        run.run_id,
                        run.name,
                        f"started {_hm(began)}, still running after {_minutes(began, now)}, past its next "
                        f"schedule at {_hm(run.next_due)}",
                    ),
                )
            )
        elif run.end is not None and run.end > run.next_due and run.start is not None:
            found.append(
                (
                    run.expected_start or began,
                    Overrun(
                        "overran",
                        run.deployment,
                        run.run_id,
                        run.name,
                        f"started {_hm(began)}, took {_minutes(run.start, run.end)} and ended "
                        f"{_hm(run.end)}, after its next schedule at {_hm(run.next_due)} "
                        f"({run.state_type.lower()})",
                    ),
                )
            )
    return [o for _, o in sorted(found, key=lambda pair: pair[0])]


def overruns_markdown(overruns: list[Overrun], lookback_minutes: int) -> str:
    """The artifact's section: one row per finding, or one line saying none."""
    lines = ["", f"## Runs over their schedule (last {lookback_minutes} minutes)", ""]
    if not overruns:
        lines.append("None: every scheduled run ended before the next was due.")
        return "\n".join(lines) + "\n"
    lines += ["| Deployment | Run | What | Detail |", "|---|---|---|---|"]
    for o in overruns:
        detail = o.message.replace("|", "\\|")
        lines.append(f"| {o.deployment} | {o.name} | **{o.kind}** | {detail} |")
    lines += [
        "",
        "A run that cannot finish before its next schedule makes Prefect cancel the next one (the "
        "deployments' concurrency limit is 1): nothing overlaps, but the work waits a whole interval. "
        "Order processing hands its rest over on its own (its time budget); for the others, shorten the "
        "run (smaller batches, an incremental mode) or widen the schedule.",
    ]
    return "\n".join(lines) + "\n"


__all__ = [
    "CONCURRENCY_CANCEL_MESSAGE",
    "Overrun",
    "RunView",
    "find_overruns",
    "overruns_markdown",
]
