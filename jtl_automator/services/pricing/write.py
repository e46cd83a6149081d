"""Writing prices to Wawi: absolute values, each claimed in the side-effect ledger, each kept in the history.

A price write sets an absolute value (a base price, a channel price, a special price with its dates), so
repeating it cannot change a price twice; still, every write happens at most once and is recorded once:

1. **Claim.** The write is claimed in the state store's ledger (kind ``price``) with its intent (item,
   target, before, after, why, and for a special price its prices and dates) before the call. The key is
   ``price:<run>:<item>:<target>`` for what the rules apply (one decision per run) and
   ``price-plan:<plan>:<sku>:<target>`` for an approved plan line (executed once, whatever the run).
2. **Write and record together.** After Wawi's answer the history row is written in the same transaction
   that completes the claim (``StateStore.record_price_change``): a price is in the history exactly when
   its write is recorded as done.
3. **A crash between the two** leaves the claim pending. Every run first settles pending claims
   (:func:`settle_pending`): Wawi showing the intended value means the write landed (recorded now, with
   its history row, and not sent again); anything else is marked failed and priced afresh by the run. A
   retried task finds its own pending claims the same way, per key.

A refused write (400, 404: an item or price deleted meanwhile) fails that price only, with Wawi's message;
the batch goes on. A transient failure after the client's retries stops the batch (nothing queued is sent)
and is raised, so the task is retried; the ledger says what is done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from jtl_automator.clients.errors import ClientError, RetryableError
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import SpecialPriceUpdate
from jtl_automator.correlation import correlated_logger
from jtl_automator.services.pricing.params import LEDGER_KIND
from jtl_automator.services.pricing.reads import SPECIAL_PRICE
from jtl_automator.services.write_pool import WritePool
from jtl_automator.store import ClaimState, PriceChange, StateStore, parse_iso
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.transforms.pricing import BASE_PRICE

log = correlated_logger("jtl_automator.pricing")
#: Two net prices are the same when they round to the same 4 decimals.
_TOLERANCE = 0.5e-4

APPLIED = "applied"
ALREADY = "already_applied"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class PriceWrite:
    """One absolute price to set, and why; ``special`` carries a special price's channel prices."""

    key: str
    item_id: int
    sku: str
    target: str  # base | <channel>/<group> | special
    after: float
    before: float | None = None
    reason: str = ""
    rule: str | None = None
    source: str = "rule"  # rule | plan | markdown
    plan_id: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    special: tuple[tuple[str, int], ...] = ()  # (sales channel, customer group) of a special price

    @property
    def channel(self) -> tuple[str, int] | None:
        """``(sales channel, customer group)`` of a channel price, else None."""
        if self.target in (BASE_PRICE, SPECIAL_PRICE):
            return None
        channel, _, group = self.target.rpartition("/")
        return channel, int(group)

    def intent(self) -> dict[str, Any]:
        """What the ledger keeps before the call (JSON)."""
        data = asdict(self)
        for name in ("starts_at", "ends_at"):
            data[name] = data[name].isoformat() if data[name] is not None else None
        data["special"] = [list(pair) for pair in self.special]
        return data

    @classmethod
    def from_intent(cls, intent: Mapping[str, Any]) -> PriceWrite:
        """The write an earlier run claimed (its intent as stored)."""
        return cls(
            key=str(intent["key"]),
            item_id=int(intent["item_id"]),
            sku=str(intent.get("sku") or ""),
            target=str(intent["target"]),
            after=float(intent["after"]),
            before=None if intent.get("before") is None else float(intent["before"]),
            reason=str(intent.get("reason") or ""),
            rule=intent.get("rule"),
            source=str(intent.get("source") or "rule"),
            plan_id=intent.get("plan_id"),
            starts_at=parse_iso(intent.get("starts_at")),
            ends_at=parse_iso(intent.get("ends_at")),
            special=tuple((str(c), int(g)) for c, g in intent.get("special") or ()),
        )

    def change(self, run_id: str) -> PriceChange:
        """Its row of the price history."""
        return PriceChange(
            item_id=self.item_id,
            sku=self.sku,
            target=self.target,
            before=self.before,
            after=self.after,
            reason=self.reason,
            rule=self.rule,
            source=self.source,
            run_id=run_id,
            plan_id=self.plan_id,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )


@dataclass(frozen=True)
class WriteOutcome:
    """What became of one write."""

    key: str
    item_id: int
    sku: str
    target: str
    before: float | None
    after: float
    result: str  # applied | already_applied | failed | skipped
    reason: str = ""
    plan_id: int | None = None

    def row(self) -> dict[str, Any]:
        """For tables and the result JSON."""
        return asdict(self)


@dataclass
class WriteContext:
    """What the write stage needs."""

    wawi: WawiClient
    store: StateStore
    run_id: str
    workers: int = 4
    lease: LeaseKeeper | None = None
    #: Called after each send (tests stop a run there to play a crash between write and record).
    after_send: Callable[[PriceWrite], None] | None = field(default=None, repr=False)


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < _TOLERANCE


def special_body(write: PriceWrite) -> SpecialPriceUpdate:
    """The special price a markdown sets: active from ``starts_at`` to ``ends_at`` for its channels."""
    return SpecialPriceUpdate.model_validate(
        {
            "is_active": True,
            "start_date": write.starts_at,
            "end_date_active": write.ends_at is not None,
            "end_date": write.ends_at,
            "till_amount_active": False,
            "special_price": [
                {
                    "is_active": True,
                    "customer_group_id": group,
                    "net_price": write.after,
                    "sales_channel_id": channel,
                }
                for channel, group in write.special
            ],
        }
    )


def send(wawi: WawiClient, write: PriceWrite) -> None:
    """The one request that sets the price."""
    if write.target == BASE_PRICE:
        wawi.items.set_base_price(write.item_id, write.after)
    elif write.target == SPECIAL_PRICE:
        wawi.items.set_special_price(write.item_id, special_body(write))
    else:
        channel = write.channel
        assert channel is not None
        wawi.items.set_sales_channel_price(write.item_id, channel[0], channel[1], write.after)


def live_value(wawi: WawiClient, write: PriceWrite) -> float | None:
    """Wawi's value of the write's price now (None: there is none, or it is not what this write sets)."""
    if write.target == BASE_PRICE:
        prices = wawi.items.get(write.item_id).item_price_data
        return prices.sales_price_net if prices is not None else None
    if write.target == SPECIAL_PRICE:
        special = wawi.items.special_price(write.item_id)
        if special is None or not special.is_active:
            return None
        ours = {(p.sales_channel_id, p.customer_group_id): p.net_price for p in special.special_price}
        values = {ours.get(pair) for pair in write.special}
        same_dates = special.start_date == write.starts_at and special.end_date == write.ends_at
        return values.pop() if len(values) == 1 and same_dates else None
    channel = write.channel
    assert channel is not None
    for price in wawi.items.sales_channel_prices(write.item_id):
        if (price.sales_channel_id, price.customer_group_id, price.from_quantity) == (*channel, 0):
            return None if price.relative else price.net_price
    return None


def _outcome(write: PriceWrite, result: str, reason: str = "") -> WriteOutcome:
    return WriteOutcome(
        write.key,
        write.item_id,
        write.sku,
        write.target,
        write.before,
        write.after,
        result,
        reason,
        write.plan_id,
    )


def write_one(ctx: WriteContext, write: PriceWrite) -> WriteOutcome:
    """Claim, send, record (see the module docstring); a refusal fails this price only."""
    if ctx.lease is not None:
        ctx.lease.check()
    claim = ctx.store.claim(write.key, LEDGER_KIND, ctx.run_id, intent=write.intent())
    if claim.state is ClaimState.DONE:
        return _outcome(write, ALREADY, "recorded as done before")
    if claim.state is ClaimState.PENDING and claim.result:
        # a retried task: our own claim of this run was left pending; the intent stored then is the one
        write = PriceWrite.from_intent(claim.result)
        if _same(live_value(ctx.wawi, write), write.after):
            ctx.store.record_price_change(
                write.change(ctx.run_id), ledger_key=write.key, result=write.intent()
            )
            return _outcome(write, APPLIED, "found written after an interrupted attempt")
    try:
        send(ctx.wawi, write)
    except ClientError as exc:
        message = f"{exc.status}: {exc.message}"
        ctx.store.fail(write.key, message)
        log.warning("price %s of %s refused: %s", write.target, write.sku, message)
        return _outcome(write, FAILED, message)
    except RetryableError as exc:
        ctx.store.fail(write.key, f"{type(exc).__name__}: {exc}")
        raise
    if ctx.after_send is not None:
        ctx.after_send(write)
    ctx.store.record_price_change(write.change(ctx.run_id), ledger_key=write.key, result=write.intent())
    return _outcome(write, APPLIED)


def write_prices(ctx: WriteContext, writes: Sequence[PriceWrite]) -> list[WriteOutcome]:
    """Every write, ``workers`` at once; outcomes in the given order. A transient failure stops the batch."""
    if not writes:
        return []
    if ctx.workers <= 1 or len(writes) == 1:
        return [write_one(ctx, w) for w in writes]
    with WritePool(partial(write_one, ctx), ctx.workers, "price-write") as pool:
        pool.submit_all(writes)
        return pool.results()


def settle_pending(wawi: WawiClient, store: StateStore, run_id: str) -> list[WriteOutcome]:
    """Writes a crash left between the call and its record: recorded now if Wawi shows them, else failed.

    A settled write gets its history row (with the run that claimed it) and is not sent again; a failed
    one is priced afresh by this run.
    """
    outcomes: list[WriteOutcome] = []
    for claim in store.pending_side_effects(LEDGER_KIND):
        try:
            write = PriceWrite.from_intent(claim.result or {})
        except (KeyError, TypeError, ValueError):
            store.fail(claim.key, "intent unreadable; priced afresh")
            continue
        try:
            live = live_value(wawi, write)
        except ClientError as exc:
            store.fail(claim.key, f"cannot read it back ({exc.status}); priced afresh")
            outcomes.append(_outcome(write, "settled_not_applied", str(exc.message)))
            continue
        if _same(live, write.after):
            settled = replace(
                write,
                reason=(write.reason + "; " if write.reason else "") + "recorded after an interrupted run",
            )
            store.record_price_change(settled.change(run_id), ledger_key=claim.key, result=write.intent())
            outcomes.append(_outcome(write, "settled_applied"))
        else:
            store.fail(claim.key, f"not applied: Wawi shows {live} (intended {write.after})")
            outcomes.append(_outcome(write, "settled_not_applied", f"Wawi shows {live}"))
        log.warning("settled interrupted price write %s: %s", claim.key, outcomes[-1].result)
    return outcomes
