"""The replenishment run, defined once: read -> lines -> draft plans -> workbook -> summary.

:func:`run_stages` says in which order the stages run and what a dry run skips; :class:`LocalStages` runs
them as plain calls (tests, CLI), ``tasks.replenishment.TaskStages`` as Prefect tasks (the flow).

A dry run reads everything, computes every line and still writes the workbook (a local file, which is
what one wants to look at before trusting the run), but creates and changes no plan.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.plans import PlanStore, iso_week
from jtl_automator.services.replenishment.output import (
    ProposedPlan,
    propose_restock_plans,
    summary_rows,
    workbook_tabs,
    write_workbook,
)
from jtl_automator.services.replenishment.reads import (
    ReplenishmentInputs,
    ReplenishmentRunParams,
    load_inputs,
    local_today,
)
from jtl_automator.services.replenishment.sheet import write_sheet
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.store import StateStore
from jtl_automator.transforms.replenishment import ORDER, SUFFICIENT, demand_frame, replenishment_lines

#: Columns of the run's table artifact and the CLI's list.
TABLE_COLUMNS = (
    "merchant_sku",
    "warehouse_id",
    "supplier_name",
    "status",
    "low_stock",
    "order_quantity",
    "cover_days",
    "daily_demand",
    "available",
    "on_order",
    "lead_time_days",
    "reason",
)


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def load(self) -> ReplenishmentInputs:
        """Both sides, read in bulk."""
        ...

    def compute(self, inputs: ReplenishmentInputs) -> pd.DataFrame:
        """Demand, then one decision per (SKU, warehouse) (pure)."""
        ...

    def propose(self, lines: pd.DataFrame) -> list[ProposedPlan]:
        """One draft restock plan per supplier."""
        ...

    def write(self, lines: pd.DataFrame, proposed: list[ProposedPlan]) -> Path:
        """The Bestellvorschlag workbook (supplier rows carry their plan's id)."""
        ...

    def write_sheet(self, lines: pd.DataFrame, proposed: list[ProposedPlan]) -> str | None:
        """The same tabs in the Google Sheet, when one is configured: its id, else None."""
        ...


def compute_lines(inputs: ReplenishmentInputs, params: ReplenishmentRunParams) -> pd.DataFrame:
    """The formula on the inputs' frames."""
    demand = demand_frame(inputs.order_lines, inputs.stockouts, inputs.window)
    return replenishment_lines(demand, inputs.stock, inputs.on_order, inputs.suppliers, params.formula)


def run_stages(
    stages: Stages, params: ReplenishmentRunParams, *, dry_run: bool, period: str
) -> dict[str, Any]:
    """The run; a dry run proposes no plan (the workbook is still written)."""
    inputs = stages.load()
    lines = stages.compute(inputs)
    proposed = [] if dry_run else stages.propose(lines)
    workbook = stages.write(lines, proposed)
    result = summary(inputs, lines, proposed, params, dry_run=dry_run, period=period, workbook=workbook)
    result["sheet"] = stages.write_sheet(lines, proposed)
    return result


def _value(value: Any) -> Any:
    """JSON-ready: NA and infinity become None, numpy scalars plain Python, floats rounded."""
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    return round(value, 2) if isinstance(value, float) else value


def table_rows(lines: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    """Low stock first (fewest days of cover first), then orders (most urgent first), then the rest."""
    rank = pd.Series(2, index=lines.index).mask(lines["status"] == ORDER, 1).mask(lines["low_stock"], 0)
    order = lines.assign(_rank=rank, _score=-lines["score"].fillna(-math.inf)).sort_values(
        ["_rank", "cover_days", "_score", "merchant_sku"], kind="stable"
    )
    order = order[order["status"] != SUFFICIENT].head(limit) if limit else order.iloc[0:0]
    return [{c: _value(r[c]) for c in TABLE_COLUMNS} for r in order.to_dict("records")]


def summary(
    inputs: ReplenishmentInputs,
    lines: pd.DataFrame,
    proposed: list[ProposedPlan],
    params: ReplenishmentRunParams,
    *,
    dry_run: bool,
    period: str,
    workbook: Path | None,
) -> dict[str, Any]:
    """Counts per status, the plans, the workbook and the tables the artifacts and the CLI show."""
    statuses = {str(k): int(v) for k, v in lines["status"].value_counts().sort_index().items()}
    return {
        "dry_run": dry_run,
        "period": period,
        "window": {"start": inputs.window.start.isoformat(), "end": inputs.window.end.isoformat()},
        "read": dict(inputs.counts),
        "demand": inputs.demand.describe(inputs.window),
        "lines": len(lines),
        "statuses": statuses,
        "low_stock": int(lines["low_stock"].sum()),
        "units_proposed": int(sum(p.units for p in proposed)),
        "plans": [asdict(p) for p in proposed],
        "plans_left_alone": [asdict(p) for p in proposed if p.skipped],
        "workbook": str(workbook) if workbook else None,
        "summary_rows": [{k: _value(v) for k, v in row.items()} for row in summary_rows(lines, proposed)],
        "table": table_rows(lines, params.table_rows),
        "notes": list(inputs.notes),
    }


def summary_markdown(result: dict[str, Any]) -> str:
    """The run in a few lines: window, statuses, plans, workbook, notes."""
    window = result["window"]
    lines = [
        f"# Replenishment {result['period']}{' (dry run: no plans written)' if result['dry_run'] else ''}",
        "",
        f"Demand from {window['start']} to {window['end']}; {result['lines']} lines, "
        f"{result['low_stock']} run out before a delivery can arrive.",
        "",
        *([result["demand"], ""] if result.get("demand") else []),
        "| status | lines |",
        "|---|---:|",
        *(f"| {k} | {v} |" for k, v in result["statuses"].items()),
        "",
    ]
    if result["plans"]:
        lines += ["| supplier | plan | lines | units | note |", "|---|---:|---:|---:|---|"]
        lines += [
            f"| {p['supplier_name']} | {p['plan_id']} | {p['lines']} | {p['units']} | {p['skipped'] or ''} |"
            for p in result["plans"]
        ]
        lines.append("")
    if result["workbook"]:
        lines.append(f"Workbook: `{result['workbook']}`")
    if result.get("sheet"):
        lines.append(f"Google Sheet: `{result['sheet']}`")
    lines += [f"- {note}" for note in result["notes"]]
    return "\n".join(lines)


def workbook_path(params: ReplenishmentRunParams, period: str, now: datetime, output: str | None) -> Path:
    """``output`` if given, else ``<output_dir>/bestellvorschlag-<date>.xlsx`` (one file per day)."""
    if output:
        return Path(output)
    return Path(params.output_dir) / f"bestellvorschlag-{local_today(now).isoformat()}.xlsx"


@dataclass
class LocalStages:
    """Every stage as a plain call in this process."""

    wawi: WawiClient
    ffn: FfnClient
    plans: PlanStore
    params: ReplenishmentRunParams
    period: str
    now: datetime
    output: Path
    run_id: str = "local"
    sheet: GoogleSheetsBackend | None = None

    def load(self) -> ReplenishmentInputs:
        """See :class:`Stages`."""
        return load_inputs(self.ffn, self.wawi, self.params, now=self.now, store=self.plans.store)

    def compute(self, inputs: ReplenishmentInputs) -> pd.DataFrame:
        """See :class:`Stages`."""
        return compute_lines(inputs, self.params)

    def propose(self, lines: pd.DataFrame) -> list[ProposedPlan]:
        """See :class:`Stages`."""
        return propose_restock_plans(lines, self.plans, self.period, created_by=self.run_id)

    def write(self, lines: pd.DataFrame, proposed: list[ProposedPlan]) -> Path:
        """See :class:`Stages`."""
        return write_workbook(lines, self.output, proposed)

    def write_sheet(self, lines: pd.DataFrame, proposed: list[ProposedPlan]) -> str | None:
        """See :class:`Stages`."""
        if self.sheet is None:
            return None
        write_sheet(self.sheet, workbook_tabs(lines, proposed))
        return self.sheet.spreadsheet_id


def run_replenishment(
    wawi: WawiClient,
    ffn: FfnClient,
    store: StateStore,
    params: ReplenishmentRunParams | None = None,
    *,
    dry_run: bool = False,
    output: str | None = None,
    now: datetime | None = None,
    run_id: str = "local",
    sheet: GoogleSheetsBackend | None = None,
) -> dict[str, Any]:
    """The whole run as the flow does it, without Prefect (tests, CLI)."""
    params = params or ReplenishmentRunParams()
    now = now or datetime.now(UTC)
    period = iso_week(local_today(now))
    started = time.perf_counter()
    path = workbook_path(params, period, now, output)
    stages = LocalStages(wawi, ffn, PlanStore(store), params, period, now, path, run_id, sheet)
    result = run_stages(stages, params, dry_run=dry_run, period=period)
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result
