"""The shop sync check's memory: incidents with their history and alert state, followed orders, prices.

- **incidents** (``shop_sync_incidents``): one row per incident from the run that opened it until the run
  that cleared it; at most one open incident per kind and key (``open_key``). ``first_seen`` is what an
  alert calls "stuck since". A run's opens, updates and clears are one transaction (:meth:`apply`).
- **alert state**: an incident is alerted once when it is raised and once when it clears after that
  (:meth:`alerts_due`, :meth:`mark_alerted`); the notifier's side-effect ledger keeps a retried send from
  going out twice, this state keeps the next run from sending it again.
- **followed orders** (``shop_sync_orders``): every shop order read by cursor, with its cart lines, until
  Wawi has it and it is older than the recheck window.
- **channel prices** (``wawi_channel_price_cache``): an item's sales-channel prices with the item's
  ``Changed`` they were read at, so a run reads them again only for items that changed.

Timestamps are kept in UTC; SQLite hands them back naive, so every read makes them aware again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from jtl_automator.store.models import ShopSyncIncidentRow, ShopSyncOrderRow, WawiChannelPriceCacheRow
from jtl_automator.store.store import StateStore

#: Alert states of an incident.
ALERT_NONE = "none"
ALERT_RAISED = "raised"
ALERT_CLEARED = "cleared"
#: Watermark job of the order cursor (the last shop order id read, zero-padded so marks compare as text).
ORDER_CURSOR = "shop-sync-check:order-cursor"
_CURSOR_DIGITS = 20
#: Keys per statement (SQLite's bound-parameter limit).
_CHUNK = 500


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _rowcount(result: Any) -> int:
    """Rows a DML statement touched (``Result`` is typed without it; the cursor result has it)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


@dataclass(frozen=True)
class Incident:
    """One incident as the state database holds it."""

    id: int
    kind: str
    key: str
    first_seen: datetime
    last_seen: datetime
    raised_at: datetime | None
    cleared_at: datetime | None
    clear_reason: str | None
    details: dict[str, Any]
    alert_state: str
    alerted_at: datetime | None

    @property
    def is_open(self) -> bool:
        """Not cleared yet."""
        return self.cleared_at is None


@dataclass(frozen=True)
class IncidentChange:
    """One action of a run's incident plan (``jtl_automator.transforms.shop_incidents``)."""

    action: str  # open | update | clear
    kind: str
    key: str
    first_seen: datetime
    raise_now: bool = False
    id: int | None = None
    clear_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FollowedOrder:
    """A shop order the check follows (see ``ShopSyncOrderRow``)."""

    shop_order_id: int
    order_no: str
    created_at: datetime
    state: str | None = None
    cart_id: int | None = None
    total: float | None = None
    lines: list[dict[str, Any]] | None = None
    wawi_order_id: int | None = None
    wawi_status: str | None = None
    matched_at: datetime | None = None
    read_at: datetime | None = None
    checked_at: datetime | None = None


@dataclass(frozen=True)
class WawiMatch:
    """What Wawi said about one order number: its sales order (None: none yet) and that order's state."""

    order_no: str
    wawi_order_id: int | None
    wawi_status: str | None = None


@dataclass(frozen=True)
class CachedChannelPrices:
    """An item's sales-channel prices as read at ``read_at``, when its ``Changed`` was ``changed``."""

    item_id: int
    changed: str | None
    prices: list[dict[str, Any]]
    read_at: datetime


def _incident(row: ShopSyncIncidentRow) -> Incident:
    first, last = _aware(row.first_seen), _aware(row.last_seen)
    assert first is not None and last is not None
    return Incident(
        id=row.id,
        kind=row.kind,
        key=row.key,
        first_seen=first,
        last_seen=last,
        raised_at=_aware(row.raised_at),
        cleared_at=_aware(row.cleared_at),
        clear_reason=row.clear_reason,
        details=dict(row.details or {}),
        alert_state=row.alert_state,
        alerted_at=_aware(row.alerted_at),
    )


def _order(row: ShopSyncOrderRow) -> FollowedOrder:
    created = _aware(row.created_at)
    assert created is not None
    return FollowedOrder(
        shop_order_id=row.shop_order_id,
        order_no=row.order_no,
        created_at=created,
        state=row.state,
        cart_id=row.cart_id,
        total=row.total,
        lines=list(row.lines) if row.lines is not None else None,
        wawi_order_id=row.wawi_order_id,
        wawi_status=row.wawi_status,
        matched_at=_aware(row.matched_at),
        read_at=_aware(row.read_at),
        checked_at=_aware(row.checked_at),
    )


class ShopSyncStore:
    """The shop sync check's tables in one state database."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def _insert(self) -> Any:
        return postgresql.insert if self.store.dialect == "postgresql" else sqlite.insert

    # -- incidents ----------------------------------------------------------------------------------

    def open_incidents(self, kinds: Iterable[str] | None = None) -> list[Incident]:
        """Every open incident (of ``kinds``), oldest first."""
        stmt = select(ShopSyncIncidentRow).where(ShopSyncIncidentRow.cleared_at.is_(None))
        if kinds is not None:
            stmt = stmt.where(ShopSyncIncidentRow.kind.in_(list(kinds)))
        with self.store.session() as s:
            rows = s.execute(stmt.order_by(ShopSyncIncidentRow.first_seen, ShopSyncIncidentRow.id)).scalars()
            return [_incident(r) for r in rows]

    def apply(self, changes: Sequence[IncidentChange], now: datetime, run_id: str | None) -> dict[str, int]:
        """A run's opens, updates and clears, in one transaction; returns how many of each (and raised).

        An open that finds an open incident of the same kind and key (a run that overlapped this one)
        leaves that one alone rather than failing the run.
        """
        at = _utc(now)
        counts = {"opened": 0, "updated": 0, "cleared": 0, "raised": 0}
        with self.store.session() as s:
            insert = self._insert()
            for change in changes:
                if change.action == "open":
                    values = {
                        "kind": change.kind,
                        "key": change.key,
                        "open_key": change.key,
                        "first_seen": _utc(change.first_seen),
                        "last_seen": at,
                        "raised_at": at if change.raise_now else None,
                        "details": change.details,
                        "alert_state": ALERT_NONE,
                        "run_id": run_id,
                    }
                    done = s.execute(
                        insert(ShopSyncIncidentRow)
                        .values(**values)
                        .on_conflict_do_nothing(index_elements=["kind", "open_key"])
                    )
                    added = _rowcount(done)
                    counts["opened"] += added
                    counts["raised"] += added if change.raise_now else 0
                elif change.action == "update":
                    row = s.get(ShopSyncIncidentRow, change.id)
                    if row is None or row.cleared_at is not None:
                        continue
                    row.last_seen = at
                    row.details = change.details
                    row.run_id = run_id
                    if change.raise_now and row.raised_at is None:
                        row.raised_at = at
                        counts["raised"] += 1
                    counts["updated"] += 1
                elif change.action == "clear":
                    row = s.get(ShopSyncIncidentRow, change.id)
                    if row is None or row.cleared_at is not None:
                        continue
                    row.cleared_at = at
                    row.clear_reason = change.clear_reason
                    row.open_key = None
                    row.run_id = run_id
                    counts["cleared"] += 1
                else:
                    raise ValueError(f"unknown incident action {change.action!r}")
        return counts

    def alerts_due(self, kinds: Iterable[str] | None = None) -> tuple[list[Incident], list[Incident]]:
        """Incidents to announce: raised and not yet alerted; cleared after their raise was alerted."""
        raised = and_(
            ShopSyncIncidentRow.cleared_at.is_(None),
            ShopSyncIncidentRow.raised_at.is_not(None),
            ShopSyncIncidentRow.alert_state == ALERT_NONE,
        )
        cleared = and_(
            ShopSyncIncidentRow.cleared_at.is_not(None), ShopSyncIncidentRow.alert_state == ALERT_RAISED
        )
        stmt = select(ShopSyncIncidentRow).where(or_(raised, cleared))
        if kinds is not None:
            stmt = stmt.where(ShopSyncIncidentRow.kind.in_(list(kinds)))
        with self.store.session() as s:
            rows = [_incident(r) for r in s.execute(stmt.order_by(ShopSyncIncidentRow.id)).scalars()]
        return [r for r in rows if r.is_open], [r for r in rows if not r.is_open]

    def mark_alerted(self, ids: Iterable[int], state: str, at: datetime) -> int:
        """Record that the alert of ``state`` (raised or cleared) went out for these incidents."""
        if state not in (ALERT_RAISED, ALERT_CLEARED):
            raise ValueError(f"not an alert state to record: {state!r}")
        wanted = sorted(set(ids))
        done = 0
        with self.store.session() as s:
            for chunk in _chunks(wanted):
                result = s.execute(
                    update(ShopSyncIncidentRow)
                    .where(ShopSyncIncidentRow.id.in_(list(chunk)))
                    .values(alert_state=state, alerted_at=_utc(at))
                )
                done += _rowcount(result)
        return done

    def incidents(
        self, *, since: datetime | None = None, kinds: Iterable[str] | None = None, limit: int | None = None
    ) -> list[Incident]:
        """Open incidents, and (with ``since``) those cleared since then; oldest first."""
        cond: Any = ShopSyncIncidentRow.cleared_at.is_(None)
        if since is not None:
            cond = or_(cond, ShopSyncIncidentRow.cleared_at >= _utc(since))
        stmt = select(ShopSyncIncidentRow).where(cond)
        if kinds is not None:
            stmt = stmt.where(ShopSyncIncidentRow.kind.in_(list(kinds)))
        stmt = stmt.order_by(ShopSyncIncidentRow.first_seen, ShopSyncIncidentRow.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.store.session() as s:
            return [_incident(r) for r in s.execute(stmt).scalars()]

    # -- followed orders ----------------------------------------------------------------------------

    def order_cursor(self) -> int:
        """The last shop order id read (0: none yet)."""
        value = self.store.get_watermark(ORDER_CURSOR)
        return int(value) if value else 0

    def advance_order_cursor(self, last_id: int) -> int:
        """Move the cursor forward only (two runs finishing out of order never move it back)."""
        stored = self.store.advance_watermark(ORDER_CURSOR, f"{int(last_id):0{_CURSOR_DIGITS}d}")
        return int(stored)

    def followed_orders(self) -> list[FollowedOrder]:
        """Every followed order, oldest first."""
        stmt = select(ShopSyncOrderRow).order_by(ShopSyncOrderRow.created_at, ShopSyncOrderRow.shop_order_id)
        with self.store.session() as s:
            return [_order(r) for r in s.execute(stmt).scalars()]

    def record_orders(self, orders: Sequence[FollowedOrder], at: datetime) -> int:
        """New orders are added; orders read again get their shop state (their lines are kept)."""
        by_id = {o.shop_order_id: o for o in orders}
        moment = _utc(at)
        with self.store.session() as s:
            for chunk in _chunks(sorted(by_id)):
                known = {
                    row.shop_order_id: row
                    for row in s.execute(
                        select(ShopSyncOrderRow).where(ShopSyncOrderRow.shop_order_id.in_(list(chunk)))
                    ).scalars()
                }
                for order_id in chunk:
                    order = by_id[order_id]
                    row = known.get(order_id)
                    if row is None:
                        s.add(
                            ShopSyncOrderRow(
                                shop_order_id=order.shop_order_id,
                                order_no=order.order_no,
                                cart_id=order.cart_id,
                                state=order.state,
                                created_at=_utc(order.created_at),
                                total=order.total,
                                lines=order.lines,
                                read_at=moment,
                            )
                        )
                    else:
                        row.state = order.state
                        row.read_at = moment
                        if row.lines is None and order.lines is not None:
                            row.lines = order.lines
        return len(by_id)

    def record_matches(self, matches: Iterable[WawiMatch], at: datetime) -> int:
        """What Wawi said of each order number this run (matched, its state, or not there yet)."""
        moment = _utc(at)
        by_number = {m.order_no: m for m in matches}
        updated = 0
        with self.store.session() as s:
            for chunk in _chunks(sorted(by_number)):
                rows = s.execute(
                    select(ShopSyncOrderRow).where(ShopSyncOrderRow.order_no.in_(list(chunk)))
                ).scalars()
                for row in rows:
                    match = by_number[row.order_no]
                    row.checked_at = moment
                    if match.wawi_order_id is not None:
                        if row.wawi_order_id is None:
                            row.matched_at = moment
                        row.wawi_order_id = match.wawi_order_id
                        row.wawi_status = match.wawi_status
                    updated += 1
        return updated

    def prune_orders(self, created_before: datetime, keep: Iterable[str] = ()) -> int:
        """Forget orders Wawi has (or the shop cancelled) created before ``created_before``, except ``keep``.

        Orders Wawi does not have stay (they may be stuck), and so do the ones an open incident names.
        """
        kept = set(keep)
        with self.store.session() as s:
            stmt = select(ShopSyncOrderRow.shop_order_id, ShopSyncOrderRow.order_no).where(
                ShopSyncOrderRow.created_at < _utc(created_before),
                or_(ShopSyncOrderRow.wawi_order_id.is_not(None), ShopSyncOrderRow.state == "-1"),
            )
            gone = [order_id for order_id, number in s.execute(stmt).all() if number not in kept]
            for chunk in _chunks(gone):
                s.execute(delete(ShopSyncOrderRow).where(ShopSyncOrderRow.shop_order_id.in_(list(chunk))))
        return len(gone)

    def first_order_id_since(self, since: datetime) -> int | None:
        """The smallest id of a followed order created at or after ``since`` (where a recheck starts)."""
        stmt = select(func.min(ShopSyncOrderRow.shop_order_id)).where(
            ShopSyncOrderRow.created_at >= _utc(since)
        )
        with self.store.session() as s:
            value = s.execute(stmt).scalar_one_or_none()
        return int(value) if value is not None else None

    # -- channel prices -----------------------------------------------------------------------------

    def channel_prices(self, item_ids: Iterable[int]) -> dict[int, CachedChannelPrices]:
        """The cached sales-channel prices of these items (items never read are absent)."""
        wanted = sorted({int(i) for i in item_ids})
        found: dict[int, CachedChannelPrices] = {}
        with self.store.session() as s:
            for chunk in _chunks(wanted):
                stmt = select(WawiChannelPriceCacheRow).where(
                    WawiChannelPriceCacheRow.item_id.in_(list(chunk))
                )
                for row in s.execute(stmt).scalars():
                    read_at = _aware(row.read_at)
                    assert read_at is not None
                    found[row.item_id] = CachedChannelPrices(
                        row.item_id, row.changed, list(row.prices or []), read_at
                    )
        return found

    def write_channel_prices(
        self, prices: Mapping[int, tuple[str | None, list[dict[str, Any]]]], at: datetime
    ) -> int:
        """Replace the cached prices of these items: item id -> (its ``Changed``, its price rows)."""
        moment = _utc(at)
        with self.store.session() as s:
            insert = self._insert()
            for chunk in _chunks(sorted(prices)):
                rows = [
                    {
                        "item_id": item_id,
                        "changed": prices[item_id][0],
                        "prices": prices[item_id][1],
                        "read_at": moment,
                    }
                    for item_id in chunk
                ]
                stmt = insert(WawiChannelPriceCacheRow).values(rows)
                s.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["item_id"],
                        set_={
                            "changed": stmt.excluded.changed,
                            "prices": stmt.excluded.prices,
                            "read_at": stmt.excluded.read_at,
                        },
                    )
                )
        return len(prices)


#: Columns of :func:`incidents_frame` (what the daily operations report's "Shop sync" tab reads).
REPORT_COLUMNS = ("kind", "key", "state", "since", "cleared_at", "detail", "shop", "wawi")


def incidents_frame(store: StateStore, cleared_since: datetime) -> Any:
    """Open incidents (raised or watched) and those cleared since ``cleared_since``, as a frame.

    ``state``: ``raised``, ``watching`` or ``cleared``; ``since`` and ``cleared_at`` are UTC timestamps.
    """
    import pandas as pd

    rows = ShopSyncStore(store).incidents(since=cleared_since)
    frame = pd.DataFrame(
        {
            "kind": pd.Series([i.kind for i in rows], dtype="string"),
            "key": pd.Series([i.key for i in rows], dtype="string"),
            "state": pd.Series(
                ["cleared" if i.cleared_at else ("raised" if i.raised_at else "watching") for i in rows],
                dtype="string",
            ),
            "since": pd.Series([i.first_seen for i in rows], dtype="datetime64[us, UTC]"),
            "cleared_at": pd.Series([i.cleared_at for i in rows], dtype="datetime64[us, UTC]"),
            "detail": pd.Series([str(i.details.get("detail") or "") for i in rows], dtype="string"),
            "shop": pd.Series([i.details.get("shop_value") for i in rows], dtype="float64"),
            "wawi": pd.Series([i.details.get("wawi_value") for i in rows], dtype="float64"),
        }
    )
    return frame


def check_has_run(store: StateStore) -> bool:
    """Whether the shop sync check ever recorded a run here (its order cursor exists)."""
    return store.get_watermark(ORDER_CURSOR) is not None
