"""The reporting migration (order line amounts, kpi_history, order_date index) and the KPI history."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from jtl_automator.store import KpiValue, StateStore

BEFORE = "e7b41c9d2f60"  # price_history, the revision this one follows


def _flatten(diff: list[object]) -> list[object]:
    out: list[object] = []
    for item in diff:
        out.extend(item if isinstance(item, list) else [item])
    return out


@pytest.mark.slow
def test_a_database_with_order_lines_upgrades_and_downgrades(store_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from jtl_automator.store.models import Base
    from jtl_automator.store.store import _alembic_config

    engine = sa.create_engine(store_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, BEFORE)
        conn.execute(
            sa.text(
                "INSERT INTO order_ledger (order_number, status, created_at, updated_at) "
                "VALUES ('AU-1', 'shipped', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO order_lines (order_number, position, sku, warehouse_id, quantity, order_day) "
                "VALUES ('AU-1', 1, 'A', 'W1', 2.0, '2026-11-20')"
            )
        )
    engine.dispose()
    store = StateStore(store_url)  # migrates to head
    try:
        (line,) = store.order_lines_of("AU-1")
        assert (line.quantity, line.net_amount, line.gross_amount, line.cost_amount) == (
            2.0,
            None,
            None,
            None,
        )
        inspector = sa.inspect(store.engine)
        assert "kpi_history" in inspector.get_table_names()
        assert ["order_date"] in [ix["column_names"] for ix in inspector.get_indexes("order_ledger")]
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        names = ("kpi_history", "net_amount", "gross_amount", "cost_amount", "ix_order_ledger_order_date")
        mine = [d for d in _flatten(diff) if any(t in repr(d) for t in names)]
        assert mine == []
        if store.dialect == "postgresql":
            assert diff == []
    finally:
        store.dispose()
    with engine.begin() as conn:  # and back down: the amounts, the history and the index go
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, BEFORE)
    inspector = sa.inspect(engine)
    assert "kpi_history" not in inspector.get_table_names()
    assert {c["name"] for c in inspector.get_columns("order_lines")} == {
        "order_number",
        "position",
        "sku",
        "warehouse_id",
        "quantity",
        "order_day",
    }
    engine.dispose()


@pytest.mark.slow
def test_replacing_a_periods_figures_leaves_the_other_periods(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        week = ("weekly", "2026-W47", date(2026, 11, 16), date(2026, 11, 22))
        store.replace_kpis(
            *week, [KpiValue("revenue_net", 100.0), KpiValue("stock_value", 5.0, "W1")], run_id="a"
        )
        store.replace_kpis(
            "weekly",
            "2026-W46",
            date(2026, 11, 9),
            date(2026, 11, 15),
            [KpiValue("revenue_net", 80.0)],
            run_id="b",
        )
        store.replace_kpis(
            *week,
            [
                KpiValue("revenue_net", 120.0),
                KpiValue("return_rate", None, missing="no source yet"),
                KpiValue("margin_pct", float("nan"), missing="no cost"),
            ],
            run_id="c",
        )
        rows = {(r.period, r.kpi, r.dimension): r for r in store.kpi_history("weekly")}
        assert set(rows) == {
            ("2026-W46", "revenue_net", ""),
            ("2026-W47", "revenue_net", ""),
            ("2026-W47", "return_rate", ""),
            ("2026-W47", "margin_pct", ""),
        }  # W47's stock_value of the first run is gone with it
        assert (
            rows[("2026-W47", "revenue_net", "")].value == 120.0
            and rows[("2026-W46", "revenue_net", "")].run_id == "b"
        )
        assert rows[("2026-W47", "return_rate", "")].missing == "no source yet"
        assert rows[("2026-W47", "margin_pct", "")].value is None  # NaN is kept as unknown, with the reason
        assert rows[("2026-W47", "margin_pct", "")].missing == "no cost"
        assert [r.period for r in store.kpi_history("weekly", kpis=["revenue_net"])] == [
            "2026-W46",
            "2026-W47",
        ]
        assert store.kpi_history("weekly", periods=["2026-W46"])[0].value == 80.0
        assert store.kpi_history("daily") == []
    finally:
        store.dispose()
