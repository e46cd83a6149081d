"""Changes after the outbound, found: orders cancelled or re-addressed in Wawi once their outbound exists.

The import stage keeps listing orders whose outbound is not shipped yet and compares each with what the
outbound was made from (the ledger's ``sent_fingerprint`` of the shipping address) and with the last
change the run acted on (``change_seen``), so every change is handled once (see ``amendments``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import pandas as pd

from jtl_automator.store.store import OrderRecord
from jtl_automator.transforms.orders import address_fingerprints, outbound_address

ChangeKind = Literal["cancelled", "readdressed"]
#: Ledger statuses whose outbound may still be changed (or must be stopped by a person).
WATCHED_STATUSES = ("outbound_created",)


@dataclass(frozen=True)
class Change:
    """One order that changed in Wawi after its outbound was made."""

    order_number: str
    order_id: int
    kind: ChangeKind
    outbound_id: str | None
    fingerprint: str  # of the address Wawi has now
    change_key: str  # what was seen: acted on once, recorded as the ledger's change_seen
    address: dict[str, Any]  # the shipping address as FFN takes it, from Wawi's order now


def _value(value: Any) -> Any:
    return None if value is None or value is pd.NA or value is pd.NaT else value


def _key(kind: ChangeKind, fingerprint: str) -> str:
    return hashlib.sha256(f"{kind}:{fingerprint}".encode()).hexdigest()[:32]


def detect_changes(orders: pd.DataFrame, ledger: Mapping[str, OrderRecord]) -> list[Change]:
    """Orders with a watched outbound that Wawi now shows cancelled or with another shipping address."""
    if orders.empty:
        return []
    found: list[Change] = []
    rows = cast(
        "list[dict[str, Any]]", orders.assign(_fingerprint=address_fingerprints(orders)).to_dict("records")
    )
    for row in rows:
        number, order_id = _value(row["order_number"]), _value(row["order_id"])
        record = ledger.get(number) if number else None
        if record is None or order_id is None or record.status not in WATCHED_STATUSES:
            continue
        if record.wawi_order_id not in (None, order_id):
            continue  # the number belongs to another order (a duplicate): not this outbound's order
        fingerprint = str(row["_fingerprint"])
        kind: ChangeKind | None = None
        if bool(_value(row["is_cancelled"])):
            kind = "cancelled"
        elif record.sent_fingerprint is not None and fingerprint != record.sent_fingerprint:
            kind = "readdressed"
        if kind is None or _key(kind, fingerprint) == record.change_seen:
            continue
        found.append(
            Change(
                str(number),
                int(order_id),
                kind,
                record.outbound_id,
                fingerprint,
                _key(kind, fingerprint),
                outbound_address(row),
            )
        )
    return found
