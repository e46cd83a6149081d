"""Stage 3: the fills and category assignments written to Wawi exactly once.

**Fills** (``PATCH /items/{id}``). Every value is claimed in the side-effect ledger before it is sent, keyed
by item, field and value (``fill:<item>:<field>:<value>``; long texts by their hash). A key already done
is never sent again. Per item, the item is read again right before the write (``GET /items/{id}``):

- a field that meanwhile holds the feed's value is recorded as done without a write;
- a field someone else filled or changed meanwhile (no longer what the plan saw) is a ``conflict``, left
  alone and reported;
- the others go out in one PATCH whose groups (``Identifiers``, ``Weights``, ``Dimensions``,
  ``ItemPriceData``) are sent whole, built from the item just read with the new values in it: whether Wawi
  merges a group or replaces it is not documented, and a whole group is right either way. The values are
  absolute, so the client may repeat the PATCH after a 5xx or timeout; if it still fails, the item is read
  again: values that landed are done, the others failed (the next run tries again).

**Assignments** (``POST /categories/{id}/items``, up to ``ASSIGN_CHUNK`` items per call). Claimed per item
and category (``category:<item>:<category>``) before the call. Wawi assigns all or none: a 400 for a chunk
is retried item by item, so one bad item fails alone. A POST is never repeated blindly: after a lost
answer every item of the chunk is read again, and an item already in the category is done.

**Crashes.** A claim a crash left between call and record is settled at the start of the next run
(:func:`settle_pending`): the item is read, and the claim is done when Wawi shows the value (or the
category), failed otherwise. Decisions are made from a fresh read anyway, so a rerun never writes twice.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from jtl_automator.clients.errors import ClientError, NotFound, RetryableError
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger
from jtl_automator.services.product_enrichment.params import (
    ASSIGN_CHUNK,
    CATEGORY_KIND,
    FILL_KIND,
    ProductEnrichmentParams,
)
from jtl_automator.services.write_pool import WritePool
from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import ClaimState
from jtl_automator.transforms.product_enrichment import GTIN, MANUFACTURER_NUMBER, WAWI_FIELD
from jtl_automator.transforms.product_feed import NUMBER_FIELDS
from jtl_automator.transforms.product_quality import normalise_gtin

log = correlated_logger("jtl_automator.product_enrichment")

APPLIED = "applied"
ALREADY = "already_applied"
CONFLICT = "conflict"
FAILED = "failed"
#: The members of each group as ``UpdateItem`` names them; a PATCH sends a group with all of them.
GROUP_MEMBERS: dict[str, tuple[str, ...]] = {
    "Identifiers": ("Gtin", "ManufacturerNumber", "ISBN", "UPC", "AmazonFnsku", "Asins", "OwnIdentifier"),
    "Weights": ("ItemWeigth", "ShippingWeight"),
    "Dimensions": ("Length", "Width", "Height"),
    "ItemPriceData": (
        "SalesPriceNet",
        "SuggestedRetailPrice",
        "PurchasePriceNet",
        "EbayPrice",
        "AmazonPrice",
    ),
}
_TOLERANCE = 1e-4


@dataclass(frozen=True)
class WriteOutcome:
    """What became of one planned value (a field of an item) or assignment (an item to a category)."""

    key: str
    item_id: int
    sku: str
    target: str  # the field, or "category"
    value: str
    result: str
    reason: str = ""


@dataclass
class ApplyContext:
    """What the write stage needs."""

    wawi: WawiClient
    store: StateStore
    params: ProductEnrichmentParams
    run_id: str
    lease: LeaseKeeper | None = None


def value_text(field: str, number: float | None, text: str | None) -> str:
    """The value as the ledger and the reports show it: numbers without trailing zeros, texts as they are."""
    if field in NUMBER_FIELDS:
        return f"{float(number):g}" if number is not None else ""
    return text or ""


def fill_key(item_id: int, field: str, value: str) -> str:
    """``fill:<item>:<field>:<value>``; texts other than a GTIN by their SHA-256 (keys stay short)."""
    shown = (
        value if field in NUMBER_FIELDS or field == GTIN else hashlib.sha256(value.encode()).hexdigest()[:24]
    )
    return f"fill:{item_id}:{field}:{shown}"


def category_key(item_id: int, category_id: int) -> str:
    """``category:<item>:<category>``."""
    return f"category:{item_id}:{category_id}"


def wawi_value(item: Mapping[str, Any], field: str) -> Any:
    """The field's value in an item as Wawi sent it (None where it is absent)."""
    group, member = WAWI_FIELD[field]
    holder = item.get(group) if group else item
    return holder.get(member) if isinstance(holder, Mapping) else None


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return False


def same_value(field: str, live: Any, wanted: str) -> bool:
    """Whether Wawi's ``live`` value is the planned one (numbers within a tolerance, GTINs as GTIN-14)."""
    if _missing(live):
        return not wanted
    if field in NUMBER_FIELDS:
        try:
            return math.isclose(float(live), float(wanted), abs_tol=_TOLERANCE)
        except (TypeError, ValueError):
            return False
    text = str(live).strip()
    if field == GTIN:
        return text.isdigit() and wanted.isdigit() and normalise_gtin(text) == normalise_gtin(wanted)
    if field == MANUFACTURER_NUMBER:
        return text.casefold() == wanted.strip().casefold()
    return text == wanted.strip()


def patch_body(item: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that sets ``values`` (field -> value): whole groups from ``item``, texts as they are."""
    body: dict[str, Any] = {}
    for field, value in values.items():
        group, member = WAWI_FIELD[field]
        if group is None:
            body[member] = value
            continue
        if group not in body:
            held = item.get(group)
            current: Mapping[str, Any] = held if isinstance(held, Mapping) else {}
            body[group] = {m: current.get(m) for m in GROUP_MEMBERS[group] if m in current}
        body[group][member] = value
    return body


# -- fills --------------------------------------------------------------------------------------------------


def apply_fills(ctx: ApplyContext, writes: pd.DataFrame) -> list[WriteOutcome]:
    """Every fill and overwrite of the plan, exactly once; one item's failure does not stop the others."""
    groups = [(int(str(item_id)), group) for item_id, group in writes.groupby("item_id", sort=True)]

    def one(pair: tuple[int, pd.DataFrame]) -> list[WriteOutcome]:
        if ctx.lease is not None:
            ctx.lease.check()
        return _fill_item(ctx, *pair)

    if ctx.params.workers == 1 or len(groups) < 2:
        return [o for pair in groups for o in one(pair)]
    # after a failure (a lost lease) nothing queued is sent; the items in flight finish
    with WritePool(one, ctx.params.workers, "enrichment-write") as pool:
        pool.submit_all(groups)
        return [o for found in pool.results() for o in found]


def _fill_item(ctx: ApplyContext, item_id: int, rows: pd.DataFrame) -> list[WriteOutcome]:
    sku = str(rows["sku"].iloc[0])
    planned: dict[str, tuple[str, Any, str | None]] = {}  # field -> (shown value, value to send, Wawi before)
    for row in rows.to_dict("records"):
        field = str(row["field"])
        number = None if pd.isna(row["number"]) else float(row["number"])
        text = None if row["text"] is pd.NA or row["text"] is None else str(row["text"])
        shown = value_text(field, number, text)
        before = None if row["wawi_value"] is pd.NA or row["wawi_value"] is None else str(row["wawi_value"])
        planned[field] = (shown, number if field in NUMBER_FIELDS else text, before)
    outcomes: list[WriteOutcome] = []
    todo: dict[str, str] = {}  # field -> key
    for field, (shown, _, before) in planned.items():
        key = fill_key(item_id, field, shown)
        intent = {"item_id": item_id, "sku": sku, "field": field, "value": shown, "before": before}
        claim = ctx.store.claim(key, FILL_KIND, ctx.run_id, intent=intent)
        if claim.state is ClaimState.DONE:
            outcomes.append(WriteOutcome(key, item_id, sku, field, shown, ALREADY, "recorded as done before"))
        else:
            todo[field] = key
    if not todo:
        return outcomes
    try:
        live = ctx.wawi.items.raw(item_id)
    except NotFound:
        return outcomes + _fail_all(ctx, todo, planned, item_id, sku, "the Wawi item no longer exists")
    send: dict[str, Any] = {}
    for field, key in todo.items():
        shown, value, before = planned[field]
        current = wawi_value(live, field)
        if same_value(field, current, shown):
            ctx.store.complete(
                key, {"item_id": item_id, "field": field, "value": shown, "found": "already in Wawi"}
            )
            outcomes.append(
                WriteOutcome(key, item_id, sku, field, shown, ALREADY, "Wawi already has this value")
            )
        elif not (_missing(current) if before is None else same_value(field, current, before)):
            reason = f"changed in Wawi meanwhile: {current!r} (planned from {before or 'empty'})"
            ctx.store.fail(key, reason)
            outcomes.append(WriteOutcome(key, item_id, sku, field, shown, CONFLICT, reason))
        else:
            send[field] = value
    if not send:
        return outcomes
    return outcomes + _send_fills(ctx, item_id, sku, live, send, {f: todo[f] for f in send}, planned)


def _send_fills(
    ctx: ApplyContext,
    item_id: int,
    sku: str,
    live: Mapping[str, Any],
    send: dict[str, Any],
    keys: dict[str, str],
    planned: Mapping[str, tuple[str, Any, str | None]],
) -> list[WriteOutcome]:
    body = patch_body(live, send)
    sends = 0
    while True:
        sends += 1
        try:
            ctx.wawi.items.update(item_id, body, idempotent=True)
        except ClientError as exc:  # Wawi refused it (unknown item, an invalid value): this item only
            return _fail_all(ctx, keys, planned, item_id, sku, f"Wawi refused the PATCH: {exc}")
        except RetryableError as exc:
            try:
                landed_item = ctx.wawi.items.raw(item_id)
            except NotFound:
                return _fail_all(ctx, keys, planned, item_id, sku, "the Wawi item no longer exists")
            landed = {f for f in keys if same_value(f, wawi_value(landed_item, f), planned[f][0])}
            if landed == set(keys):
                return _done_all(ctx, keys, planned, item_id, sku, "answer lost, found applied in Wawi")
            if sends >= ctx.params.resend_max:
                why = f"not applied after {sends} sends ({type(exc).__name__}); the next run tries again"
                return _fail_all(ctx, keys, planned, item_id, sku, why)
            log.warning("fill of item %s did not land (%s); sending it again", item_id, type(exc).__name__)
            continue
        return _done_all(ctx, keys, planned, item_id, sku, "")


def _done_all(
    ctx: ApplyContext,
    keys: Mapping[str, str],
    planned: Mapping[str, tuple[str, Any, str | None]],
    item_id: int,
    sku: str,
    reason: str,
) -> list[WriteOutcome]:
    outcomes = []
    for field, key in keys.items():
        shown, _, before = planned[field]
        ctx.store.complete(key, {"item_id": item_id, "field": field, "value": shown, "before": before})
        outcomes.append(WriteOutcome(key, item_id, sku, field, shown, APPLIED, reason))
    return outcomes


def _fail_all(
    ctx: ApplyContext,
    keys: Mapping[str, str],
    planned: Mapping[str, tuple[str, Any, str | None]],
    item_id: int,
    sku: str,
    reason: str,
) -> list[WriteOutcome]:
    outcomes = []
    for field, key in keys.items():
        ctx.store.fail(key, reason)
        outcomes.append(WriteOutcome(key, item_id, sku, field, planned[field][0], FAILED, reason))
    return outcomes


# -- category assignments ---------------------------------------------------------------------------------


def apply_assignments(
    ctx: ApplyContext, todo: Mapping[int, Sequence[int]], skus: Mapping[int, str]
) -> list[WriteOutcome]:
    """Add the items to their categories (``category id -> item ids``), each pair exactly once."""
    outcomes: list[WriteOutcome] = []
    for category_id, item_ids in sorted(todo.items()):
        keys: dict[int, str] = {}
        for item_id in item_ids:
            key = category_key(item_id, category_id)
            intent = {"item_id": item_id, "category_id": category_id, "sku": skus.get(item_id, "")}
            claim = ctx.store.claim(key, CATEGORY_KIND, ctx.run_id, intent=intent)
            if claim.state is ClaimState.DONE:
                outcomes.append(
                    _assigned(key, item_id, skus, category_id, ALREADY, "recorded as done before")
                )
            else:
                keys[item_id] = key
        pending = list(keys)
        for start in range(0, len(pending), ASSIGN_CHUNK):
            if ctx.lease is not None:
                ctx.lease.check()
            chunk = pending[start : start + ASSIGN_CHUNK]
            outcomes.extend(_assign_chunk(ctx, category_id, chunk, keys, skus))
    return outcomes


def _assigned(
    key: str, item_id: int, skus: Mapping[int, str], category_id: int, result: str, reason: str = ""
) -> WriteOutcome:
    return WriteOutcome(key, item_id, skus.get(item_id, ""), "category", str(category_id), result, reason)


def _assign_chunk(
    ctx: ApplyContext, category_id: int, chunk: list[int], keys: Mapping[int, str], skus: Mapping[int, str]
) -> list[WriteOutcome]:
    try:
        ctx.wawi.categories.add_items(category_id, chunk)
    except ClientError as exc:
        if len(chunk) > 1:  # all or none: find the item Wawi refuses by sending them one at a time
            return [o for item_id in chunk for o in _assign_chunk(ctx, category_id, [item_id], keys, skus)]
        reason = f"Wawi refused the assignment: {exc}"
        ctx.store.fail(keys[chunk[0]], reason)
        return [_assigned(keys[chunk[0]], chunk[0], skus, category_id, FAILED, reason)]
    except RetryableError as exc:
        outcomes = []
        for item_id in chunk:
            if _in_category(ctx.wawi, item_id, category_id):
                ctx.store.complete(
                    keys[item_id], {"category_id": category_id, "answer": "lost; found assigned"}
                )
                outcomes.append(
                    _assigned(
                        keys[item_id], item_id, skus, category_id, APPLIED, "answer lost, found assigned"
                    )
                )
            else:
                reason = f"not assigned ({type(exc).__name__}); the next run tries again"
                ctx.store.fail(keys[item_id], reason)
                outcomes.append(_assigned(keys[item_id], item_id, skus, category_id, FAILED, reason))
        return outcomes
    for item_id in chunk:
        ctx.store.complete(keys[item_id], {"category_id": category_id})
    return [_assigned(keys[i], i, skus, category_id, APPLIED) for i in chunk]


def _in_category(wawi: WawiClient, item_id: int, category_id: int) -> bool:
    try:
        item = wawi.items.raw(item_id)
    except NotFound:
        return False
    refs = item.get("Categories")
    return any(isinstance(r, Mapping) and r.get("CategoryId") == category_id for r in refs or ())


# -- after a crash ------------------------------------------------------------------------------------------


def settle_pending(wawi: WawiClient, store: StateStore) -> list[WriteOutcome]:
    """Claims a crash left between call and record: done where Wawi shows the value or category."""
    outcomes: list[WriteOutcome] = []
    for claim in [*store.pending_side_effects(FILL_KIND), *store.pending_side_effects(CATEGORY_KIND)]:
        intent = claim.result or {}
        try:
            item_id = int(intent["item_id"])
            item = wawi.items.raw(item_id)
        except NotFound:
            store.fail(claim.key, "the Wawi item no longer exists")
            continue
        except (KeyError, TypeError, ValueError):
            store.fail(claim.key, "intent unreadable; planned afresh from Wawi")
            continue
        sku = str(intent.get("sku", ""))
        if "category_id" in intent:
            category = int(intent["category_id"])
            refs = item.get("Categories") or ()
            done = any(isinstance(r, Mapping) and r.get("CategoryId") == category for r in refs)
            target, value = "category", str(category)
        else:
            target, value = str(intent.get("field")), str(intent.get("value", ""))
            done = target in WAWI_FIELD and same_value(target, wawi_value(item, target), value)
        if done:
            store.complete(claim.key, {**intent, "settled": "found in Wawi after an interrupted run"})
            outcomes.append(
                WriteOutcome(claim.key, item_id, sku, target, value, ALREADY, "settled: found in Wawi")
            )
        else:
            store.fail(claim.key, "not in Wawi after an interrupted run; planned afresh")
            outcomes.append(WriteOutcome(claim.key, item_id, sku, target, value, "settled_not_applied"))
        log.warning("settled interrupted write %s: %s", claim.key, outcomes[-1].result)
    return outcomes


def outcome_rows(outcomes: Iterable[WriteOutcome]) -> list[dict[str, Any]]:
    """Outcomes as plain rows (results, artifacts)."""
    return [
        {
            "sku": o.sku,
            "item_id": o.item_id,
            "target": o.target,
            "value": o.value,
            "result": o.result,
            "reason": o.reason,
        }
        for o in outcomes
    ]
