"""The stock change log behind ``/stocks/updates``, ``/stocks/changes`` and ``?date=`` on the stock reads.

Every code path that moves a warehouse row's levels (announcing, receiving, reserving, releasing, shipping,
adjusting) calls :func:`record` right after the move with the deltas it applied, and the entry stores the
row's levels after the change, as FFN's StockChange does. Appending costs O(1) and nothing is logged for
the generated opening stock, so a 100k-SKU world pays only for the changes that really happen; reading
stock "as of" a date rolls the current levels back through the (short) log instead of keeping history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.data import FfnData, JsonObject
from jtl_automator.sandbox.ffn.common import validation_error
from jtl_automator.sandbox.state import FfnRuntime

CHANGE_TYPES = (
    "Adjustment",
    "Inbound",
    "Delivery",
    "Return",
    "ConditionChanged",
    "Announcement",
    "AnnouncementCanceled",
    "Reservation",
    "ReservationCanceled",
    "Deleted",
)
# StockChange delta field -> the level it moves.
DELTAS = {
    "quantity": "stockLevel",
    "quantityReserved": "stockLevelReserved",
    "quantityBlocked": "stockLevelBlocked",
    "quantityAnnounced": "stockLevelAnnounced",
}


def clean_number(value: float) -> float | int:
    """Keep whole quantities as ints and cut float noise, so responses read like FFN's decimals."""
    rounded = round(value, 6)
    return int(rounded) if float(rounded).is_integer() else rounded


def record(
    ffn: FfnData,
    rt: FfnRuntime,
    row: JsonObject,
    change_type: str,
    now: str,
    *,
    deltas: Mapping[str, float],
    outbound_item: JsonObject | None = None,
    inbound_item: JsonObject | None = None,
    notification_item: JsonObject | None = None,
    note: str | None = None,
    by_fulfiller: bool = False,
    pending: Mapping[str, float] | None = None,
) -> JsonObject:
    """Append the StockChange for a move of ``row`` (a per-warehouse stock row) by ``deltas``.

    ``deltas`` maps the StockChange quantity fields (``quantity``, ``quantityReserved``, ...) to what
    was added; ``pending`` holds level moves already applied to the row but logged by later entries
    (a caller logging a net difference after the fact), so each entry shows the levels after itself.
    The previous entry of the same product and warehouse stops being ``current``.
    """
    if change_type not in CHANGE_TYPES:
        raise ValueError(f"unknown StockChange type {change_type!r}")
    log = ffn.stock_changes
    version = len(log) + 1
    while f"{version:010d}" in log:
        version += 1
    key = f"{version:010d}"
    jfsku, warehouse_id = str(row["jfsku"]), str(row["warehouseId"])
    later = pending or {}
    change: JsonObject = {
        "stockChangeId": {"warehouseId": warehouse_id, "jfsku": jfsku, "stockVersion": version},
        "fulfillerStockChangeId": None,
        **{
            level: clean_number((row.get(level) or 0) - later.get(level, 0))
            for level in ("stockLevel", "stockLevelReserved", "stockLevelBlocked", "stockLevelAnnounced")
        },
        **{name: clean_number(deltas.get(name, 0)) for name in DELTAS},
        "batch": None,
        "bestBefore": None,
        "changeType": change_type,
        "outboundItem": outbound_item,
        "inboundItem": inbound_item,
        "returnItem": None,
        "outboundShippingNotificationItem": notification_item,
        "note": note,
        "current": True,
        "modificationInfo": {"createdAt": now, "updatedAt": None, "state": "New"},
        "merchantSku": row.get("merchantSku") or "",
        "fulfillerTimestamp": now if by_fulfiller else None,
    }
    previous = rt.stock_change_heads.get((jfsku, warehouse_id))
    if previous is not None and previous in log:
        log[previous]["current"] = False
    log[key] = change
    rt.stock_change_heads[(jfsku, warehouse_id)] = key
    return change


def created_at(change: JsonObject) -> datetime | None:
    """When the change happened (its ``modificationInfo.createdAt``)."""
    stamp = (change.get("modificationInfo") or {}).get("createdAt")
    return odata.parse_timestamp(stamp) if isinstance(stamp, str) else None


def recorded_by(ffn: FfnData, when: datetime) -> list[JsonObject]:
    """The changes that had happened at ``when`` (createdAt ≤ when), oldest first."""
    return [c for c in ffn.stock_changes.values() if (t := created_at(c)) is not None and t <= when]


def changes_after(ffn: FfnData, when: datetime) -> dict[tuple[str, str], list[JsonObject]]:
    """(jfsku, warehouseId) -> the changes made after ``when``, newest first (what a roll-back undoes).

    The whole log is scanned rather than bisected: the clock is replaceable, so entries need not be in
    time order, and the log holds only what happened since the sandbox started.
    """
    newer: dict[tuple[str, str], list[JsonObject]] = {}
    for change in reversed(ffn.stock_changes.values()):
        moment = created_at(change)
        if moment is not None and moment > when:
            ident = change["stockChangeId"]
            newer.setdefault((ident["jfsku"], ident["warehouseId"]), []).append(change)
    return newer


def date_param(params: Mapping[str, Any]) -> datetime | None:
    """The ``date`` query parameter (case-blind name) as an aware datetime; junk is FFN's 400.

    An unencoded ``+`` in the offset arrives as a space and is read the way the client meant it.
    """
    raw = next((str(v) for k, v in params.items() if k.lower() == "date"), None)
    if raw is None or raw == "":
        return None
    parsed = odata.parse_timestamp(raw.strip().replace(" ", "+")) if raw.strip() else None
    if parsed is None:
        raise validation_error(f"date is not a valid date-time: {raw!r}", {"date": raw})
    return parsed
