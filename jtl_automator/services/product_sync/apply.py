"""The plan's writes to FFN: each product created exactly once, updates as absolute PATCHes.

:func:`write_product` makes one; ``chunks`` sends them ``params.workers`` at a time through a
:class:`~jtl_automator.services.write_pool.WritePool` as it plans them, chunk by chunk.

**Creation, exactly once.** A product is keyed by its merchantSku (= Wawi SKU); FFN does not promise that
key unique, so the sync keeps it unique itself:

1. The creation is claimed in the state store's side-effect ledger (``ffn-product:<SKU>``) before the POST.
2. NEW claim: the bulk read found no product, so POST; the client looks the SKU up after a lost answer
   (timeout, dropped connection, 5xx) and returns what the lost answer had created instead of re-sending.
3. PENDING or FAILED claim (an attempt that never recorded its end, a crash, a refusal): look the SKU up
   first, adopt what is there, create only if nothing is.
4. DONE claim although the bulk read found nothing: FFN lists the product late, or someone deleted it; the
   SKU is looked up once more and, if still missing, not created a second time but reported.
5. A crash between the POST and the record leaves the claim pending: every run first settles pending
   claims by looking their SKUs up (:func:`settle_pending`).

**Updates** send the changed fields' absolute values (nested objects whole), so a repeat after a lost answer
leaves the product as one PATCH would: the client repeats them, no ledger is needed, and a rerun plans from
a fresh read. **Authorisations** of a new product for the merchant's fulfillers are claimed per product and
fulfiller (``ffn-product-authorization:<jfsku>:<fulfiller>``); one that failed is tried again by the next
run's settle stage. FFN refusing a write (4xx) is recorded for that product with FFN's error; the batch goes
on. Auth errors and transient failures past the client's retries propagate (the task is retried; the
ledger says what is done).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

import pandas as pd

from jtl_automator.clients.errors import ClientError, JtlApiError
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.pagination import flatten
from jtl_automator.correlation import correlated_logger
from jtl_automator.services.product_sync.params import (
    AUTH_KIND,
    KIND,
    ProductSyncParams,
    authorization_key,
    creation_key,
)
from jtl_automator.store import ClaimState, StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.transforms.product_sync import CREATE, create_body, update_body

log = correlated_logger("jtl_automator.product_sync")

CREATED = "created"
ADOPTED = "adopted"
UPDATED = "updated"
REJECTED = "rejected"
NOT_RECREATED = "not_recreated"


@dataclass(frozen=True)
class Outcome:
    """What became of one planned write."""

    merchant_sku: str
    item_id: int | None
    jfsku: str | None
    result: str
    reason: str = ""
    fields: str = ""
    authorized: tuple[str, ...] = ()


@dataclass
class ApplyContext:
    """What the write stage needs; ``fulfillers`` are resolved on the first creation of the run."""

    ffn: FfnClient
    store: StateStore
    params: ProductSyncParams
    run_id: str
    snapshots: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lease: LeaseKeeper | None = None
    _fulfillers: tuple[str, ...] | None = field(default=None, init=False)
    _lock: Lock = field(default_factory=Lock, init=False)

    def fulfillers(self) -> tuple[str, ...]:
        """The fulfillers a new product is authorised for: the params', else those of FFN's warehouses."""
        with self._lock:
            if self._fulfillers is None:
                self._fulfillers = fulfillers_of(self.ffn, self.params)
            return self._fulfillers


def fulfillers_of(ffn: FfnClient, params: ProductSyncParams) -> tuple[str, ...]:
    """``params.authorize_fulfillers``, or the fulfillerIds of the merchant's FFN warehouses (one read)."""
    if params.authorize_fulfillers is not None:
        return tuple(params.authorize_fulfillers)
    found = {str(w.get("fulfillerId") or "").strip() for w in flatten(ffn.warehouses.iter_pages())}
    return tuple(sorted(found - {""}))


def _error(exc: JtlApiError) -> str:
    """FFN's refusal in one line: its code and messages (never a header or a body we sent)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    extra = [m for m in exc.messages if m and m not in text]
    return "; ".join([text, *extra])[:2000]


def write_product(ctx: ApplyContext, row: Mapping[Any, Any]) -> Outcome:
    """One create (exactly once) or update of the plan; FFN refusing it is its outcome, not an error."""
    if ctx.lease is not None:
        ctx.lease.check()
    values = {str(k): v for k, v in row.items()}
    return _create(ctx, values) if values["status"] == CREATE else _update(ctx, values)


def _item_id(row: Mapping[str, Any]) -> int | None:
    value = row.get("item_id")
    return None if value is None or value is pd.NA else int(value)


def _create(ctx: ApplyContext, row: Mapping[str, Any]) -> Outcome:
    sku = str(row["merchant_sku"])
    item_id = _item_id(row)
    key = creation_key(sku)
    fields = str(row.get("changed") or "")
    products = ctx.ffn.products
    claim = ctx.store.claim(key, KIND, ctx.run_id, intent={"merchant_sku": sku, "item_id": item_id})

    def outcome(result: str, jfsku: str | None, reason: str = "") -> Outcome:
        return Outcome(sku, item_id, jfsku, result, reason, fields)

    try:
        if claim.state is not ClaimState.NEW:
            found = products.find_by_merchant_sku(sku)
            if found is not None:
                ctx.store.complete(key, {"merchant_sku": sku, "jfsku": found.jfsku, "adopted": True})
                return _authorized(
                    ctx, outcome(ADOPTED, found.jfsku, "found in FFN: created by an earlier attempt")
                )
            if claim.state is ClaimState.DONE:
                before = (claim.result or {}).get("jfsku")
                reason = (
                    f"created before as {before}, but FFN lists no product with this merchantSku now; not "
                    "created a second time (check FFN; a product deleted there is created again only after "
                    f"its ledger entry {key!r} is removed)"
                )
                return outcome(NOT_RECREATED, before, reason)
        created = products.create(create_body(row))
    except ClientError as exc:
        reason = _error(exc)
        ctx.store.fail(key, reason)
        log.warning("product %s refused by FFN: %s", sku, reason)
        return outcome(REJECTED, None, reason)
    ctx.store.complete(key, {"merchant_sku": sku, "jfsku": created.jfsku})
    return _authorized(ctx, outcome(CREATED, created.jfsku))


def _authorized(ctx: ApplyContext, done: Outcome) -> Outcome:
    """A created or adopted product, authorised for the fulfillers (each grant claimed; refusals noted)."""
    if done.jfsku is None:
        return done
    granted: list[str] = []
    refused: list[str] = []
    for fulfiller in ctx.fulfillers():
        error = authorize(ctx.ffn, ctx.store, ctx.run_id, done.jfsku, fulfiller)
        if error is None:
            granted.append(fulfiller)
        else:
            refused.append(f"authorisation for {fulfiller} refused ({error}); tried again next run")
    reason = "; ".join([r for r in (done.reason, *refused) if r])
    return Outcome(
        done.merchant_sku, done.item_id, done.jfsku, done.result, reason, done.fields, tuple(granted)
    )


def authorize(ffn: FfnClient, store: StateStore, run_id: str, jfsku: str, fulfiller: str) -> str | None:
    """Authorise one product for one fulfiller once (ledger claim first); FFN's error if it refused."""
    key = authorization_key(jfsku, fulfiller)
    claim = store.claim(key, AUTH_KIND, run_id, intent={"jfsku": jfsku, "fulfiller_id": fulfiller})
    if claim.state is ClaimState.DONE:
        return None
    try:
        ffn.products.authorize(jfsku, fulfiller)
    except ClientError as exc:
        error = _error(exc)
        store.fail(key, error)
        return error
    store.complete(key, {"jfsku": jfsku, "fulfiller_id": fulfiller})
    return None


def _update(ctx: ApplyContext, row: Mapping[str, Any]) -> Outcome:
    sku, jfsku = str(row["merchant_sku"]), str(row["jfsku"])
    fields = str(row.get("changed") or "")
    body = update_body(row, ctx.snapshots.get(jfsku) or {})
    try:
        ctx.ffn.products.update(jfsku, body, idempotent=True)
    except ClientError as exc:
        reason = _error(exc)
        log.warning("update of product %s (%s) refused by FFN: %s", sku, jfsku, reason)
        return Outcome(sku, _item_id(row), jfsku, REJECTED, reason, fields)
    return Outcome(sku, _item_id(row), jfsku, UPDATED, "", fields)


def settle_pending(ffn: FfnClient, store: StateStore, run_id: str) -> list[Outcome]:
    """What earlier runs left unfinished: creations a crash left pending, authorisations that failed.

    A pending creation is settled by looking its SKU up (found: recorded as done; not found: recorded as
    failed, and this run's plan creates it). An authorisation not done is tried again.
    """
    outcomes: list[Outcome] = []
    for claim in store.pending_side_effects(KIND):
        sku = str((claim.result or {}).get("merchant_sku") or claim.key.removeprefix(f"{KIND}:"))
        try:
            found = ffn.products.find_by_merchant_sku(sku)
        except ClientError as exc:
            store.fail(claim.key, _error(exc))
            outcomes.append(Outcome(sku, None, None, REJECTED, _error(exc)))
            continue
        if found is None:
            store.fail(claim.key, "not created by an interrupted run; planned again")
            outcomes.append(Outcome(sku, None, None, "settled_not_created"))
        else:
            store.complete(claim.key, {"merchant_sku": sku, "jfsku": found.jfsku, "settled": True})
            outcomes.append(Outcome(sku, None, found.jfsku, "settled_created"))
        log.warning("settled interrupted creation of %s: %s", sku, outcomes[-1].result)
    for claim in store.unfinished_side_effects(AUTH_KIND):
        intent = claim.result or {}
        jfsku, fulfiller = str(intent.get("jfsku") or ""), str(intent.get("fulfiller_id") or "")
        if not jfsku or not fulfiller:
            continue
        error = authorize(ffn, store, run_id, jfsku, fulfiller)
        result = "settled_authorized" if error is None else "authorization_refused"
        outcomes.append(
            Outcome("", None, jfsku, result, error or "", authorized=(fulfiller,) if not error else ())
        )
    return outcomes
