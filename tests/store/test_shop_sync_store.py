"""The shop sync check's tables on SQLite and PostgreSQL: incidents, alert state, followed orders, prices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import (
    ALERT_CLEARED,
    ALERT_RAISED,
    FollowedOrder,
    IncidentChange,
    ShopSyncStore,
    WawiMatch,
)
from tests.support.migrations import database_at, downgrade_to, schema_diff, tables

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
BEFORE = "b8d3f1a9c6e2"  # workflows, the revision this one follows


@pytest.fixture
def shop(store_url: str) -> Iterator[ShopSyncStore]:
    store = StateStore(store_url)
    try:
        yield ShopSyncStore(store)
    finally:
        store.dispose()


def _open(kind: str, key: str, first: datetime, raise_now: bool = False) -> IncidentChange:
    return IncidentChange("open", kind, key, first, raise_now, details={"detail": f"{key} is off"})


def test_an_incident_lives_from_open_to_clear_with_its_first_sight(shop: ShopSyncStore) -> None:
    stuck_since = NOW - timedelta(hours=2)
    counts = shop.apply([_open("stuck_order", "B1", stuck_since, True)], NOW, "run-1")
    assert counts == {"opened": 1, "updated": 0, "cleared": 0, "raised": 1}
    (incident,) = shop.open_incidents()
    assert (incident.first_seen, incident.raised_at, incident.last_seen) == (stuck_since, NOW, NOW)
    assert incident.details == {"detail": "B1 is off"} and incident.alert_state == "none"
    later = NOW + timedelta(minutes=15)
    shop.apply(
        [IncidentChange("update", "stuck_order", "B1", stuck_since, id=incident.id, details={"n": 2})],
        later,
        "r2",
    )
    (kept,) = shop.open_incidents()
    assert (kept.first_seen, kept.raised_at, kept.last_seen, kept.details) == (
        stuck_since,
        NOW,
        later,
        {"n": 2},
    )
    shop.apply(
        [IncidentChange("clear", "stuck_order", "B1", stuck_since, id=incident.id, clear_reason="in Wawi")],
        later,
        "r3",
    )
    assert shop.open_incidents() == []
    (cleared,) = shop.incidents(since=NOW)
    assert cleared.cleared_at == later and cleared.clear_reason == "in Wawi" and not cleared.is_open


def test_a_condition_that_comes_back_is_a_new_incident(shop: ShopSyncStore) -> None:
    shop.apply([_open("stale_stock", "A", NOW)], NOW, "r1")
    (first,) = shop.open_incidents()
    shop.apply([IncidentChange("clear", "stale_stock", "A", NOW, id=first.id, clear_reason="ok")], NOW, "r2")
    shop.apply([_open("stale_stock", "A", NOW + timedelta(hours=1))], NOW, "r3")
    (again,) = shop.open_incidents()
    assert again.id != first.id and again.first_seen == NOW + timedelta(hours=1)


def test_a_second_open_of_the_same_key_leaves_the_first_alone(shop: ShopSyncStore) -> None:
    shop.apply([_open("stale_stock", "A", NOW - timedelta(hours=1))], NOW, "r1")
    counts = shop.apply([_open("stale_stock", "A", NOW)], NOW, "r2")
    assert counts["opened"] == 0
    (only,) = shop.open_incidents()
    assert only.first_seen == NOW - timedelta(hours=1)


def test_alerts_are_due_once_when_raised_and_once_when_cleared(shop: ShopSyncStore) -> None:
    shop.apply(
        [
            _open("stuck_order", "B1", NOW, raise_now=True),
            _open("stale_stock", "A", NOW),  # watched, not raised: no alert
        ],
        NOW,
        "r1",
    )
    raised, cleared = shop.alerts_due()
    assert [i.key for i in raised] == ["B1"] and cleared == []
    shop.mark_alerted([raised[0].id], ALERT_RAISED, NOW)
    assert shop.alerts_due() == ([], [])
    by_key = {i.key: i for i in shop.open_incidents()}
    shop.apply(
        [
            IncidentChange("clear", "stuck_order", "B1", NOW, id=by_key["B1"].id, clear_reason="ok"),
            IncidentChange("clear", "stale_stock", "A", NOW, id=by_key["A"].id, clear_reason="ok"),
        ],
        NOW,
        "r2",
    )
    raised, cleared = shop.alerts_due()
    assert raised == [] and [i.key for i in cleared] == ["B1"]  # A was never announced
    shop.mark_alerted([cleared[0].id], ALERT_CLEARED, NOW)
    assert shop.alerts_due() == ([], [])


def test_an_incident_raised_in_a_later_run_is_raised_once(shop: ShopSyncStore) -> None:
    shop.apply([_open("stale_stock", "A", NOW)], NOW, "r1")
    (incident,) = shop.open_incidents()
    change = IncidentChange("update", "stale_stock", "A", NOW, raise_now=True, id=incident.id)
    assert shop.apply([change], NOW + timedelta(minutes=30), "r2")["raised"] == 1
    assert shop.apply([change], NOW + timedelta(minutes=45), "r3")["raised"] == 0
    assert shop.open_incidents()[0].raised_at == NOW + timedelta(minutes=30)


def test_unknown_actions_and_alert_states_are_refused(shop: ShopSyncStore) -> None:
    with pytest.raises(ValueError, match="unknown incident action"):
        shop.apply([IncidentChange("delete", "stale_stock", "A", NOW)], NOW, None)
    with pytest.raises(ValueError, match="alert state"):
        shop.mark_alerted([1], "none", NOW)


def test_followed_orders_keep_their_lines_and_learn_what_wawi_says(shop: ShopSyncStore) -> None:
    orders = [
        FollowedOrder(1, "B-1", NOW - timedelta(hours=3), "1", 11, 9.5, [{"sku": "A", "qty": 1.0}]),
        FollowedOrder(2, "B-2", NOW - timedelta(minutes=5), "1", 12, 20.0, [{"sku": "B", "qty": 2.0}]),
    ]
    assert shop.record_orders(orders, NOW) == 2
    shop.record_orders([FollowedOrder(1, "B-1", NOW - timedelta(hours=3), "-1", 11, 9.5, None)], NOW)
    shop.record_matches([WawiMatch("B-1", 501, "open"), WawiMatch("B-2", None)], NOW)
    by_no = {o.order_no: o for o in shop.followed_orders()}
    assert by_no["B-1"].state == "-1" and by_no["B-1"].lines == [{"sku": "A", "qty": 1.0}]
    assert (by_no["B-1"].wawi_order_id, by_no["B-1"].wawi_status, by_no["B-1"].matched_at) == (
        501,
        "open",
        NOW,
    )
    assert by_no["B-2"].wawi_order_id is None and by_no["B-2"].checked_at == NOW
    assert shop.first_order_id_since(NOW - timedelta(hours=1)) == 2
    assert shop.first_order_id_since(NOW + timedelta(hours=1)) is None


def test_pruning_keeps_orders_wawi_lacks_and_those_an_incident_names(shop: ShopSyncStore) -> None:
    old = NOW - timedelta(days=3)
    shop.record_orders(
        [
            FollowedOrder(1, "IN-WAWI", old, "1"),
            FollowedOrder(2, "STUCK", old, "1"),
            FollowedOrder(3, "CANCELLED-OPEN", old, "-1"),
            FollowedOrder(4, "YOUNG", NOW, "1"),
        ],
        NOW,
    )
    shop.record_matches(
        [
            WawiMatch("IN-WAWI", 1, "open"),
            WawiMatch("CANCELLED-OPEN", 3, "open"),
            WawiMatch("YOUNG", 4, "open"),
        ],
        NOW,
    )
    assert shop.prune_orders(NOW - timedelta(days=1), keep={"CANCELLED-OPEN"}) == 1
    assert {o.order_no for o in shop.followed_orders()} == {"STUCK", "CANCELLED-OPEN", "YOUNG"}


def test_the_order_cursor_moves_forward_only_and_compares_as_numbers(shop: ShopSyncStore) -> None:
    assert shop.order_cursor() == 0
    assert shop.advance_order_cursor(999) == 999
    assert shop.advance_order_cursor(1002) == 1002  # as text "1002" < "999"; padded it is not
    assert shop.advance_order_cursor(5) == 1002
    assert shop.order_cursor() == 1002


def test_channel_prices_are_cached_per_item_and_replaced(shop: ShopSyncStore) -> None:
    rows = [{"SalesChannelId": "1-2-1", "CustomerGroupId": 0, "FromQuantity": 0, "NetPrice": 9.5}]
    shop.write_channel_prices({1: ("2026-12-01T00:00:00", rows), 2: (None, [])}, NOW)
    shop.write_channel_prices({1: ("2026-12-02T00:00:00", [])}, NOW + timedelta(hours=1))
    cached = shop.channel_prices([1, 2, 3])
    assert set(cached) == {1, 2}
    assert (cached[1].changed, cached[1].prices, cached[1].read_at) == (
        "2026-12-02T00:00:00",
        [],
        NOW + timedelta(hours=1),
    )
    assert cached[2].prices == [] and cached[2].changed is None


@pytest.mark.slow
def test_many_keys_go_through_in_chunks(shop: ShopSyncStore) -> None:
    orders = [FollowedOrder(i, f"B-{i}", NOW, "1") for i in range(1, 1201)]
    assert shop.record_orders(orders, NOW) == 1200
    assert shop.record_matches([WawiMatch(f"B-{i}", i, "open") for i in range(1, 1201)], NOW) == 1200
    shop.write_channel_prices({i: (None, []) for i in range(1, 1201)}, NOW)
    assert len(shop.channel_prices(range(1, 1201))) == 1200
    shop.apply([_open("stale_stock", f"S{i}", NOW, True) for i in range(1, 601)], NOW, "r")
    raised, _ = shop.alerts_due()
    assert shop.mark_alerted([i.id for i in raised], ALERT_RAISED, NOW) == 600


@pytest.mark.slow
def test_the_migration_adds_the_tables_and_removes_them_again(store_url: str) -> None:
    database_at(store_url, BEFORE)
    assert not {"shop_sync_incidents", "shop_sync_orders", "wawi_channel_price_cache"} & tables(store_url)
    store = StateStore(store_url)
    try:
        ShopSyncStore(store).apply([_open("stale_stock", "A", NOW)], NOW, "r")
        for table in ("shop_sync", "wawi_channel_price_cache"):
            assert schema_diff(store, table) == []
    finally:
        store.dispose()
    downgrade_to(store_url, BEFORE)
    assert not {"shop_sync_incidents", "shop_sync_orders", "wawi_channel_price_cache"} & tables(store_url)
