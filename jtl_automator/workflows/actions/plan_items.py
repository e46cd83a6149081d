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
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jtl_automator.limits import PLAN_LINE_KEY_MAX
from jtl_automator.plans import LineKey, NewLine, Plan, PlanNotEditable, PlanStatus, PlanStore, plan_kind
from jtl_automator.services.pricing.plans import markdown_lines
from jtl_automator.transforms.markdown import MARKDOWN, TOO_SMALL, markdown_frame, markdown_reasons
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
_EPS = 1e-9
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
    sku_pattern: str | None = Field(
        default=None, max_length=PLAN_LINE_KEY_MAX, description="Only SKUs matching this pattern (SAISON-*)."
    )
    supplier: str | None = Field(
        default=None,
        max_length=PLAN_LINE_KEY_MAX,
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
#
# Column arithmetic on the replenishment's frame; Python runs only per line proposed (up to max_lines)
# and per left-out example listed, never per item looked at, so 100,000 items cost a second or two.


@dataclass(frozen=True)
class Skipped:
    """An item (or item and warehouse) left out, and why."""

    sku: str
    warehouse: str
    reason: str


@dataclass
class Proposal:
    """The lines a step would put on the plan; how many items it left out and why (with examples)."""

    lines: list[NewLine] = field(default_factory=list)
    examples: list[Skipped] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, sku: str, warehouse: str, why: str, detail: str = "") -> None:
        """One left out."""
        self.skipped[why] += 1
        if len(self.examples) < LISTED_SKIPPED:
            self.examples.append(Skipped(sku, warehouse, f"{why}; {detail}" if detail else why))

    def skip_many(self, skus: list[str], warehouse: str, why: str) -> None:
        """Several SKUs left out for one reason (only the first ones listed)."""
        if not skus:
            return
        self.skipped[why] += len(skus)
        room = max(LISTED_SKIPPED - len(self.examples), 0)
        self.examples.extend(Skipped(sku, warehouse, why) for sku in skus[:room])

    def skip_rows(
        self, frame: pd.DataFrame, mask: np.ndarray, why: str, detail: Callable[[Row], str] | None = None
    ) -> None:
        """The rows of ``frame`` under ``mask`` left out for one reason (details for the listed ones only)."""
        count = int(mask.sum())
        if not count:
            return
        self.skipped[why] += count
        room = LISTED_SKIPPED - len(self.examples)
        if room > 0:
            for row in frame[mask].head(room).to_dict("records"):
                text = f"{why}; {detail(row)}" if detail else why
                self.examples.append(Skipped(str(row["merchant_sku"]), str(row["warehouse_id"]), text))


def _num(value: Any) -> float:
    """A float from a frame cell (NA, None: NaN)."""
    if value is None or value is pd.NA:
        return math.nan
    return float(value)


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    values: np.ndarray = frame[name].to_numpy(dtype="float64", na_value=np.nan)
    return values


def _fmt(value: float, decimals: int = 1) -> str:
    if math.isinf(value):
        return "∞"
    if math.isnan(value):
        return "?"
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


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
        keep &= np.fromiter((fnmatch.fnmatchcase(s, pattern) for s in skus), dtype=bool, count=len(skus))
    if warehouses is not None:
        keep &= frame["warehouse_id"].astype(str).isin(warehouses).to_numpy()
    if supplier is not None:
        ids = frame["supplier_id"].astype("string").fillna("")
        keep &= (ids == supplier).to_numpy()
    return frame[keep].reset_index(drop=True)


def _missing_skus(params: AddItemsParams, found: Iterable[str], proposal: Proposal, why: str) -> None:
    if params.skus is None:
        return
    seen = set(found)
    proposal.skip_many([sku for sku in params.skus if sku not in seen], "", why)


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


def _check_size(count: int, params: AddItemsParams) -> None:
    if count > params.max_lines:
        raise ValueError(
            f"{count:,} lines is more than max_lines {params.max_lines:,}; "
            "narrow the items or raise max_lines"
        )


def _target_label(q: FillToTarget | ScoreQuantity, target: float) -> str:
    if isinstance(q, FillToTarget) and q.target_units is not None:
        return f"target {q.target_units:g} units"
    return f"target {q.target_cover_days:g} d of cover ({_fmt(target, 2)} units)"


def restock_or_return(kind: str, frame: pd.DataFrame, params: AddItemsParams) -> Proposal:
    """Lines for a restock (units to buy) or a supplier return/exchange (units to send back)."""
    q = params.quantity
    assert q is not None
    proposal = Proposal()
    outgoing = kind in OUTGOING
    bad = (frame["status"] == INVALID_INPUT).to_numpy(dtype=bool)
    proposal.skip_rows(frame, bad, "invalid input", lambda r: str(r["reason"]))
    frame = frame[~bad].reset_index(drop=True)
    if params.below_stock is not None:
        high = ~(_col(frame, "available") < params.below_stock)
        proposal.skip_rows(frame, high, f"available not below {params.below_stock:g}", _state_text)
        frame = frame[~high].reset_index(drop=True)
    available, on_order = _col(frame, "available"), _col(frame, "on_order")
    demand, cover = _col(frame, "daily_demand"), _col(frame, "cover_days")
    n = len(frame)
    target = np.full(n, np.nan)
    score = np.full(n, np.nan)
    if isinstance(q, FixedQuantity):
        units = np.minimum(q.quantity, np.floor(available)) if outgoing else np.full(n, float(q.quantity))
    elif isinstance(q, FillToTarget) or outgoing:
        assert isinstance(q, FillToTarget | ScoreQuantity)
        days = q.target_cover_days if q.target_cover_days is not None else 0.0
        target = (
            np.full(n, q.target_units)
            if isinstance(q, FillToTarget) and q.target_units is not None
            else demand * days
        )
        if outgoing:
            units = np.floor(available - target + _EPS)
            if isinstance(q, ScoreQuantity):  # the excess cover; no demand at all: first to go
                score = np.where(np.isinf(cover), 1e9, np.round(np.maximum(cover - days, 0.0), 2))
        else:
            units = np.ceil(target - available - on_order - _EPS)
            with np.errstate(divide="ignore", invalid="ignore"):
                score = np.where(demand > 0, np.round(np.maximum(units, 0) / demand, 2), np.nan)
    else:  # the replenishment's own rule
        due = (frame["status"] == ORDER).to_numpy(dtype=bool)
        proposal.skip_rows(frame, ~due, "not due", lambda r: f"{r['status']}: {r['reason']}")
        units = np.where(due, np.ceil(np.nan_to_num(_col(frame, "order_quantity")) - _EPS), 0.0)
        score = np.round(_col(frame, "score"), 4)
        due_rows = due
    none = ~(units > 0)
    if not (isinstance(q, ScoreQuantity) and not outgoing):
        why = "nothing available to send" if outgoing else "at or above the target"
        proposal.skip_rows(frame, none, why, _state_text)
    else:
        proposal.skip_rows(frame, none & due_rows, "at or above the target", _state_text)
    keep = np.flatnonzero(~none)
    _check_size(len(keep), params)
    for i, row in zip(keep.tolist(), frame.iloc[keep].to_dict("records"), strict=True):
        details: dict[str, Any] = {"strategy": q.strategy, **_figures(row)}
        state = _state_text(row)
        if isinstance(q, FixedQuantity):
            reason = f"fixed {q.quantity} units; {state}"
        elif isinstance(q, FillToTarget) or outgoing:
            assert isinstance(q, FillToTarget | ScoreQuantity)
            gap = available[i] - target[i] if outgoing else target[i] - available[i] - on_order[i]
            side = "above" if outgoing else "below"
            reason = f"{_target_label(q, target[i])}: {_fmt(gap, 2)} {side} it; {state}"
            details["target_units"] = round(float(target[i]), 4)
        else:
            reason = str(row["reason"])
            details.update(
                reorder_point=round(_num(row["reorder_point"]), 4),
                order_up_to=round(_num(row["order_up_to"]), 4),
                lead_time_days=_num(row["lead_time_days"]),
                low_stock=bool(row["low_stock"]),
            )
        proposal.lines.append(
            NewLine(
                sku=str(row["merchant_sku"]),
                warehouse=str(row["warehouse_id"]),
                quantity=int(units[i]),
                reason=reason,
                score=None if math.isnan(score[i]) else float(score[i]),
                details=details,
            )
        )
    return proposal


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
    proposal = Proposal()
    bad = (frame["status"] == INVALID_INPUT).to_numpy(dtype=bool)
    proposal.skip_rows(frame, bad, "invalid input", lambda r: str(r["reason"]))
    frame = frame[~bad].reset_index(drop=True)
    if isinstance(params.matching, FixedPairs):
        _fixed_pairs(frame, params, proposal)
    else:
        assert isinstance(params.matching, ScoreMatching)
        _score_pairs(frame, params.matching, params.below_stock, params, proposal)
    return proposal


_EMPTY_SIDE = {"available": 0.0, "on_order": 0.0, "daily_demand": 0.0, "cover_days": 0.0}


def _fixed_pairs(frame: pd.DataFrame, params: AddItemsParams, proposal: Proposal) -> None:
    assert isinstance(params.matching, FixedPairs)
    q = params.quantity
    assert isinstance(q, FixedQuantity | FillToTarget)
    warehouse = frame["warehouse_id"].astype(str)
    planned: list[tuple[Row, Row, int, str]] = []
    for pair in params.matching.pairs:
        where = f"{pair.source}>{pair.target}"
        source = frame[(warehouse == pair.source).to_numpy()].reset_index(drop=True)
        skus = source["merchant_sku"].astype(str)
        receivers = frame[(warehouse == pair.target).to_numpy()]
        target = (
            receivers.set_index(receivers["merchant_sku"].astype(str)).reindex(skus).reset_index(drop=True)
        )
        for name, value in _EMPTY_SIDE.items():  # nothing known there: no stock, no demand
            target[name] = target[name].astype("float64").fillna(value)
        target["merchant_sku"] = skus.to_numpy()
        target["warehouse_id"] = pair.target
        known = set(frame["merchant_sku"].astype(str)) | set(params.skus or ())
        proposal.skip_many(sorted(known - set(skus)), where, f"no stock of it in {pair.source}")
        available, to_available = _col(source, "available"), _col(target, "available")
        named = source.assign(warehouse_id=where)
        if params.below_stock is not None:
            high = ~(to_available < params.below_stock)
            proposal.skip_rows(named, high, f"{pair.target} not below {params.below_stock:g}", _state_text)
        else:
            high = np.zeros(len(source), dtype=bool)
        if isinstance(q, FixedQuantity):
            units = np.minimum(q.quantity, np.floor(available))
            need = spare = np.full(len(source), np.nan)
        else:
            days = q.target_cover_days or 0.0
            to_target = (
                np.full(len(source), q.target_units)
                if q.target_units is not None
                else _col(target, "daily_demand") * days
            )
            from_target = (
                np.full(len(source), q.target_units)
                if q.target_units is not None
                else _col(source, "daily_demand") * days
            )
            need = to_target - to_available - _col(target, "on_order")
            spare = available - from_target
            units = np.floor(np.minimum(np.ceil(need - _EPS), spare) + _EPS)
        empty = ~(units > 0) & ~high
        proposal.skip_rows(named, empty, "nothing to move", _state_text)
        keep = np.flatnonzero((units > 0) & ~high)
        sources = source.iloc[keep].to_dict("records")
        targets = target.iloc[keep].to_dict("records")
        for i, src, dst in zip(keep.tolist(), sources, targets, strict=True):
            if isinstance(q, FixedQuantity):
                reason = f"fixed {q.quantity} units from {pair.source} ({_fmt(available[i], 2)} available)"
            else:
                reason = (
                    f"{pair.target} is {_fmt(need[i], 2)} below its target, "
                    f"{pair.source} has {_fmt(spare[i], 2)} above its own"
                )
            planned.append((src, dst, int(units[i]), reason))
    _check_size(len(planned), params)
    for giver, taker, count, why in planned:
        proposal.lines.append(
            _pair_line(str(giver["merchant_sku"]), giver, taker, count, why, None, "fixed_pairs")
        )


def _score_pairs(
    frame: pd.DataFrame,
    matching: ScoreMatching,
    below: float | None,
    params: AddItemsParams,
    proposal: Proposal,
) -> None:
    days = matching.target_cover_days
    available, on_order = _col(frame, "available"), _col(frame, "on_order")
    demand, cover = _col(frame, "daily_demand"), _col(frame, "cover_days")
    want = demand * days
    spare = np.where(available > want + _EPS, np.floor(available - want + _EPS), 0.0)
    short = (demand > 0) & (available + on_order < want - _EPS)
    if below is not None:
        short &= available < below
    need = np.where(short, np.ceil(want - available - on_order - _EPS), 0.0)
    codes, _ = pd.factorize(frame["merchant_sku"].astype(str))
    n_skus = int(codes.max(initial=-1)) + 1
    gives = np.bincount(codes, weights=spare, minlength=n_skus) > 0
    takes = np.bincount(codes, weights=need, minlength=n_skus) > 0
    both = gives & takes
    alone = (need > 0) & ~both[codes]
    proposal.skip_rows(
        frame.assign(_need=need),
        alone,
        "short of the cover target, and no other warehouse has units to spare",
        lambda r: f"{int(r['_need'])} units short of {days:g} d; {_state_text(r)}",
    )
    rows = np.flatnonzero(both[codes] & ((spare > 0) | (need > 0)))
    # per SKU: takers lowest cover first, givers highest cover first
    order = rows[
        np.lexsort((np.where(need[rows] > 0, cover[rows], -cover[rows]), need[rows] > 0, codes[rows]))
    ]
    records = frame.iloc[order].to_dict("records")
    planned: list[tuple[Row, Row, int, float]] = []
    start = 0
    while start < len(order):
        end = start
        while end < len(order) and codes[order[end]] == codes[order[start]]:
            end += 1
        givers = [(k, float(spare[order[k]])) for k in range(start, end) if spare[order[k]] > 0]
        left = dict(givers)
        for k in range(start, end):
            still = float(need[order[k]])
            if still <= 0:
                continue
            for g, _ in givers:
                units = min(still, left[g])
                if still <= 0 or units < matching.min_units:
                    continue
                left[g] -= units
                still -= units
                planned.append((records[g - 0], records[k], int(units), float(cover[order[k]])))
            if still > 0:
                proposal.skip(
                    str(records[k]["merchant_sku"]),
                    str(records[k]["warehouse_id"]),
                    "short of the cover target after the transfers",
                    f"{int(still)} units short of {days:g} d of cover; {_state_text(records[k])}",
                )
        start = end
    _check_size(len(planned), params)
    for src, dst, units_, to_cover in planned:
        reason = (
            f"{dst['warehouse_id']} covers {_fmt(to_cover)} d, {src['warehouse_id']} "
            f"{_fmt(_num(src['cover_days']))} d; target {days:g} d "
            f"({dst['warehouse_id']}: {_state_text(dst)})"
        )
        score = round(days - to_cover, 2) if math.isfinite(to_cover) else None
        proposal.lines.append(_pair_line(str(src["merchant_sku"]), src, dst, units_, reason, score, "score"))


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
        pattern = params.sku_pattern
        keep &= np.fromiter((fnmatch.fnmatchcase(s, pattern) for s in skus), dtype=bool, count=len(skus))
    if params.below_stock is not None:
        keep &= (frame["stock"].fillna(0) < params.below_stock).to_numpy()
    chosen = frame[keep].reset_index(drop=True)
    result = markdown_frame(chosen, rules, srp_includes_vat=items.srp_includes_vat)
    status = result["status"].astype(str).to_numpy()
    marked = status == MARKDOWN
    _check_size(int(marked.sum()), params)
    proposal = Proposal()
    # the reasons in words only where a person reads them: the lines and the listed examples
    worded = marked | (status == TOO_SMALL)
    reasons = pd.Series(result["status"].astype(str).to_numpy(), index=result.index, dtype="string")
    listed = np.flatnonzero(~marked)[:LISTED_SKIPPED]
    need_words = worded.copy()
    need_words[~marked] = False
    need_words[listed] = worded[listed]
    if need_words.any():
        reasons[need_words] = markdown_reasons(result[need_words], rules)
    problems = result["problem"].astype("string").fillna("")
    for i in np.flatnonzero(~marked).tolist():
        why = str(status[i])
        detail = str(problems.iloc[i]) or (str(reasons.iloc[i]) if i in set(listed.tolist()) else "")
        proposal.skip(str(result["sku"].iloc[i]), "", why, detail if detail != why else "")
    proposal.lines.extend(
        markdown_lines(
            result[marked],
            [str(r) for r in reasons[marked]],
            rules.floor_pct,
            rules.floor_abs,
            rules.apply_as,
        )
    )
    _missing_skus(params, chosen["sku"].astype(str), proposal, "not a Wawi item with a base price")
    return proposal


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
    if not (kind == "rebalance" and isinstance(params.matching, FixedPairs)):
        _missing_skus(
            params,
            frame["merchant_sku"].astype(str),
            proposal,
            "no stock, demand or goods on order in the selected warehouses",
        )
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
    plan_id: int | None, kind: str, states: list[tuple[NewLine, str]], proposal: Proposal
) -> dict[str, Any]:
    counts = dict.fromkeys(("added", "updated", "already_there"), 0)
    for _, state in states:
        counts[state.removeprefix("would_")] += 1
    return {
        "plan_id": plan_id,
        "kind": kind,
        **counts,
        "skipped": sum(proposal.skipped.values()),
        "skipped_reasons": dict(proposal.skipped.most_common()),
        "units": sum(line.quantity for line, state in states if not state.endswith("already_there")),
        "lines": [_line_out(line, state) for line, state in states[:LISTED_LINES]],
        "lines_truncated": len(states) > LISTED_LINES,
        "skipped_items": [vars(s) for s in proposal.examples[:LISTED_SKIPPED]],
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
        return propose(kind, warehouses, supplier, data, params)

    if ctx.simulate:
        proposal = compute()
        existing = {line.key for line in plan.lines} if plan is not None else set()
        out = _output(
            plan.id if plan else None,
            kind,
            _states(proposal.lines, existing, params.on_existing, "would_"),
            proposal,
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
        out = _output(current.id, kind, states, proposal)
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
