"""What happened to each order in a run, counted and rendered for the run's artifacts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from jtl_automator.transforms.orders import summarise

COUNT_KEYS = (
    "created",
    "adopted",
    "held",
    "released",
    "failed",
    "shipped",
    "on_hold_wawi",
    "skipped_existing",
    "skipped_delivered",
    "writeback_failed",
    "outbound_cancelled",
    "outbound_readdressed",
    "change_alerted",
    "deferred",
)
#: Outcomes whose reason is shown to people (the artifact's table of orders that need a look).
REASONED_OUTCOMES = frozenset({"held", "failed", "on_hold_wawi", "change_alerted"})


@dataclass
class Outcome:
    """What happened to one order in this run (the summary counts these)."""

    order_number: str | None
    order_id: int | None
    outcome: str
    reason: str | None = None
    codes: tuple[str, ...] = ()
    warehouse_id: str | None = None
    outbound_id: str | None = None
    tracking: str | None = None


def outcomes_table(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """One row per outcome (an order may have two: released and created)."""
    return pd.DataFrame(
        {
            "order_id": pd.array([o.order_id for o in outcomes], dtype="Int64"),
            "order_number": pd.array([o.order_number for o in outcomes], dtype="string"),
            "outcome": pd.array([o.outcome for o in outcomes], dtype="string"),
            "reason": pd.array(
                [o.reason if o.outcome in REASONED_OUTCOMES else None for o in outcomes], dtype="string"
            ),
            "codes": [", ".join(o.codes) for o in outcomes],
        }
    )


def summary(outcomes: Sequence[Outcome], *, dry_run: bool = False, **extra: Any) -> dict[str, Any]:
    """Counts per outcome, held orders per reason code, and the held/failed orders themselves."""
    table = outcomes_table(outcomes)
    base = summarise(table)
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts.update(base["counts"])
    by_reason: Counter[str] = Counter()
    for o in outcomes:
        if o.outcome == "held":
            by_reason[o.codes[0] if o.codes else "unknown"] += 1
    codes = {o.order_number: ", ".join(o.codes) for o in outcomes if o.codes}
    held = [{**row, "codes": codes.get(row["order_number"], "")} for row in base["held"]]
    return {
        "counts": counts,
        "held_by_reason": dict(sorted(by_reason.items())),
        "held": held,
        "dry_run": dry_run,
        **extra,
    }


def skipped(reason: str, *, dry_run: bool, **extra: Any) -> dict[str, Any]:
    """The result of a run that did nothing (another run holds the lease)."""
    return {"skipped": reason, "counts": {}, "dry_run": dry_run, **extra}


def summary_markdown(result: Mapping[str, Any]) -> str:
    """The run's markdown artifact."""
    lines = ["# Order processing", ""]
    if result.get("dry_run"):
        lines += ["_Dry run: nothing was written (no Wawi change, no outbound, no ledger, no message)._", ""]
    if result.get("skipped"):
        return "\n".join([*lines, f"Skipped: {result['skipped']}"])
    if result.get("window_start"):
        lines += [f"Orders created since {result['window_start']}.", ""]
    handover = result.get("handed_over")
    if handover:
        lines += [f"**Handed over to the next run:** {handover['note']}", ""]
    lines += ["| outcome | orders |", "|---|---:|"]
    lines += [f"| {k} | {v:,} |" for k, v in result["counts"].items()]
    if result.get("held_by_reason"):
        lines += ["", "| held because | orders |", "|---|---:|"]
        lines += [f"| {k} | {v:,} |" for k, v in result["held_by_reason"].items()]
    held = result.get("held") or []
    if held:
        lines += [
            "",
            f"## Held or failed orders ({len(held):,})",
            "",
            "| order | outcome | reason |",
            "|---|---|---|",
        ]
        for row in held[:50]:
            reason = str(row.get("reason") or "").replace("|", "/")[:300]
            lines.append(f"| {row.get('order_number')} | {row.get('outcome')} | {reason} |")
        if len(held) > 50:
            lines.append(f"| … | | {len(held) - 50:,} more in the table artifact |")
    seconds = result.get("stage_seconds")
    if seconds:
        lines += ["", "| stage | seconds |", "|---|---:|"]
        lines += [f"| {stage} | {value:,.1f} |" for stage, value in seconds.items()]
    return "\n".join(lines)


def held_table(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of the table artifact of held and failed orders (one empty row when there are none)."""
    columns = ("order_number", "order_id", "outcome", "codes", "reason")
    rows = [{k: row.get(k) for k in columns} for row in result.get("held") or []]
    return rows or [dict.fromkeys(columns)]
