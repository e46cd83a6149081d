"""Tasks of the pricing flow, and ``TaskStages``: the run's stages as these tasks.

The sequence lives once in ``jtl_automator.services.pricing.pipeline.run_stages``. The write stage is one
task for the whole batch: a retry of it claims every key again, and the ledger says what is already done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.plans import PlanStore
from jtl_automator.services import pricing as svc
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from jtl_automator.transforms.pricing import PricingRules
from tasks.resources import RunClients, as_is, correlated
from tasks.retry import retry_transient

_RETRYING: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 30,
    "retry_condition_fn": retry_transient,
}


@task(name="pricing-acquire-lease", cache_policy=NO_CACHE)
def pricing_acquire_lease(keeper: LeaseKeeper) -> LeaseInfo | None:
    """Two pricing runs never interleave their writes and plan executions."""
    holder = keeper.take()
    if holder is not None:
        get_run_logger().warning("run %s holds the pricing lease; this run does nothing", holder.owner)
    return holder


@task(name="pricing-release-lease", cache_policy=NO_CACHE)
def pricing_release_lease(keeper: LeaseKeeper) -> None:
    """Give the lease back (also after a failure)."""
    keeper.release()


@task(name="wawi-settle-price-writes", **_RETRYING)
def wawi_settle_price_writes(clients: RunClients, run_id: str) -> list[svc.WriteOutcome]:
    """Prices an interrupted run wrote but never recorded: Wawi's values say whether they landed."""
    with correlated():
        settled = svc.settle_pending(clients.wawi, clients.store, run_id)
    if settled:
        get_run_logger().warning("settled %d interrupted price writes", len(settled))
    return settled


@task(name="wawi-execute-price-plans", **_RETRYING)
def wawi_execute_price_plans(
    ctx: svc.WriteContext, rules: PricingRules, now: datetime
) -> list[svc.ExecutedPlan]:
    """Approved price-change and markdown plans, each line written once (checked on a fresh read)."""
    with correlated():
        executed = svc.execute_approved_plans(
            ctx, PlanStore(ctx.store), now, lambda: svc.read_special_setup(ctx.wawi, rules)
        )
    for plan in executed:
        get_run_logger().info(
            "plan %d (%s): %s, %s", plan.plan_id, plan.kind, plan.status, plan.row()["lines"]
        )
    return executed


@task(name="pricing-load", **_RETRYING)
def pricing_load(
    clients: RunClients, rules: PricingRules, params: svc.PricingParams, now: datetime
) -> svc.PriceInputs:
    """Wawi's prices and what the rules match on; FFN's stock and demand when markdowns are on."""
    with correlated():
        inputs = svc.load_price_inputs(
            clients.wawi, rules, params, now=now, store=clients.store, ffn=clients.ffn
        )
    get_run_logger().info("read %s", inputs.counts)
    return inputs


@task(name="wawi-read-price-write", **_RETRYING)
def wawi_read_price_write(
    clients: RunClients,
    rules: PricingRules,
    params: svc.PricingParams,
    now: datetime,
    run_id: str,
    ctx: svc.WriteContext | None,
) -> svc.Streamed:
    """Base-price rules: each item page priced as it is read, its writes sent while the next pages come.

    A retry reads again (a price written before is then unchanged) and the ledger says what is done.
    """
    with correlated():
        streamed = svc.price_pages(
            clients.wawi, clients.store, rules, params, now=now, run_id=run_id, ctx=ctx
        )
    get_run_logger().info(
        "read %s; decisions: %s; %d writes",
        streamed.computed.inputs.counts,
        streamed.computed.prices["status"].value_counts().to_dict(),
        len(streamed.outcomes),
    )
    return streamed


@task(name="pricing-compute", cache_policy=NO_CACHE)
def pricing_compute(inputs: svc.PriceInputs, rules: PricingRules) -> svc.Computed:
    """Every price row's decision and the markdowns (pure)."""
    computed = svc.compute(inputs, rules)
    get_run_logger().info("decisions: %s", computed.prices["status"].value_counts().to_dict())
    return computed


@task(name="wawi-write-prices", **_RETRYING)
def wawi_write_prices(ctx: svc.WriteContext, writes: list[svc.PriceWrite]) -> list[svc.WriteOutcome]:
    """The batch's prices, each once, each with its history row; a retry finds the done ones in the ledger."""
    with correlated():
        outcomes = svc.write_prices(ctx, writes)
    get_run_logger().info("%d prices written or found written", len(outcomes))
    return outcomes


@task(name="pricing-propose-plans", cache_policy=NO_CACHE)
def pricing_propose_plans(
    clients: RunClients, computed: svc.Computed, rules: PricingRules, period: str, run_id: str
) -> list[svc.ProposedPlan]:
    """The day's draft price-change and markdown plans (older drafts superseded)."""
    proposed = svc.proposals(computed, rules, PlanStore(clients.store), period, run_id)
    for plan in proposed:
        get_run_logger().info(
            "plan %d (%s): %d lines %s", plan.plan_id, plan.kind, plan.lines, plan.skipped or ""
        )
    return proposed


@task(name="pricing-write-workbook", cache_policy=NO_CACHE)
def pricing_write_workbook(computed: svc.Computed, path: Path) -> Path:
    """The workbook of the run's decisions (also in a dry run)."""
    return svc.write_run_workbook(computed, path)


@task(name="pricing-publish-artifacts", cache_policy=NO_CACHE)
def pricing_publish_artifacts(result: dict[str, Any]) -> None:
    """The run at a glance (markdown), the largest changes and the markdown proposals (tables)."""
    create_markdown_artifact(key="pricing-summary", markdown=svc.summary_markdown(result))
    if "skipped" in result:
        return
    create_table_artifact(
        key="pricing-changes",
        table=result["changes"] or [{"sku": "no price to change"}],
        description=f"Largest changes first, at most {len(result['changes'])} rows"
        + (" (dry run)" if result["dry_run"] else ""),
    )
    if "markdown_lines" in result:
        create_table_artifact(
            key="pricing-markdowns",
            table=result["markdown_lines"] or [{"sku": "no slow mover to mark down"}],
            description="Slow movers proposed for a markdown, largest discount first",
        )


@dataclass
class TaskStages:
    """The stages of one flow run as Prefect tasks (see ``svc.Stages``)."""

    clients: RunClients
    rules: PricingRules
    params: svc.PricingParams
    run_id: str
    now: datetime
    output: Path
    lease: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.lease = svc.lease_keeper(self.clients.store, self.params, self.run_id)

    def _ctx(self) -> svc.WriteContext:
        return svc.WriteContext(
            self.clients.wawi, self.clients.store, self.run_id, self.params.workers, self.lease
        )

    def acquire_lease(self) -> LeaseInfo | None:
        """See ``svc.Stages``."""
        return pricing_acquire_lease(as_is(self.lease))

    def release_lease(self) -> None:
        """See ``svc.Stages``."""
        pricing_release_lease(as_is(self.lease))

    def settle(self) -> list[svc.WriteOutcome]:
        """See ``svc.Stages``."""
        return wawi_settle_price_writes(as_is(self.clients), self.run_id)

    def execute_plans(self) -> list[svc.ExecutedPlan]:
        """See ``svc.Stages``."""
        return wawi_execute_price_plans(as_is(self._ctx()), as_is(self.rules), self.now)

    def load(self) -> svc.PriceInputs:
        """See ``svc.Stages``."""
        return pricing_load(as_is(self.clients), as_is(self.rules), self.params, self.now)

    def compute(self, inputs: svc.PriceInputs) -> svc.Computed:
        """See ``svc.Stages``."""
        return pricing_compute(as_is(inputs), as_is(self.rules))

    def write(self, computed: svc.Computed) -> list[svc.WriteOutcome]:
        """See ``svc.Stages``."""
        writes = svc.rule_writes(computed, self.run_id)
        writes += svc.markdown_writes(computed, self.rules, self.run_id, self.now)
        return wawi_write_prices(as_is(self._ctx()), as_is(writes))

    def price_and_write(self, *, dry_run: bool) -> svc.Streamed:
        """See ``svc.Stages``."""
        ctx = None if dry_run else self._ctx()
        return wawi_read_price_write(
            as_is(self.clients), as_is(self.rules), self.params, self.now, self.run_id, as_is(ctx)
        )

    def propose(self, computed: svc.Computed) -> list[svc.ProposedPlan]:
        """See ``svc.Stages``."""
        return pricing_propose_plans(
            as_is(self.clients), as_is(computed), as_is(self.rules), svc.period_of(self.now), self.run_id
        )

    def write_workbook(self, computed: svc.Computed) -> Path | None:
        """See ``svc.Stages``."""
        return pricing_write_workbook(as_is(computed), self.output)
