"""``add_items_to_plan``: which items go on a draft plan, how many units, from where to where, at what price.

Every figure comes from the flows' own rules, computed on the same reads (:mod:`.plan_data`):

- stock, goods on order, demand and cover per (SKU, warehouse) are the replenishment's
  (:func:`~jtl_automator.transforms.replenishment.demand_frame`, ``replenishment_lines``: available =
  level - reserved - blocked, on order = open inbounds, demand without out-of-stock days);
- the restock ``score`` strategy *is* the replenishment's reorder rule (reorder point, safety stock,
  order-up-to level, supplier minimums and packaging), with the step's cover target and service level;
- markdown prices are the pricing issue's :func:`~jtl_automator.transforms.markdown.markdown_frame` with the
  step's discount strategy, floor and caps, and its lines are the pricing run's own, so the pricing run
  executes an approved workflow markdown plan like its own.

Lines go on a draft plan only, keyed by SKU and warehouse (a rebalance's warehouse is ``FROM>TO``). A line
already on the plan is left as it is (``on_existing: keep``, the default) or replaced by the new figures
(``update``); the output says which lines were added, updated or already there, and which items were
left out and why. The step runs once per effect key: a retry or re-trigger adds nothing twice.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jtl_automator.limits import PLAN_LINE_KEY_MAX
from jtl_automator.plans import LineKey, NewLine, Plan, PlanNotEditable, PlanStatus, PlanStore, plan_kind
from jtl_automator.services.pricing.plans import markdown_lines
from jtl_automator.transforms.markdown import MARKDOWN, markdown_frame, markdown_reasons
from jtl_automator.transforms.pricing import MarkdownRules
from jtl_automator.transforms.replenishment import (
    INVALID_INPUT,
    ORDER,
    ReplenishmentParams,
    demand_frame,
    replenishment_lines,
)
from jtl_automator.workflows.actions import register_action
from jtl_automator.workflows.actions.base import ActionContext, StepResult
from jtl_automator.workflows.actions.effects import once
from jtl_automator.workflows.actions.plan import _blank_to_none
from jtl_automator.workflows.actions.plan_data import PlanData

LEDGER_KIND = "workflow_plan_lines"
#: Lines and skipped items listed in the output (the counts always cover all of them).
LISTED_LINES = 200
LISTED_SKIPPED = 50
#: Kinds whose lines move units out of stock (to the supplier): quantities are surplus, not shortfall.
OUTGOING = frozenset({"supplier_return", "supplier_exchange"})
#: A frame row as ``to_dict("records")`` gives it.
Row = Mapping[Any, Any]
KINDS = ("restock", "rebalance", "markdown", "supplier_return", "supplier_exchange")

# -- parameters ------------------------------------------------------------------------------------


class FixedQuantity(BaseModel):
    """The same number of units on every line (a return or transfer: at most what is available)."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["fixed"]
    quantity: int = Field(ge=1, le=1_000_000, description="Units per line.")


class FillToTarget(BaseModel):
    """Up to a target (restock, rebalance's receiver) or down to it (supplier return or exchange).

    The target is units, or days of cover at the item's demand in that warehouse. Restock fills the
    position (available + on order) up to it; a return sends what is available above it.
    """

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["fill_to_target"]
    target_units: float | None = Field(default=None, ge=0, description="Target stock in units.")
    target_cover_days: float | None = Field(
        default=None, gt=0, le=3650, description="Target stock in days of demand."
    )

    @model_validator(mode="after")
    def _one_target(self) -> FillToTarget:
        if (self.target_units is None) == (self.target_cover_days is None):
            raise ValueError("fill_to_target needs exactly one of target_units or target_cover_days")
        return self


class ScoreQuantity(BaseModel):
    """The replenishment's rule: restock below the reorder point up to cover, scored by urgency.

    For a supplier return or exchange: what is available above ``target_cover_days`` of cover, scored by
    the excess cover (items without demand first).
    """

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["score"]
    target_cover_days: float = Field(default=30, gt=0, le=3650, description="Days an order should cover.")
    service_level: float = Field(default=0.95, gt=0.5, lt=1, description="Chance of no stock-out.")
    review_period_days: float = Field(default=7, ge=0, description="Days until the next order can be placed.")
    default_lead_time_days: float | None = Field(
        default=14, gt=0, description="Lead time when neither supplier nor item names one."
    )

    def formula(self) -> ReplenishmentParams:
        """The replenishment's parameters."""
        return ReplenishmentParams(
            target_cover_days=self.target_cover_days,
            service_level=self.service_level,
            review_period_days=self.review_period_days,
            default_lead_time_days=self.default_lead_time_days,
        )


Quantity = Annotated[FixedQuantity | FillToTarget | ScoreQuantity, Field(discriminator="strategy")]


class Pair(BaseModel):
    """One transfer direction: units go from ``from`` to ``to``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from", min_length=1, max_length=PLAN_LINE_KEY_MAX)
    target: str = Field(alias="to", min_length=1, max_length=PLAN_LINE_KEY_MAX)

    @model_validator(mode="after")
    def _two(self) -> Pair:
        if self.source == self.target:
            raise ValueError(f"a transfer from {self.source} to itself")
        if ">" in self.source or ">" in self.target:
            raise ValueError("warehouse ids must not contain '>'")
        return self


class FixedPairs(BaseModel):
    """Transfers between named warehouses; the quantity strategy says how many units (fixed, to a target)."""

    model_config = ConfigDict(extra="forbid")

    matching: Literal["fixed_pairs"]
    pairs: list[Pair] = Field(min_length=1, description="[{from: W1, to: W2}, ...]")


class ScoreMatching(BaseModel):
    """Surplus to deficit by cover: warehouses above the target give, those below receive (lowest first)."""

    model_config = ConfigDict(extra="forbid")

    matching: Literal["score"]
    target_cover_days: float = Field(
        default=30, gt=0, le=3650, description="Cover each warehouse should have."
    )
    min_units: int = Field(default=1, ge=1, description="Smaller transfers are not proposed.")


Matching = Annotated[FixedPairs | ScoreMatching, Field(discriminator="matching")]


class AddItemsParams(BaseModel):
    """Which plan, which items and warehouses, and the strategy that fits the plan's kind."""

    model_config = ConfigDict(extra="forbid")

    plan_id: int | None = Field(
        default=None, description="The plan, usually {{ steps.<create_plan step>.plan_id }}."
    )
    kind: str | None = Field(
        default=None,
        description="The plan's kind: checked against the plan, and what a simulation uses when the "
        "plan does not exist yet.",
    )
    skus: list[str] | None = Field(
        default=None, description="The items (e.g. the trigger's SKU); none: every item the data knows."
    )
    sku_pattern: str | None = Field(default=None, description="Only SKUs matching this pattern (SAISON-*).")
    supplier: str | None = Field(
        default=None,
        description="Only items whose standard supplier has this Wawi id (the plan's by default).",
    )
    warehouses: Literal["all", "plan"] | list[str] = Field(
        default="plan",
        description="all, plan (the plan's scope warehouses; all when it names none) or a list of ids.",
    )
    below_stock: float | None = Field(
        default=None, ge=0, description="Only (SKU, warehouse) whose available units are below this."
    )
    quantity: Quantity | None = Field(
        default=None, description="restock, supplier return/exchange, rebalance with fixed pairs."
    )
    matching: Matching | None = Field(default=None, description="rebalance: fixed_pairs or score.")
    discount: MarkdownRules | None = Field(
        default=None,
        description="markdown: the pricing issue's markdown rules (strategy fixed/score/recommended, floor, "
        "caps, slow-mover thresholds).",
    )
    history_days: int = Field(default=90, ge=7, le=730, description="Days of demand history.")
    on_existing: Literal["keep", "update"] = Field(
        default="keep", description="A line already on the plan: keep it as it is, or update its figures."
    )
    max_lines: int = Field(
        default=10_000, ge=1, le=200_000, description="Refuse to add more lines than this."
    )

    @field_validator("plan_id", "kind", "supplier", "sku_pattern", "below_stock", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("supplier", mode="before")
    @classmethod
    def _supplier_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("skus", mode="before")
    @classmethod
    def _sku_list(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if isinstance(value, str):
            return [s.strip() for s in value.replace("\n", ",").split(",") if s.strip()]
        return value

    @field_validator("skus")
    @classmethod
    def _sku_texts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for sku in value:
            LineKey(sku)  # 1 to 255 characters, no surrounding spaces
        return list(dict.fromkeys(value))

    @field_validator("warehouses", mode="before")
    @classmethod
    def _warehouse_list(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None:
            return "plan"
        if isinstance(value, str) and value not in ("all", "plan"):
            return [w.strip() for w in value.split(",") if w.strip()]
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str | None) -> str | None:
        if value is not None and value not in KINDS:
            raise ValueError(f"kind {value!r}: add_items_to_plan fills {', '.join(KINDS)}")
        return value

    @model_validator(mode="after")
    def _strategy_fits(self) -> AddItemsParams:
        if self.plan_id is None and self.kind is None:
            raise ValueError("give plan_id (from a create_plan step) or at least the plan's kind")
        if self.kind is not None:
            self.check_for(self.kind)
        return self

    def check_for(self, kind: str) -> None:
        """The strategy this kind needs, and none it does not use; ValueError says which."""
        given = {"quantity": self.quantity, "matching": self.matching, "discount": self.discount}
        if kind == "markdown":
            need, allowed = "discount", {"discount"}
        elif kind == "rebalance":
            need = "matching"
            allowed = {"matching", "quantity"} if isinstance(self.matching, FixedPairs) else {"matching"}
            if isinstance(self.matching, FixedPairs) and self.quantity is None:
                raise ValueError("rebalance with fixed_pairs needs a quantity (fixed or fill_to_target)")
            if isinstance(self.quantity, ScoreQuantity):
                raise ValueError("rebalance takes matching: score for score-driven transfers, not quantity")
        else:
            need, allowed = "quantity", {"quantity"}
        if given[need] is None:
            raise ValueError(f"a {kind} plan needs {need}")
        extra = sorted(k for k, v in given.items() if v is not None and k not in allowed)
        if extra:
            raise ValueError(f"a {kind} plan does not use {', '.join(extra)}")


# -- computing the lines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    """An item (or item and warehouse) left out, and why."""

    sku: str
    warehouse: str
    reason: str


@dataclass
class Proposal:
    """The lines a step would put on the plan and what it left out."""

    lines: list[NewLine]
    skipped: list[Skipped]


def _num(value: Any) -> float:
    """A float from a frame cell (NA, None: NaN)."""
    if value is None or value is pd.NA:
        return math.nan
    return float(value)


def _fmt(value: float, decimals: int = 1) -> str:
    return (
        "∞"
        if math.isinf(value)
        else ("?" if math.isnan(value) else f"{value:.{decimals}f}".rstrip("0").rstrip("."))
    )


def stock_lines(data: PlanData, params: AddItemsParams) -> pd.DataFrame:
    """The replenishment's lines: one per (SKU, warehouse) with available, on order, demand and cover."""
    inputs = data.replenishment_inputs(params.history_days)
    formula = (
        params.quantity.formula() if isinstance(params.quantity, ScoreQuantity) else ReplenishmentParams()
    )
    demand = demand_frame(inputs.order_lines, inputs.stockouts, inputs.window)
    return replenishment_lines(demand, inputs.stock, inputs.on_order, inputs.suppliers, formula)


def _select(
    frame: pd.DataFrame, params: AddItemsParams, warehouses: list[str] | None, supplier: str | None
) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    skus = frame["merchant_sku"].astype(str)
    if params.skus is not None:
        keep &= skus.isin(params.skus).to_numpy()
    if params.sku_pattern is not None:
        pattern = params.sku_pattern
        keep &= np.array([fnmatch.fnmatchcase(s, pattern) for s in skus], dtype=bool)
    if warehouses is not None:
        keep &= frame["warehouse_id"].astype(str).isin(warehouses).to_numpy()
    if supplier is not None:
        ids = frame["supplier_id"].astype("string").fillna("")
        keep &= (ids == supplier).to_numpy()
    return frame[keep]


def _missing_skus(params: AddItemsParams, found: Iterable[str]) -> list[Skipped]:
    if params.skus is None:
        return []
    seen = set(found)
    return [
        Skipped(s, "", "no stock, demand or goods on order in the selected warehouses")
        for s in params.skus
        if s not in seen
    ]


def _target(q: FillToTarget, demand: float) -> float:
    return q.target_units if q.target_units is not None else demand * float(q.target_cover_days or 0)


def _figures(row: Row) -> dict[str, Any]:
    def finite(value: Any) -> float | None:
        number = _num(value)
        return round(number, 4) if math.isfinite(number) else None

    return {
        "available": finite(row["available"]),
        "on_order": finite(row["on_order"]),
        "daily_demand": finite(row["daily_demand"]),
        "cover_days": finite(row["cover_days"]),
    }


def _state_text(row: Row) -> str:
    return (
        f"available {_fmt(_num(row['available']), 2)}, on order {_fmt(_num(row['on_order']), 2)}, "
        f"demand {_fmt(_num(row['daily_demand']), 2)}/d, cover {_fmt(_num(row['cover_days']))} d"
    )


def restock_or_return(kind: str, frame: pd.DataFrame, params: AddItemsParams) -> Proposal:
    """Lines for a restock (units to buy) or a supplier return/exchange (units to send back)."""
    q = params.quantity
    assert q is not None
    lines: list[NewLine] = []
    skipped: list[Skipped] = []
    outgoing = kind in OUTGOING
    for row in frame.to_dict("records"):
        sku, wh = str(row["merchant_sku"]), str(row["warehouse_id"])
        if row["status"] == INVALID_INPUT:
            skipped.append(Skipped(sku, wh, str(row["reason"])))
            continue
        available, on_order, demand = _num(row["available"]), _num(row["on_order"]), _num(row["daily_demand"])
        if params.below_stock is not None and not available < params.below_stock:
            skipped.append(
                Skipped(sku, wh, f"available {_fmt(available, 2)} is not below {params.below_stock:g}")
            )
            continue
        state = _state_text(row)
        score: float | None = None
        details: dict[str, Any] = {"strategy": q.strategy, **_figures(row)}
        if isinstance(q, FixedQuantity):
            units = min(q.quantity, math.floor(available)) if outgoing else q.quantity
            reason = f"fixed {q.quantity} units; {state}"
        elif isinstance(q, FillToTarget) or (outgoing and isinstance(q, ScoreQuantity)):
            if isinstance(q, ScoreQuantity):
                target = demand * q.target_cover_days
                label = f"keep {q.target_cover_days:g} d of cover ({_fmt(target, 2)} units)"
                cover = _num(row["cover_days"])
                score = None if math.isinf(cover) else round(max(cover - q.target_cover_days, 0.0), 2)
                score = score if score is not None else 1e9  # no demand: everything is surplus, first
            else:
                target = _target(q, demand)
                label = (
                    f"target {q.target_units:g} units"
                    if q.target_units is not None
                    else f"target {q.target_cover_days:g} d of cover ({_fmt(target, 2)} units)"
                )
            details["target_units"] = round(target, 4)
            if outgoing:
                units = math.floor(available - target + 1e-9)
                reason = f"{label}: {_fmt(available - target, 2)} above it; {state}"
            else:
                units = math.ceil(target - (available + on_order) - 1e-9)
                reason = f"{label}: {_fmt(target - available - on_order, 2)} below it; {state}"
                if demand > 0:
                    score = round(max(units, 0) / demand, 2)
        else:  # the replenishment's rule
            if row["status"] != ORDER:
                skipped.append(Skipped(sku, wh, f"{row['status']}: {row['reason']}"))
                continue
            units = math.ceil(_num(row["order_quantity"]) - 1e-9)
            score = round(_num(row["score"]), 4)
            reason = str(row["reason"])
            details.update(
                reorder_point=round(_num(row["reorder_point"]), 4),
                order_up_to=round(_num(row["order_up_to"]), 4),
                lead_time_days=_num(row["lead_time_days"]),
                low_stock=bool(row["low_stock"]),
            )
        if units <= 0:
            why = "nothing available to send" if outgoing else "at or above the target"
            skipped.append(Skipped(sku, wh, f"{why}; {state}"))
            continue
        lines.append(
            NewLine(sku=sku, warehouse=wh, quantity=units, reason=reason, score=score, details=details)
        )
    return Proposal(lines, skipped)


def _pair_line(
    sku: str,
    source: Row,
    target: Row,
    units: int,
    reason: str,
    score: float | None,
    how: str,
) -> NewLine:
    src, dst = str(source["warehouse_id"]), str(target["warehouse_id"])
    return NewLine(
        sku=sku,
        warehouse=f"{src}>{dst}",
        quantity=units,
        reason=reason,
        score=score,
        details={
            "from_warehouse": src,
            "to_warehouse": dst,
            "strategy": how,
            "from": _figures(source),
            "to": _figures(target),
        },
    )


def rebalance(frame: pd.DataFrame, params: AddItemsParams) -> Proposal:
    """Transfers per SKU: along fixed pairs, or from surplus to deficit warehouses by cover."""
    lines: list[NewLine] = []
    skipped: list[Skipped] = []
    valid = frame[frame["status"] != INVALID_INPUT]
    for row in frame[frame["status"] == INVALID_INPUT].to_dict("records"):
        skipped.append(Skipped(str(row["merchant_sku"]), str(row["warehouse_id"]), str(row["reason"])))
    for sku, group in valid.groupby(valid["merchant_sku"].astype(str), sort=True):
        rows = {str(r["warehouse_id"]): r for r in group.to_dict("records")}
        if isinstance(params.matching, FixedPairs):
            proposal = _fixed_pairs(str(sku), rows, params)
        else:
            assert isinstance(params.matching, ScoreMatching)
            proposal = _score_pairs(str(sku), rows, params.matching, params.below_stock)
        lines.extend(proposal.lines)
        skipped.extend(proposal.skipped)
    return Proposal(lines, skipped)


def _fixed_pairs(sku: str, rows: Mapping[str, Row], params: AddItemsParams) -> Proposal:
    assert isinstance(params.matching, FixedPairs)
    q = params.quantity
    lines: list[NewLine] = []
    skipped: list[Skipped] = []
    for pair in params.matching.pairs:
        where = f"{pair.source}>{pair.target}"
        source, target = rows.get(pair.source), rows.get(pair.target)
        if source is None:
            skipped.append(Skipped(sku, where, f"no stock of it in {pair.source}"))
            continue
        if target is None:  # nothing known there: no stock, no demand
            target = {
                **source,
                "warehouse_id": pair.target,
                "available": 0.0,
                "on_order": 0.0,
                "daily_demand": 0.0,
                "cover_days": 0.0,
            }
        available = _num(source["available"])
        to_available = _num(target["available"])
        if params.below_stock is not None and not to_available < params.below_stock:
            skipped.append(
                Skipped(
                    sku, where, f"{pair.target} has {_fmt(to_available, 2)}, not below {params.below_stock:g}"
                )
            )
            continue
        if isinstance(q, FixedQuantity):
            units = min(q.quantity, math.floor(available))
            reason = f"fixed {q.quantity} units from {pair.source} ({_fmt(available, 2)} available)"
        else:
            assert isinstance(q, FillToTarget)
            need = _target(q, _num(target["daily_demand"])) - to_available - _num(target["on_order"])
            spare = available - _target(q, _num(source["daily_demand"]))
            units = math.floor(min(math.ceil(need - 1e-9), spare) + 1e-9)
            reason = (
                f"{pair.target} is {_fmt(need, 2)} below its target, "
                f"{pair.source} has {_fmt(spare, 2)} above its own"
            )
        if units <= 0:
            skipped.append(Skipped(sku, where, f"nothing to move: {reason}"))
            continue
        lines.append(_pair_line(sku, source, target, units, reason, None, "fixed_pairs"))
    return Proposal(lines, skipped)


def _score_pairs(sku: str, rows: Mapping[str, Row], matching: ScoreMatching, below: float | None) -> Proposal:
    days = matching.target_cover_days
    givers: list[tuple[float, str, float]] = []  # (-cover, warehouse, spare units)
    takers: list[tuple[float, str, float]] = []  # (cover, warehouse, needed units)
    for wh, row in rows.items():
        demand, available, on_order = _num(row["daily_demand"]), _num(row["available"]), _num(row["on_order"])
        cover = _num(row["cover_days"])
        want = demand * days
        if available > want + 1e-9:
            givers.append((-cover, wh, math.floor(available - want + 1e-9)))
        elif demand > 0 and available + on_order < want - 1e-9 and (below is None or available < below):
            takers.append((cover, wh, math.ceil(want - available - on_order - 1e-9)))
    givers.sort()
    takers.sort()
    lines: list[NewLine] = []
    skipped: list[Skipped] = []
    spare = {wh: units for _, wh, units in givers}
    for cover, wh, need in takers:
        for _, giver, _ in givers:
            if need <= 0:
                break
            units = min(need, spare[giver])
            if units < matching.min_units:
                continue
            spare[giver] -= units
            need -= units
            src, dst = rows[giver], rows[wh]
            reason = (
                f"{wh} covers {_fmt(cover)} d, {giver} {_fmt(_num(src['cover_days']))} d; target {days:g} d "
                f"({wh}: {_state_text(dst)})"
            )
            score = round(days - cover, 2) if math.isfinite(cover) else None
            lines.append(_pair_line(sku, src, dst, int(units), reason, score, "score"))
        if need > 0:
            skipped.append(
                Skipped(
                    sku, wh, f"{need} units short of {days:g} d of cover and no warehouse has them to spare"
                )
            )
    return Proposal(lines, skipped)


def markdowns(data: PlanData, params: AddItemsParams) -> Proposal:
    """The pricing issue's markdowns for the selected items, as its plan lines."""
    rules = params.discount
    assert rules is not None
    items = data.markdown_items(rules)
    frame = items.frame
    keep = np.ones(len(frame), dtype=bool)
    skus = frame["sku"].astype(str)
    if params.skus is not None:
        keep &= skus.isin(params.skus).to_numpy()
    if params.sku_pattern is not None:
        keep &= np.array([fnmatch.fnmatchcase(s, params.sku_pattern) for s in skus], dtype=bool)
    if params.below_stock is not None:
        keep &= (frame["stock"].fillna(0) < params.below_stock).to_numpy()
    chosen = frame[keep].reset_index(drop=True)
    result = markdown_frame(chosen, rules, srp_includes_vat=items.srp_includes_vat)
    reasons = markdown_reasons(result, rules) if len(result) else pd.Series([], dtype="string")
    marked = (result["status"] == MARKDOWN).to_numpy()
    skipped = [
        Skipped(str(r["sku"]), "", f"{r['status']}: {why}")
        for r, why in zip(result[~marked].to_dict("records"), reasons[~marked], strict=True)
    ]
    lines = markdown_lines(
        result[marked], [str(r) for r in reasons[marked]], rules.floor_pct, rules.floor_abs, rules.apply_as
    )
    missing = _missing_skus(params, chosen["sku"].astype(str))
    return Proposal(
        lines, skipped + [Skipped(s.sku, "", "not a Wawi item with a base price") for s in missing]
    )


def propose(
    kind: str, plan_warehouses: tuple[str, ...], supplier: str | None, data: PlanData, params: AddItemsParams
) -> Proposal:
    """The lines for a plan of ``kind`` and scope, from the data, by the step's strategy."""
    params.check_for(kind)
    if kind == "markdown":
        return markdowns(data, params)
    if params.warehouses == "all":
        warehouses: list[str] | None = None
    elif params.warehouses == "plan":
        warehouses = list(plan_warehouses) or None
    else:
        warehouses = list(params.warehouses)
    if kind == "rebalance" and isinstance(params.matching, FixedPairs):
        warehouses = None  # the pairs name the warehouses
    frame = _select(
        stock_lines(data, params),
        params,
        warehouses,
        params.supplier or (supplier if kind != "rebalance" else None),
    )
    proposal = rebalance(frame, params) if kind == "rebalance" else restock_or_return(kind, frame, params)
    proposal.skipped.extend(_missing_skus(params, frame["merchant_sku"].astype(str)))
    return proposal


# -- the action ------------------------------------------------------------------------------------


def _line_out(line: NewLine, state: str) -> dict[str, Any]:
    return {
        "sku": line.sku,
        "warehouse": line.warehouse,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price) if isinstance(line.unit_price, Decimal) else None,
        "score": line.score,
        "reason": line.reason,
        "state": state,
    }


def _output(
    plan_id: int | None, kind: str, states: list[tuple[NewLine, str]], skipped: list[Skipped]
) -> dict[str, Any]:
    counts = dict.fromkeys(("added", "updated", "already_there"), 0)
    for _, state in states:
        counts[state.removeprefix("would_")] = counts.get(state.removeprefix("would_"), 0) + 1
    return {
        "plan_id": plan_id,
        "kind": kind,
        **counts,
        "skipped": len(skipped),
        "units": sum(line.quantity for line, state in states if not state.endswith("already_there")),
        "lines": [_line_out(line, state) for line, state in states[:LISTED_LINES]],
        "lines_truncated": len(states) > LISTED_LINES,
        "skipped_items": [vars(s) for s in skipped[:LISTED_SKIPPED]],
    }


def _states(
    lines: list[NewLine], existing: set[LineKey], on_existing: str, prefix: str
) -> list[tuple[NewLine, str]]:
    states = []
    for line in lines:
        if line.key not in existing:
            states.append((line, f"{prefix}added"))
        elif on_existing == "update":
            states.append((line, f"{prefix}updated"))
        else:
            states.append((line, f"{prefix}already_there"))
    return states


def add_items_to_plan(params: AddItemsParams, ctx: ActionContext) -> StepResult:
    """Compute the lines and add them to the draft plan, once per effect key; a simulation only computes."""
    plans = PlanStore(ctx.store)
    plan: Plan | None = None
    if params.plan_id is not None:
        plan = plans.get(params.plan_id)
        if params.kind is not None and params.kind != plan.kind:
            raise ValueError(f"plan {plan.id} is a {plan.kind} plan, not {params.kind}")
    elif not ctx.simulate:
        raise ValueError("plan_id is empty: the create_plan step before this one gave no plan")
    kind = plan.kind if plan is not None else str(params.kind)
    plan_kind(kind)
    if kind not in KINDS:
        raise ValueError(
            f"plan {plan.id if plan else '?'} is a {kind} plan; add_items_to_plan fills {', '.join(KINDS)}"
        )
    warehouses = (
        plan.scope.warehouses
        if plan is not None
        else tuple(params.warehouses)
        if isinstance(params.warehouses, list)
        else ()
    )
    supplier = plan.scope.supplier if plan is not None else params.supplier
    data: PlanData = ctx.resource("plan_data")

    def compute() -> Proposal:
        proposal = propose(kind, warehouses, supplier, data, params)
        if len(proposal.lines) > params.max_lines:
            raise ValueError(
                f"{len(proposal.lines):,} lines is more than max_lines {params.max_lines:,}; "
                "narrow the items or raise max_lines"
            )
        return proposal

    if ctx.simulate:
        proposal = compute()
        existing = {line.key for line in plan.lines} if plan is not None else set()
        out = _output(
            plan.id if plan else None,
            kind,
            _states(proposal.lines, existing, params.on_existing, "would_"),
            proposal.skipped,
        )
        if plan is not None and plan.status is not PlanStatus.DRAFT:
            out["refused"] = f"plan {plan.id} is {plan.status.value}: lines are only added to a draft plan"
        where = plan.describe() if plan else f"the new {kind} plan"
        summary = f"would add {out['added']} line(s) ({out['units']} units) to {where}"
        return StepResult(output=out, summary=summary)

    assert plan is not None
    target = plan

    def do() -> tuple[dict[str, Any], str]:
        current = plans.get(target.id)
        if current.status is not PlanStatus.DRAFT:
            raise PlanNotEditable(
                current.id,
                current.status,
                "add lines to",
                "lines are only added to a draft plan; the next period gets a new one",
            )
        proposal = compute()
        existing = {line.key for line in current.lines}
        states = _states(proposal.lines, existing, params.on_existing, "")
        writes = [line for line, state in states if state != "already_there"]
        if writes:
            plans.add_lines(current.id, writes)
        out = _output(current.id, kind, states, proposal.skipped)
        return (
            out,
            f"{current.describe()}: {out['added']} added, {out['updated']} updated, "
            f"{out['already_there']} already there, {out['skipped']} skipped",
        )

    return once(ctx, LEDGER_KIND, do)


register_action(
    "add_items_to_plan",
    AddItemsParams,
    add_items_to_plan,
    "Put items on a draft plan with a quantity, transfer or discount strategy computed from live stock, "
    "demand, cover and prices; lines already there are kept (or updated).",
)
