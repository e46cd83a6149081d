"""The pricing run, defined once: settle -> approved plans -> read -> price -> write -> propose -> workbook.

:func:`run_stages` says in which order the stages run and what a dry run skips; :class:`LocalStages` runs
them as plain calls (tests, benchmark), ``tasks.pricing.TaskStages`` as Prefect tasks (the flow). With
base-price rules only (``streams``) read, price and write are one stage (:func:`price_pages`): each item
page is priced as it is read and its writes go out while the next pages are read, so no write waits for
the last page or for pricing every item.

A dry run reads and prices everything and writes the workbook (a local file: what the rules would do),
but takes no lease, settles nothing, executes no plan, writes no price, proposes no plan and keeps no
history. (It refreshes the Wawi item cache like every listing does: a copy of what Wawi says.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.plans import PlanStore
from jtl_automator.services.pricing.output import (
    CHANGE_COLUMNS,
    MARKDOWN_COLUMNS,
    by_change,
    not_priced_frame,
    outcome_counts,
    records,
    status_counts,
    write_workbook,
)
from jtl_automator.services.pricing.params import (
    LEASE_NAME,
    MARKDOWN,
    PRICE_CHANGE,
    PricingParams,
)
from jtl_automator.services.pricing.plans import (
    ExecutedPlan,
    ProposedPlan,
    SpecialPriceSetup,
    execute_approved_plans,
    markdown_lines,
    price_change_lines,
    propose,
)
from jtl_automator.services.pricing.reads import (
    SPECIAL_PRICE,
    PriceInputs,
    load_price_inputs,
    markdown_input,
    stream_price_inputs,
    streams,
)
from jtl_automator.services.pricing.write import (
    FAILED,
    PriceWrite,
    WriteContext,
    WriteOutcome,
    settle_pending,
    write_one,
    write_prices,
)
from jtl_automator.services.replenishment.reads import local_today
from jtl_automator.services.write_pool import WritePool
from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from jtl_automator.transforms.markdown import MARKDOWN as MARKED_DOWN
from jtl_automator.transforms.markdown import TOO_SMALL, markdown_frame, markdown_reasons
from jtl_automator.transforms.pricing import (
    APPLY,
    BASE_PRICE,
    NEEDS_APPROVAL,
    UNCHANGED,
    PricingRules,
    price_frame,
    price_reasons,
)

LEASE_HELD = "another run holds the pricing lease"


@dataclass
class Computed:
    """One run's decisions: every price row (with ``reason``), the markdowns, the rows held back."""

    prices: pd.DataFrame
    markdowns: pd.DataFrame | None
    held_rows: pd.DataFrame
    inputs: PriceInputs


def priced(rows: pd.DataFrame, rules: PricingRules) -> pd.DataFrame:
    """``price_frame`` over ``rows`` with the reasons people read (row by row: pages may be priced apart)."""
    prices = price_frame(rows.reset_index(drop=True), rules)
    readable = (prices["status"] != UNCHANGED).to_numpy()
    reasons = pd.Series("", index=prices.index, dtype="string")
    if readable.any():
        reasons[readable] = price_reasons(prices[readable])
    return prices.assign(reason=reasons)


def compute(inputs: PriceInputs, rules: PricingRules) -> Computed:
    """``price_frame`` over the rows no markdown holds, the markdowns, and the reasons people read."""
    held_mask = inputs.items["item_id"].isin(list(inputs.held)).to_numpy()
    prices = priced(inputs.items[~held_mask], rules)
    markdowns = None
    if rules.markdown is not None and inputs.slow is not None:
        markdowns = markdown_frame(
            markdown_input(prices, inputs, rules), rules.markdown, srp_includes_vat=rules.srp_includes_vat
        )
        worded = markdowns["status"].isin([MARKED_DOWN, TOO_SMALL]).to_numpy()
        words = markdowns["status"].astype("string").copy()
        if worded.any():
            words[worded] = markdown_reasons(markdowns[worded], rules.markdown)
        markdowns = markdowns.assign(reason=words)
    return Computed(prices, markdowns, inputs.items[held_mask], inputs)


def _waits(markdowns: pd.DataFrame, rules: PricingRules) -> pd.Series:
    """Markdowns that wait for a person (all of them unless the rule file lets small ones through)."""
    assert rules.markdown is not None
    threshold = rules.markdown.approval_threshold_pct
    proposed = markdowns["status"] == MARKED_DOWN
    if threshold is None:
        return proposed & False
    return proposed & (markdowns["discount_pct"] > threshold)


def rule_writes(computed: Computed, run_id: str) -> list[PriceWrite]:
    """What the rules apply now: every ``apply`` row, an absolute net price each."""
    return price_writes(computed.prices, run_id)


def price_writes(prices: pd.DataFrame, run_id: str) -> list[PriceWrite]:
    """The ``apply`` rows of priced rows as writes (see :func:`rule_writes`)."""
    rows = prices[prices["status"] == APPLY]
    return [
        PriceWrite(
            key=f"price:{run_id}:{row['item_id']}:{row['target']}",
            item_id=int(row["item_id"]),
            sku=str(row["sku"]),
            target=str(row["target"]),
            after=float(row["new_price"]),
            before=None if pd.isna(row["current_price"]) else float(row["current_price"]),
            reason=str(row["reason"]),
            rule=str(row["rule"]),
        )
        for row in rows.to_dict("records")
    ]


def markdown_writes(computed: Computed, rules: PricingRules, run_id: str, now: datetime) -> list[PriceWrite]:
    """Markdowns small enough to pass without approval (``approval_threshold_pct``), written now."""
    md, markdowns = rules.markdown, computed.markdowns
    if md is None or markdowns is None:
        return []
    rows = markdowns[(markdowns["status"] == MARKED_DOWN) & ~_waits(markdowns, rules)]
    special = md.apply_as == "special_price"
    inputs = computed.inputs
    pairs = tuple((c, g) for c in inputs.special_channels for g in inputs.customer_groups)
    if special and not pairs:
        return []
    start = now.replace(microsecond=0)
    return [
        PriceWrite(
            key=f"markdown:{run_id}:{row['item_id']}",
            item_id=int(row["item_id"]),
            sku=str(row["sku"]),
            target=SPECIAL_PRICE if special else BASE_PRICE,
            after=float(row["new_price"]),
            before=float(row["current_price"]),
            reason=str(row["reason"]),
            rule=md.strategy,
            source=MARKDOWN,
            starts_at=start if special else None,
            ends_at=start + timedelta(days=md.duration_days) if special else None,
            special=pairs if special else (),
        )
        for row in rows.to_dict("records")
    ]


def proposals(
    computed: Computed, rules: PricingRules, plans: PlanStore, period: str, run_id: str
) -> list[ProposedPlan]:
    """The day's price-change plan and markdown plan (see ``plans``)."""
    found: list[ProposedPlan] = []
    waiting = computed.prices[computed.prices["status"] == NEEDS_APPROVAL]
    floors = {rule.name: (rule.floor_pct, rule.floor_abs) for rule in rules.rules}
    changed = propose(
        plans, PRICE_CHANGE, period, price_change_lines(waiting, list(waiting["reason"]), floors), run_id
    )
    if changed is not None:
        found.append(changed)
    if rules.markdown is not None and computed.markdowns is not None:
        md = rules.markdown
        rows = computed.markdowns[_waits(computed.markdowns, rules)]
        lines = markdown_lines(rows, list(rows["reason"]), md.floor_pct, md.floor_abs, md.apply_as)
        marked = propose(plans, MARKDOWN, period, lines, run_id)
        if marked is not None:
            found.append(marked)
    return found


def summary(
    computed: Computed,
    rules: PricingRules,
    params: PricingParams,
    *,
    dry_run: bool,
    settled: list[WriteOutcome],
    executed: list[ExecutedPlan],
    outcomes: list[WriteOutcome],
    proposed: list[ProposedPlan],
    workbook: Path | None,
) -> dict[str, Any]:
    """The result of a run (returned by the flow, printed by the CLI, the artifacts' source)."""
    prices = computed.prices
    shown = by_change(prices[prices["status"].isin([APPLY, NEEDS_APPROVAL])])
    result: dict[str, Any] = {
        "dry_run": dry_run,
        "statuses": status_counts(prices),
        "held": len(computed.held_rows),
        "writes": outcome_counts(outcomes),
        "settled": [o.row() for o in settled],
        "executed_plans": [e.row() for e in executed],
        "plans": [p.row() for p in proposed],
        "changes": records(shown, {**CHANGE_COLUMNS, "Status": "status"}, params.table_rows),
        "failed": [o.row() for o in outcomes if o.result == FAILED]
        + [o.row() for e in executed for o in e.outcomes if o.result in (FAILED, "skipped")],
        "counts": computed.inputs.counts,
        "notes": computed.inputs.notes,
        "workbook": str(workbook) if workbook is not None else None,
    }
    if computed.markdowns is not None and rules.markdown is not None:
        proposed_md = computed.markdowns[computed.markdowns["status"] == MARKED_DOWN].sort_values(
            ["discount_pct", "sku"], ascending=[False, True]
        )
        result["markdowns"] = status_counts(computed.markdowns)
        result["markdown_strategy"] = rules.markdown.strategy
        result["markdown_lines"] = records(
            proposed_md, {**MARKDOWN_COLUMNS, "Before (net)": "current_price"}, params.table_rows
        )
        if computed.inputs.slow is not None:
            result["demand"] = computed.inputs.slow.demand
    return result


def skipped(reason: str, *, dry_run: bool, lease_owner: str | None = None) -> dict[str, Any]:
    """The result of a run that did nothing (another run holds the lease)."""
    return {"skipped": reason, "dry_run": dry_run, "lease_owner": lease_owner}


@dataclass
class Streamed:
    """A run whose item pages were priced and written as they were read: its decisions and writes."""

    computed: Computed
    outcomes: list[WriteOutcome]


def price_pages(
    wawi: WawiClient,
    store: StateStore | None,
    rules: PricingRules,
    params: PricingParams,
    *,
    now: datetime,
    run_id: str,
    ctx: WriteContext | None,
) -> Streamed:
    """Base-price rules (``streams``): each item page priced as it is read, its writes sent at once.

    No write waits for the last item page or for pricing every item: ``params.workers`` writes are in
    progress while the next pages are read and priced (the Wawi client's limits hold both). The
    decisions, the writes and their order are those of reading, pricing and writing one after the other.
    ``ctx`` None (a dry run) writes nothing. A transient failure stops the run: nothing queued is sent.
    """
    pieces: list[pd.DataFrame] = []
    pool: WritePool[PriceWrite, WriteOutcome] | None = None
    if ctx is not None:
        pool = WritePool(partial(write_one, ctx), max(1, params.workers), "price-write")

    def on_rows(rows: pd.DataFrame) -> None:
        prices = priced(rows, rules)
        pieces.append(prices)
        if pool is not None:  # an earlier write's failure (transient, a lost lease) is raised: no page more
            pool.submit_all(price_writes(prices, run_id))

    try:
        inputs = stream_price_inputs(wawi, rules, params, on_rows, now=now, store=store)
        outcomes = pool.results() if pool is not None else []
    finally:  # after a failure nothing queued is sent; the writes in flight finish
        if pool is not None:
            pool.close()
    held_mask = inputs.items["item_id"].isin(list(inputs.held)).to_numpy()
    prices = pd.concat(pieces, ignore_index=True) if pieces else priced(inputs.items[~held_mask], rules)
    return Streamed(Computed(prices, None, inputs.items[held_mask], inputs), outcomes)


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def acquire_lease(self) -> LeaseInfo | None:
        """None once the lease is ours, else who holds it."""
        ...

    def release_lease(self) -> None:
        """Give the lease back (also after a failure)."""
        ...

    def settle(self) -> list[WriteOutcome]:
        """Writes an earlier run left between call and record."""
        ...

    def execute_plans(self) -> list[ExecutedPlan]:
        """Approved price-change and markdown plans, written once."""
        ...

    def load(self) -> PriceInputs:
        """Wawi's prices (and FFN's stock and demand for markdowns), in bulk."""
        ...

    def compute(self, inputs: PriceInputs) -> Computed:
        """Every price row's decision and the markdowns (pure)."""
        ...

    def write(self, computed: Computed) -> list[WriteOutcome]:
        """The rules' changes (and small markdowns), each once, each in the history."""
        ...

    def price_and_write(self, *, dry_run: bool) -> Streamed:
        """Base-price rules: read, price and write page by page (``price_pages``)."""
        ...

    def propose(self, computed: Computed) -> list[ProposedPlan]:
        """The changes above the threshold and the markdowns as the day's draft plans."""
        ...

    def write_workbook(self, computed: Computed) -> Path | None:
        """The workbook of the run's decisions."""
        ...


def run_stages(
    stages: Stages, rules: PricingRules, params: PricingParams, *, dry_run: bool
) -> dict[str, Any]:
    """The run (see the module docstring for what a dry run skips)."""
    holder = None if dry_run else stages.acquire_lease()
    if holder is not None:
        return skipped(f"{LEASE_HELD} ({holder.owner})", dry_run=dry_run, lease_owner=holder.owner)
    try:
        settled = [] if dry_run else stages.settle()
        executed = [] if dry_run else stages.execute_plans()
        if streams(rules):  # base-price rules: each page priced and written as it is read
            streamed = stages.price_and_write(dry_run=dry_run)
            computed, outcomes = streamed.computed, streamed.outcomes
        else:  # channel prices, suppliers, markdowns: every read first, then price, then write
            inputs = stages.load()
            computed = stages.compute(inputs)
            outcomes = [] if dry_run else stages.write(computed)
        proposed = [] if dry_run else stages.propose(computed)
        workbook = stages.write_workbook(computed)
    finally:
        if not dry_run:
            stages.release_lease()
    return summary(
        computed,
        rules,
        params,
        dry_run=dry_run,
        settled=settled,
        executed=executed,
        outcomes=outcomes,
        proposed=proposed,
        workbook=workbook,
    )


def lease_keeper(store: StateStore, params: PricingParams, run_id: str) -> LeaseKeeper:
    """The run's lease: two pricing runs never interleave their writes and plan executions."""
    return LeaseKeeper.for_run(
        store,
        LEASE_NAME,
        run_id,
        ttl_seconds=params.lease_ttl_seconds,
        heartbeat_seconds=params.lease_heartbeat_seconds,
    )


def period_of(now: datetime) -> str:
    """The plans' period: the run's date in Berlin (one draft per kind and day)."""
    return local_today(now).isoformat()


def workbook_path(params: PricingParams, now: datetime, output: str | None) -> Path:
    """``output``, else ``<output_dir>/pricing-<date>.xlsx``."""
    return Path(output) if output else Path(params.output_dir) / f"pricing-{period_of(now)}.xlsx"


def read_special_setup(wawi: WawiClient, rules: PricingRules) -> SpecialPriceSetup:
    """The channels that take special prices and the customer groups (two requests), for plan execution."""
    md = rules.markdown
    if md is None or md.apply_as != "special_price":
        return SpecialPriceSetup(duration_days=md.duration_days if md is not None else 14)
    channels = md.sales_channels or tuple(
        c.id for c in wawi.sales_channels() if c.item_capabilities and c.item_capabilities.special_prices
    )
    groups = md.customer_groups or tuple(g.id for g in wawi.customer_groups())
    return SpecialPriceSetup(channels, groups, md.duration_days)


@dataclass
class LocalStages:
    """Every stage as a plain call in this process."""

    wawi: WawiClient
    store: StateStore
    rules: PricingRules
    params: PricingParams
    ffn: FfnClient | None = None
    run_id: str = "local"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    output: str | None = None
    lease: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.lease = lease_keeper(self.store, self.params, self.run_id)

    def _ctx(self) -> WriteContext:
        return WriteContext(self.wawi, self.store, self.run_id, self.params.workers, self.lease)

    def acquire_lease(self) -> LeaseInfo | None:
        """See :class:`Stages`."""
        return self.lease.take()

    def release_lease(self) -> None:
        """See :class:`Stages`."""
        self.lease.release()

    def settle(self) -> list[WriteOutcome]:
        """See :class:`Stages`."""
        return settle_pending(self.wawi, self.store, self.run_id)

    def execute_plans(self) -> list[ExecutedPlan]:
        """See :class:`Stages`."""
        plans = PlanStore(self.store)
        return execute_approved_plans(
            self._ctx(), plans, self.now, lambda: read_special_setup(self.wawi, self.rules)
        )

    def load(self) -> PriceInputs:
        """See :class:`Stages`."""
        return load_price_inputs(
            self.wawi, self.rules, self.params, now=self.now, store=self.store, ffn=self.ffn
        )

    def compute(self, inputs: PriceInputs) -> Computed:
        """See :class:`Stages`."""
        return compute(inputs, self.rules)

    def write(self, computed: Computed) -> list[WriteOutcome]:
        """See :class:`Stages`."""
        writes = rule_writes(computed, self.run_id) + markdown_writes(
            computed, self.rules, self.run_id, self.now
        )
        return write_prices(self._ctx(), writes)

    def price_and_write(self, *, dry_run: bool) -> Streamed:
        """See :class:`Stages`."""
        ctx = None if dry_run else self._ctx()
        return price_pages(
            self.wawi, self.store, self.rules, self.params, now=self.now, run_id=self.run_id, ctx=ctx
        )

    def propose(self, computed: Computed) -> list[ProposedPlan]:
        """See :class:`Stages`."""
        return proposals(computed, self.rules, PlanStore(self.store), period_of(self.now), self.run_id)

    def write_workbook(self, computed: Computed) -> Path | None:
        """See :class:`Stages`."""
        return write_run_workbook(computed, workbook_path(self.params, self.now, self.output))


def write_run_workbook(computed: Computed, path: Path) -> Path:
    """The workbook of one run's decisions."""
    not_priced = not_priced_frame(computed.prices, computed.inputs.held, computed.held_rows)
    return write_workbook(path, computed.prices, computed.markdowns, not_priced)


def run_pricing(
    wawi: WawiClient,
    store: StateStore,
    rules: PricingRules,
    params: PricingParams | None = None,
    *,
    ffn: FfnClient | None = None,
    dry_run: bool = False,
    run_id: str = "local",
    now: datetime | None = None,
    output: str | None = None,
) -> dict[str, Any]:
    """The whole run as the flow does it, without Prefect (tests, benchmark)."""
    params = params or PricingParams()
    started = time.perf_counter()
    stages = LocalStages(wawi, store, rules, params, ffn, run_id, now or datetime.now(UTC), output)
    result = run_stages(stages, rules, params, dry_run=dry_run)
    if "skipped" not in result:
        result["seconds"] = round(time.perf_counter() - started, 3)
    return result
