"""Housekeeping: the journals of the state database kept to their configured age.

Defaults are chosen from what reads the journals: the monthly report compares with the same month a
year before (order events 400 days), the inbound verification's "missing since" looks back weeks, not
seasons (180 days), KPI trends are read over three years (1,100 days), and a gateway event has done
its work once delivered and read by the workflows (90 days). Each can be set per
deployment; 0 keeps a journal for ever. See docs/housekeeping.md.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from jtl_automator.store import StateStore
from jtl_automator.store.retention import JOURNALS, Pruned, count_older, prune, table_sizes


class RetentionParams(BaseModel):
    """Keep-ages in days per journal (0 = keep for ever), the batch size, and an optional archive folder."""

    order_events_days: int = Field(400, ge=0, description="Events of closed orders older than this go.")
    inbound_checks_days: int = Field(180, ge=0, description="Inbound check results older than this go.")
    kpi_history_days: int = Field(1100, ge=0, description="KPI figures of periods ending before this go.")
    gateway_events_days: int = Field(
        90, ge=0, description="Gateway events delivered to Prefect before this go (undelivered ones stay)."
    )
    gateway_rate_counts_days: int = Field(
        1, ge=0, description="The gateway's rate-limit counts of windows that ended before this go."
    )
    shop_sync_incidents_days: int = Field(
        90, ge=0, description="Shop sync incidents cleared before this go (open ones stay)."
    )
    batch_size: int = Field(5000, ge=1, le=100_000, description="Rows per delete transaction.")
    archive_dir: str | None = Field(
        None, description="Write pruned rows here first (gzip JSON lines per journal); none: just delete."
    )

    def keep_days(self) -> dict[str, int]:
        """Keep-age per journal name."""
        return {
            "order_events": self.order_events_days,
            "inbound_checks": self.inbound_checks_days,
            "kpi_history": self.kpi_history_days,
            "gateway_events": self.gateway_events_days,
            "gateway_rate_counts": self.gateway_rate_counts_days,
            "shop_sync_incidents": self.shop_sync_incidents_days,
        }


def run_housekeeping(
    store: StateStore, params: RetentionParams, now: datetime, *, dry_run: bool, run_id: str
) -> dict[str, Any]:
    """Prune (or, dry, count) each journal past its age; the result lists each journal and the table sizes."""
    archive = Path(params.archive_dir) if params.archive_dir else None
    journals: list[dict[str, Any]] = []
    for name, days in params.keep_days().items():
        journal = JOURNALS[name]
        if days == 0:
            journals.append({"journal": name, "keep_days": 0, "cutoff": None, "older": 0, "deleted": 0})
            continue
        cutoff = now - timedelta(days=days)
        if dry_run:
            outcome = Pruned(name, cutoff, count_older(store, journal, cutoff), 0, None)
        else:
            tag = "".join(ch for ch in run_id if ch.isalnum())[:12] or "run"
            outcome = prune(
                store, journal, cutoff, batch_size=params.batch_size, archive_dir=archive, tag=tag
            )
        row = asdict(outcome)
        row["cutoff"] = outcome.cutoff.isoformat()
        row["keep_days"] = days
        journals.append(row)
    return {"dry_run": dry_run, "journals": journals, "tables": table_sizes(store)}


def housekeeping_markdown(result: dict[str, Any]) -> str:
    """The artifact: what left (or would leave) the database, and what it holds now."""
    verb = "would remove" if result["dry_run"] else "removed"
    total = sum(j["older"] if result["dry_run"] else j["deleted"] for j in result["journals"])
    lines = [
        f"# Housekeeping{' (dry run)' if result['dry_run'] else ''}",
        "",
        f"**{verb} {total:,} journal rows.** The order ledger, plans, prices and the side-effect ledger are "
        "never pruned.",
        "",
        "| journal | kept for | cut-off | older rows | removed | archive |",
        "|---|---:|---|---:|---:|---|",
    ]
    for j in result["journals"]:
        kept = "for ever" if not j["keep_days"] else f"{j['keep_days']} days"
        cutoff, archive = (j["cutoff"] or "—")[:10], j.get("archive") or "—"
        lines.append(
            f"| {j['journal']} | {kept} | {cutoff} | {j['older']:,} | {j['deleted']:,} | {archive} |"
        )
    lines += ["", "| table | rows now |", "|---|---:|"]
    lines += [f"| {name} | {rows:,} |" for name, rows in result["tables"].items()]
    return "\n".join(lines) + "\n"


__all__ = ["RetentionParams", "housekeeping_markdown", "run_housekeeping"]
