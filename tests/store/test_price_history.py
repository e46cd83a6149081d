"""The price history: every written price with before, after, reason, rule, run and plan; on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from jtl_automator.plans import PlanScope, PlanStore
from jtl_automator.store import ClaimState, PriceChange, StateStore


@pytest.fixture
def store(store_url: str) -> Any:
    opened = StateStore(store_url)
    yield opened
    opened.dispose()


@pytest.mark.slow
def test_a_change_is_kept_with_everything_that_explains_it(store: StateStore) -> None:
    plan = PlanStore(store).create_or_get("markdown", PlanScope(), "2026-11-20").plan
    start, end = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC)
    store.record_price_change(
        PriceChange(
            item_id=7,
            sku="KAF-10007",
            target="special",
            before=12.6050,
            after=10.0756,
            reason="markdown fixed 20%",
            rule="fixed",
            source="markdown",
            run_id="run-1",
            plan_id=plan.id,
            starts_at=start,
            ends_at=end,
        )
    )
    store.record_price_change(PriceChange(item_id=7, target="base", before=None, after=9.99, run_id="run-2"))
    newest, older = store.price_history(item_ids=[7])
    assert (newest.target, newest.before, newest.after, newest.source) == ("base", None, 9.99, "rule")
    assert older.plan_id == plan.id and (older.starts_at, older.ends_at) == (start, end)
    assert (older.before, older.after, older.rule, older.sku) == (12.605, 10.0756, "fixed", "KAF-10007")
    assert [c.run_id for c in store.price_history(source="markdown")] == ["run-1"]
    assert store.price_history(run_id="run-2")[0].target == "base"
    assert store.price_history(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert store.price_history(item_ids=[8]) == []


@pytest.mark.slow
def test_the_history_row_and_the_ledger_record_are_one_transaction(store: StateStore) -> None:
    key = "price:run-1:7:base"
    assert store.claim(key, "price", "run-1", intent={"after": 9.99}).state is ClaimState.NEW
    store.record_price_change(
        PriceChange(item_id=7, target="base", after=9.99, run_id="run-1"),
        ledger_key=key,
        result={"after": 9.99},
    )
    assert store.claim(key, "price", "run-1").state is ClaimState.DONE
    with pytest.raises(KeyError, match="never claimed"):
        store.record_price_change(PriceChange(item_id=8, target="base", after=1.0), ledger_key="price:nope")
    assert store.price_history(item_ids=[8]) == []  # nothing kept when the ledger refused


@pytest.mark.slow
def test_longest_values_fit_on_both_dialects(store: StateStore) -> None:
    store.record_price_change(
        PriceChange(
            item_id=2**40,
            sku="S" * 255,
            target="T" * 100,
            before=99_999_999_999.9999,
            after=12_345_678_901.2345,
            reason="x" * 5000,
            rule="r" * 100,
            run_id="u" * 64,
        )
    )
    change = store.price_history(item_ids=[2**40])[0]
    assert change.after == 12_345_678_901.2345 and change.sku == "S" * 255


@pytest.mark.slow
def test_the_migration_matches_the_model(store: StateStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from jtl_automator.store.models import Base

    inspector = sa.inspect(store.engine)
    assert "price_history" in inspector.get_table_names()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "price_history" in repr(d)] == []
