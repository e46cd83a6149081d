"""FFN outbounds and inbounds created exactly once: claimed in the side-effect ledger, found by number.

Order processing (an outbound per order), restock execution (an inbound per purchase order and warehouse)
and the movement plans (transfers, supplier returns and exchanges: outbounds and inbounds) all create
through these two functions, so one rule holds everywhere:

- a DONE claim hands back what was made;
- a PENDING or FAILED claim (a run died between the POST and the ledger write, or failed) looks the
  merchant number up first and adopts what FFN holds; it POSTs only when FFN has none;
- a NEW claim POSTs; a lost answer (timeout, dropped connection, a duplicate-key refusal) is settled by a
  lookup, never by a blind second POST. FFN does not document these numbers as unique, so nothing here
  relies on it refusing a second one.

A chunk of creates done one after the other may claim through a :class:`ClaimBatch`: every claim of the
chunk in one transaction before the first POST, every completion and failure in one at its end. A crash
in between leaves the chunk's claims pending, which the rules above already settle by a lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from jtl_automator.clients.errors import ClientError, JtlApiError, TransientError, ValidationFailed
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.correlation import correlated_logger
from jtl_automator.store import ClaimState, StateStore
from jtl_automator.store.store import Claim

log = correlated_logger("jtl_automator.ffn_once")

OUTBOUND_KIND = "ffn_outbound"
INBOUND_KIND = "ffn_inbound"

JsonObject = dict[str, Any]


class ClaimLedger(Protocol):
    """What :func:`outbound_once` needs of the side-effect ledger: the store, or a :class:`ClaimBatch`."""

    def claim(
        self, key: str, kind: str, run_id: str | None = None, *, intent: Mapping[str, Any] | None = None
    ) -> Claim:
        """Claim before the side effect (see ``StateStore.claim``)."""
        ...

    def complete(self, key: str, result: Mapping[str, Any] | None = None) -> None:
        """The side effect happened."""
        ...

    def fail(self, key: str, error: str) -> None:
        """The side effect failed; a later run may try again."""
        ...


class ClaimBatch:
    """The claims of one chunk of side effects: taken together, settled together (two writes per chunk).

    The first :meth:`claim` claims every key of the chunk in one transaction; :meth:`complete` and
    :meth:`fail` are kept until :meth:`settle`, which writes them in one transaction and releases the
    claims that were new and never used (the run's time ran out before their turn). Not thread-safe: one
    batch per chunk, used by the thread that works the chunk.
    """

    def __init__(self, store: StateStore, keys: Iterable[str], kind: str, run_id: str | None) -> None:
        self.store = store
        self.kind = kind
        self.run_id = run_id
        self._keys = list(dict.fromkeys(keys))
        self._claims: dict[str, Claim] | None = None
        self._used: set[str] = set()
        self._done: dict[str, Mapping[str, Any] | None] = {}
        self._failed: dict[str, str] = {}

    def claim(
        self, key: str, kind: str, run_id: str | None = None, *, intent: Mapping[str, Any] | None = None
    ) -> Claim:
        """The key's claim from the chunk's one claiming transaction (another key: claimed on its own)."""
        if key not in self._keys or intent is not None or kind != self.kind:
            return self.store.claim(key, kind, run_id, intent=intent)
        if self._claims is None:
            self._claims = self.store.claim_many(self._keys, self.kind, self.run_id)
        self._used.add(key)
        return self._claims[key]

    def complete(self, key: str, result: Mapping[str, Any] | None = None) -> None:
        """Kept until :meth:`settle`."""
        self._failed.pop(key, None)
        self._done[key] = result

    def fail(self, key: str, error: str) -> None:
        """Kept until :meth:`settle`."""
        self._done.pop(key, None)
        self._failed[key] = error

    def settle(self) -> None:
        """Write the completions and failures; release new claims no side effect followed."""
        claims = self._claims or {}
        released = [k for k, c in claims.items() if c.state is ClaimState.NEW and k not in self._used]
        self.store.settle_claims(self._done, self._failed, released)
        self._done, self._failed = {}, {}


def outbound_key(number: str) -> str:
    """The ledger key of the outbound with this merchantOutboundNumber."""
    return f"ffn-outbound:{number}"


def inbound_key(number: str) -> str:
    """The ledger key of the inbound with this merchantInboundNumber."""
    return f"ffn-inbound:{number}"


def outbound_once(
    store: ClaimLedger,
    ffn: FfnClient,
    number: str,
    payload: Mapping[str, Any] | None,
    *,
    run_id: str,
    existing: Mapping[str, Any] | None = None,
    before_post: Callable[[], None] | None = None,
) -> tuple[JsonObject, bool] | None:
    """The outbound of this merchant number: (``{outboundId, warehouseId, adopted}``, created now).

    ``existing`` is what a bulk lookup already found; ``payload`` None means "adopt only": when nothing is
    found the claim fails and None is returned. API errors of the POST fail the claim and propagate (the
    client itself looks the number up after a transient failure before it sends again).
    """
    key = outbound_key(number)
    outbounds = ffn.outbounds
    claim = store.claim(key, OUTBOUND_KIND, run_id=run_id)
    if claim.state is ClaimState.DONE:
        return dict(claim.result or {}), False
    if existing is None and claim.state in (ClaimState.PENDING, ClaimState.FAILED):
        found = outbounds.find_by_merchant_number(number)
        if found is not None:
            existing = {
                "outboundId": found.outbound_id,
                "status": found.status,
                "warehouseId": found.warehouse_id,
            }
    if existing is not None:
        result = {
            "outboundId": existing.get("outboundId"),
            "warehouseId": existing.get("warehouseId"),
            "adopted": True,
        }
        store.complete(key, result)
        return result, False
    if payload is None:  # an adopt whose outbound vanished since the bulk lookup: decide next run
        store.fail(key, "outbound not found any more")
        return None
    if before_post is not None:
        before_post()
    try:
        created = outbounds.create(payload)
    except ClientError as exc:
        store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    result = {"outboundId": created.outbound_id, "warehouseId": created.warehouse_id, "adopted": False}
    store.complete(key, result)
    return result, True


def find_inbound(ffn: FfnClient, number: str, warehouse: str) -> JsonObject | None:
    """The inbound FFN holds under this merchantInboundNumber for this warehouse (the first by id)."""
    found = [
        i
        for i in ffn.inbounds.iter_by_references([number])
        if str(i.get("merchantInboundNumber") or "").strip() == number and i.get("warehouseId") == warehouse
    ]
    return min(found, key=lambda i: str(i.get("inboundId"))) if found else None


def inbound_once(
    store: StateStore,
    ffn: FfnClient,
    body: Mapping[str, Any],
    *,
    run_id: str,
    before_post: Callable[[], None] | None = None,
) -> tuple[str, bool]:
    """The inbound ``body`` announces (its number, into its warehouse): (inboundId, created now).

    Item-level API errors fail the claim and propagate; the next run looks the number up before posting.
    """
    number, warehouse = str(body["merchantInboundNumber"]), str(body["warehouseId"])
    key = inbound_key(number)
    claim = store.claim(key, INBOUND_KIND, run_id=run_id)
    if claim.state is ClaimState.DONE:
        return str((claim.result or {}).get("inboundId")), False

    def adopt(found: JsonObject, why: str) -> tuple[str, bool]:
        log.info(
            "inbound %s into %s exists (%s); adopting %s", number, warehouse, why, found.get("inboundId")
        )
        store.complete(key, {"inboundId": found.get("inboundId"), "warehouseId": warehouse, "adopted": True})
        return str(found.get("inboundId")), False

    if claim.state in (ClaimState.PENDING, ClaimState.FAILED):
        found = find_inbound(ffn, number, warehouse)
        if found is not None:
            return adopt(found, f"an earlier attempt ({claim.state.value}) made it")
    if before_post is not None:
        before_post()
    try:
        created = ffn.inbounds.create(body)
    except (TransientError, ValidationFailed) as exc:
        lost = isinstance(exc, TransientError) or exc.code == "Shared_DuplicateKey"
        found = find_inbound(ffn, number, warehouse) if lost else None
        if found is not None:
            return adopt(found, f"the answer to our POST was lost: {type(exc).__name__}")
        store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    except JtlApiError as exc:
        store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    store.complete(key, {"inboundId": created.inbound_id, "warehouseId": warehouse, "adopted": False})
    return created.inbound_id, True
