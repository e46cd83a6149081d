"""What the plan strategies read: stock, goods on order, demand, suppliers; prices for markdowns.

The strategies (``add_items_to_plan``) compute with the flows' own transforms (the replenishment's demand
and cover, the pricing's markdown), so they need those transforms' inputs and nothing else: this module
is the interface (:class:`PlanData`, ``resources["plan_data"]``), the live source that reads them the way
the flows do, and an in-memory source for tests and the demo.

:class:`LivePlanData` reads once per run and history window, whatever the number of steps asking: the
replenishment's :func:`~jtl_automator.services.replenishment.reads.load_inputs` (FFN stock, inbounds and
stock changes, demand from the order ledger and FFN outbounds, Wawi items and suppliers through the
item cache), and the pricing's reads for markdowns (Wawi items, prices, VAT; slow-mover stock and demand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import pandas as pd

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.services.replenishment.reads import (
    ReplenishmentInputs,
    ReplenishmentRunParams,
    load_inputs,
)
from jtl_automator.store import StateStore
from jtl_automator.transforms.markdown import MARKDOWN_INPUT_SCHEMA
from jtl_automator.transforms.pricing import MarkdownRules, PriceRule, PricingRules, RuleMatch
from jtl_automator.transforms.replenishment import DemandParams
from jtl_automator.transforms.validation import validate_frame


@dataclass(frozen=True)
class MarkdownItems:
    """The markdown transform's input rows, and whether suggested retail prices include VAT."""

    frame: pd.DataFrame
    srp_includes_vat: bool = True


class PlanData(Protocol):
    """The reads behind the plan strategies (``resources["plan_data"]``)."""

    def replenishment_inputs(self, history_days: int) -> ReplenishmentInputs:
        """Order lines, stock-outs, stock, goods on order and suppliers over ``history_days``."""
        ...

    def markdown_items(self, rules: MarkdownRules) -> MarkdownItems:
        """One row per item's base price with stock, demand and days since its last sale."""
        ...


@dataclass
class FramePlanData:
    """Plan data held in memory: the frames a test or the demo gives, in the transforms' schemas."""

    order_lines: pd.DataFrame
    stockouts: pd.DataFrame
    stock: pd.DataFrame
    on_order: pd.DataFrame
    suppliers: pd.DataFrame
    window: DemandParams
    markdown: pd.DataFrame | None = None
    srp_includes_vat: bool = True
    reads: list[str] = field(default_factory=list)

    def replenishment_inputs(self, history_days: int) -> ReplenishmentInputs:
        """The frames as given (the window is the test's, whatever ``history_days`` says)."""
        self.reads.append(f"replenishment:{history_days}")
        return ReplenishmentInputs(
            self.window, self.order_lines, self.stockouts, self.stock, self.on_order, self.suppliers
        )

    def markdown_items(self, rules: MarkdownRules) -> MarkdownItems:
        """The markdown rows as given."""
        self.reads.append("markdown")
        if self.markdown is None:
            raise LookupError("no markdown data in this plan data source")
        return MarkdownItems(validate_frame(MARKDOWN_INPUT_SCHEMA, self.markdown), self.srp_includes_vat)


#: With no pricing rules, a rule that no item fits: only the markdown's own floor and caps apply.
_NO_PRICE_RULE = PriceRule(
    name="workflow-markdown-only",
    match=RuleMatch(category="\x00 no category is named this"),
    strategy="cost_plus",
    markup_pct=0,
)


@dataclass
class LivePlanData:
    """Reads FFN, Wawi and the state store the way the replenishment and pricing flows do; once per run.

    ``pricing_rules``: the merchant's price rules, whose floors a markdown respects too (none: only the
    workflow's own floor). One instance serves one run: what it read is kept for the run's other steps.
    """

    ffn: FfnClient
    wawi: WawiClient
    store: StateStore | None
    now: datetime
    pricing_rules: PricingRules | None = None
    _inputs: dict[int, ReplenishmentInputs] = field(default_factory=dict, repr=False)
    _markdown: dict[str, MarkdownItems] = field(default_factory=dict, repr=False)

    def replenishment_inputs(self, history_days: int) -> ReplenishmentInputs:
        """The replenishment's reads for a window of ``history_days`` (kept for the run)."""
        if history_days not in self._inputs:
            params = ReplenishmentRunParams(history_days=history_days)
            self._inputs[history_days] = load_inputs(
                self.ffn, self.wawi, params, now=self.now, store=self.store
            )
        return self._inputs[history_days]

    def markdown_items(self, rules: MarkdownRules) -> MarkdownItems:
        """The pricing run's reads and rule floors, shaped as the markdown transform's input."""
        from jtl_automator.services.pricing.params import PricingParams
        from jtl_automator.services.pricing.pipeline import compute
        from jtl_automator.services.pricing.reads import load_price_inputs, markdown_input

        key = rules.model_dump_json()
        if key not in self._markdown:
            base = self.pricing_rules or PricingRules(rules=(_NO_PRICE_RULE,))
            pricing = base.model_copy(update={"markdown": rules})
            inputs = load_price_inputs(
                self.wawi, pricing, PricingParams(), now=self.now, store=self.store, ffn=self.ffn
            )
            computed = compute(inputs, pricing)
            frame = markdown_input(computed.prices, inputs, pricing)
            self._markdown[key] = MarkdownItems(frame, pricing.srp_includes_vat)
        return self._markdown[key]


__all__ = ["FramePlanData", "LivePlanData", "MarkdownItems", "PlanData"]
