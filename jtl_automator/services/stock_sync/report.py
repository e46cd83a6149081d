"""Stage 4: what the run decided and did, as a summary, tables and Prefect artifacts' markdown."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd

from jtl_automator.services.stock_sync.apply import Outcome
from jtl_automator.transforms.stock_sync import ADJUST, IN_SYNC, adjustments

_ROW_FIELDS = (
    "ffn_warehouse_id",
    "wawi_warehouse_id",
    "merchant_sku",
    "item_id",
    "target",
    "current",
    "delta",
)


def _records(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict[str, Any]]:
    """JSON-ready rows: pandas NA becomes None, whole floats stay floats."""
    out = frame[list(fields)].astype(object).where(frame[list(fields)].notna(), None)
    ids = {name for name in fields if name.endswith("_id") and name != "ffn_warehouse_id"}
    return [
        {str(k): (int(v) if k in ids and v is not None else v) for k, v in record.items()}
        for record in out.to_dict("records")
    ]


def summary(
    plan: pd.DataFrame,
    outcomes: Sequence[Outcome],
    settled: Sequence[Outcome],
    *,
    mode: str,
    dry_run: bool,
    notes: Sequence[str],
    largest: int,
    watermark: str | None,
) -> dict[str, Any]:
    """Counts per decision and per outcome, and the tables the artifacts and the CLI show."""
    todo = adjustments(plan)
    problems = plan[~plan["status"].isin([ADJUST, IN_SYNC])]
    return {
        "mode": mode,
        "dry_run": dry_run,
        "decisions": dict(Counter(plan["status"])),
        "outcomes": dict(Counter(o.result for o in outcomes)),
        "settled_from_earlier_runs": dict(Counter(o.result for o in settled)),
        "units_added": float(todo.loc[todo["delta"] > 0, "delta"].sum()),
        "units_removed": float(-todo.loc[todo["delta"] < 0, "delta"].sum()),
        "adjustments": _records(todo, [*_ROW_FIELDS, "version"]),
        "largest_deltas": _records(todo.head(largest), _ROW_FIELDS),
        "not_touched": _records(problems, ["ffn_warehouse_id", "merchant_sku", "status", "reason"]),
        "unknown_skus": sorted(set(plan.loc[plan["status"] == "unknown_sku", "merchant_sku"])),
        "failed": [asdict(o) for o in outcomes if o.result not in ("applied", "already_applied")],
        "notes": list(notes),
        "watermark": watermark,
    }


def summary_markdown(result: dict[str, Any]) -> str:
    """The run in a few lines: mode, decisions, outcomes, notes."""
    lines = [
        f"# Stock sync ({result['mode']}{', dry run' if result['dry_run'] else ''})",
        "",
        "| decision | rows |",
        "|---|---:|",
        *(f"| {k} | {v} |" for k, v in sorted(result["decisions"].items())),
        "",
        "| outcome | adjustments |",
        "|---|---:|",
        *(f"| {k} | {v} |" for k, v in sorted(result["outcomes"].items())),
        "",
        f"Units added {result['units_added']:g}, removed {result['units_removed']:g}.",
    ]
    lines += [f"- {note}" for note in result["notes"]]
    return "\n".join(lines)


def skipped(reason: str, *, dry_run: bool, **extra: Any) -> dict[str, Any]:
    """A run that did nothing (another run holds the lease)."""
    return {"skipped": reason, "dry_run": dry_run, **extra}
