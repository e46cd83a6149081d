"""Whole reports on the literal ledger: figures, comparisons from the KPI history, missing data in words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jtl_automator.reports import parse_period, report_definition
from jtl_automator.reports.data import ReportData, ReportParams
from jtl_automator.reports.model import Report
from jtl_automator.services.reporting import Sources, read_data, record_history, run_report
from jtl_automator.store import StateStore
from tests.reports import frames as f
from tests.reports.ledger import add_order, at, line, seed_week

PARAMS = ReportParams()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateStore]:
    """The literal ledger (read-only for the tests that use it)."""
    path = tmp_path_factory.mktemp("ledger") / "state.db"
    store = StateStore(f"sqlite:///{path}")
    seed_week(store)
    yield store
    store.dispose()


def _data(store: StateStore, name: str, period: str, as_of: datetime, **frames: object) -> ReportData:
    definition = report_definition(name)
    data = read_data(definition, parse_period(period), PARAMS, Sources(store), as_of=as_of)
    for key, frame in frames.items():
        data.frames[key] = frame  # type: ignore[assignment]
        data.missing.pop(key, None)
    return data


def _build(store: StateStore, name: str, period: str, as_of: datetime, **frames: object) -> Report:
    return report_definition(name).build(_data(store, name, period, as_of, **frames), PARAMS)


STOCK = f.stock([("S1", "W1", 10.0, 2.0, 0.0), ("S2", "W2", 4.0, 0.0, 0.0), ("S9", "W1", 3.0, 0.0, 0.0)])
ITEMS = f.items([("S1", "Espresso", "Kaffee", 4.0), ("S2", "Earl Grey", "Tee", 2.5)])


@pytest.mark.slow
def test_weekly_figures_of_the_literal_ledger(store: StateStore) -> None:
    report = _build(store, "weekly", "2026-W47", at(2026, 11, 23, 6), stock=STOCK, items=ITEMS)
    value = {item.key: item.value for item in report.kpis}
    # sold: A1 50 + A2 30 + A3 20 net; 59.5 + 35.7 + 23.8 gross; 3 + 1 + 2 units (A5 cancelled, A4 held)
    assert value["revenue_net"] == pytest.approx(100.0) and value["revenue_gross"] == pytest.approx(119.0)
    assert (value["orders"], value["units"]) == (3.0, 6.0) and value["aov_net"] == pytest.approx(100 / 3)
    # margin over costed lines: S1 40 - 16, S2 30 - 12 (A2's line has no cost) = 42 of 70
    assert value["margin"] == pytest.approx(42.0) and value["margin_pct"] == pytest.approx(0.6)
    # W1: S1 10 x 4 = 40 (S9 has no Wawi item: unpriced); W2: S2 4 x 2.5 = 10
    assert value["stock_value"] == pytest.approx(50.0)
    assert value["first_time_right"] == pytest.approx(0.6)  # A1, A2, A6 of A1, A2, A3 (held before), A4, A6
    assert value["return_rate"] is None and report.kpi("return_rate").missing == "no Wawi client configured"
    assert report.table("top_revenue").frame["sku"].tolist() == ["S2", "S1"]
    assert report.table("sales_by_day").frame["net"].tolist()[:3] == pytest.approx([70.0, 0.0, 30.0])
    stock_rows = report.table("stock_value").frame
    assert stock_rows["value"].tolist() == [40.0, 10.0] and stock_rows["unpriced_skus"].tolist() == [1, 0]
    # the ledger starts on the 15th: no history for last week and last year, said so, never a zero
    revenue = report.kpi("revenue_net")
    assert revenue.previous is not None and revenue.previous.value is None
    assert revenue.previous.missing == "no history: the order ledger starts on 2026-11-15"
    assert (
        "Dead stock value (net), Dead stock (no sale in 90 days): needs 90 days of order lines; order lines "
        "are recorded from 2026-11-15 only" in report.missing()  # one reason, said once
    )
    assert {c.table for c in report.charts} == {"sales_by_day", "top_revenue"}


#: Wawi's return lines of W47 as ``reads.wawi_returns`` gives them: A1's and A3's orders are shipped in the
#: ledger; order 109 is not in it (another channel).
RETURNS = f.returns(
    [
        (1, at(2026, 11, 17, 9), 101, "A1", "S2", 1.0, "Größe passt nicht"),
        (2, at(2026, 11, 18, 9), 103, "A3", "S1", 2.0, "Artikel defekt"),
        (3, at(2026, 11, 19, 9), 109, None, "S1", 4.0, "Artikel defekt"),
    ]
)


@pytest.mark.slow
def test_weekly_return_rate_of_the_literal_ledger(store: StateStore) -> None:
    report = _build(store, "weekly", "2026-W47", at(2026, 11, 23, 6), items=ITEMS, returns=RETURNS)
    # shipped in W47 (the journal's first shipped entries): A0 S1 x 1, A1 S1 x 1 + S2 x 2, A3 S1 x 2 = 6;
    # returned of those orders: 1 + 2 = 3 -> 50 %
    rate = report.kpi("return_rate")
    assert rate.value == pytest.approx(0.5) and rate.missing is None and rate.rag == "red"
    assert "Return rate: 3 units on 2 Wawi returns dated in the period against 6 units shipped in it" in (
        report.notes
    )
    assert any(
        n.startswith("4 units on 1 returns belong to orders the order ledger does not know")
        for n in report.notes
    )
    reasons = report.table("returns_by_reason").frame
    assert reasons["reason"].tolist() == ["Artikel defekt", "Größe passt nicht"]
    skus = report.table("returns_by_sku").frame
    assert skus["sku"].tolist() == ["S1", "S2"] and skus["rate"].tolist() == pytest.approx([0.5, 0.5])
    assert skus["name"].tolist() == ["Espresso", "Earl Grey"]
    history = {(h.kpi, h.dimension): h.value for h in report.kpi_values()}
    assert history[("return_rate", "")] == pytest.approx(0.5)
    assert history[("returned_units_by_reason", "Artikel defekt")] == 2.0

    quiet = _build(store, "weekly", "2026-W47", at(2026, 11, 23, 6), returns=RETURNS.head(0))
    assert quiet.kpi("return_rate").value == 0.0  # shipped, nothing came back: a true zero
    assert quiet.table("returns_by_reason").missing is None and quiet.table("returns_by_reason").frame.empty


@pytest.mark.slow
def test_the_return_rate_is_missing_with_its_reason_never_zero(store: StateStore) -> None:
    # W45: the ledger starts on the 15th of November, after the week
    early = _build(store, "weekly", "2026-W45", at(2026, 11, 23, 6), returns=RETURNS.head(0))
    assert early.kpi("return_rate").value is None
    assert early.kpi("return_rate").missing == "the order ledger starts on 2026-11-15, after this period"
    # W48: nothing shipped (no journal entry yet)
    later = _build(store, "weekly", "2026-W48", at(2026, 11, 30, 6), returns=RETURNS)
    assert later.kpi("return_rate").missing == (
        "no order was shipped in this period: nothing to set the returns against"
    )
    assert later.table("returns_by_sku").missing == later.kpi("return_rate").missing
    data = _data(store, "weekly", "2026-W47", at(2026, 11, 23, 6), returns=RETURNS)
    data.facts["returns_skipped"] = ["GET /returns page 1, row 2 (Id 2): ReturnDate: Field required", "x"]
    noted = report_definition("weekly").build(data, PARAMS)
    assert (
        "2 rows Wawi sent for returns do not fit its schema and were left out: GET /returns page 1, row 2 "
        "(Id 2): ReturnDate: Field required (and 1 more)" in noted.notes
    )


@pytest.mark.slow
def test_missing_sources_are_stated_never_shown_as_zero(store: StateStore) -> None:
    report = _build(store, "weekly", "2026-W47", at(2026, 11, 23, 6))  # no FFN, no Wawi
    assert report.kpi("stock_value").value is None
    assert report.kpi("stock_value").missing == "no FFN client configured"
    assert report.table("category_mix").missing == "no Wawi client configured"
    missing = report.missing()
    assert (
        "Stock value (purchase, net), Sold-out SKUs (with demand), Dead stock value (net), Stock value by "
        "warehouse, Days of cover, Dead stock (no sale in 90 days): no FFN client configured" in missing
    )
    assert "SKU names and categories are missing: no Wawi client configured" in missing
    empty = StateStore(f"sqlite:///{Path(store.url.removeprefix('sqlite:///')).with_name('empty.db')}")
    try:
        nothing = report_definition("weekly").build(
            read_data(
                report_definition("weekly"),
                parse_period("2026-W47"),
                PARAMS,
                Sources(empty),
                as_of=at(2026, 11, 23, 6),
            ),
            PARAMS,
        )
    finally:
        empty.dispose()
    assert nothing.kpi("revenue_net").value is None and nothing.kpi("orders").value is None
    assert nothing.kpi("orders").missing == "no order recorded yet: the order ledger is empty"


@pytest.mark.slow
def test_daily_operations_of_the_day_before_the_run(store: StateStore) -> None:
    runs = f.failed_runs(
        [("stock-sync", "brave-owl", "FAILED", at(2026, 11, 19, 2), at(2026, 11, 19, 2, 1), "x")]
    )
    report = _build(store, "daily", "2026-11-19", at(2026, 11, 20, 6), failed_runs=runs)
    value = {item.key: item.value for item in report.kpis}
    assert (value["orders_in"], value["outbounds_created"], value["shipped"]) == (2.0, 0.0, 0.0)  # A5, A6
    assert value["held_orders"] == 1.0  # A4, 45 hours old
    assert report.table("holds").frame.to_dict("records") == [
        {"reason": "ADDRESS_INVALID", "< 1 day": 0, "1-3 days": 1, "3-7 days": 0, "> 7 days": 0, "total": 1}
    ]
    backlog = report.table("backlog").frame
    assert backlog["order_number"].tolist() == ["A2", "A4"] and backlog["age_hours"].tolist() == [54.5, 45.0]
    assert value["failed_runs"] == 1.0 and report.kpi("failed_runs").rag == "amber"
    assert report.kpi("open_discrepancies").missing == "no inbound verification ran in the last 90 days"
    assert report.kpi("below_reorder_point").missing == (
        "no restock plan for 2026-W47 yet (the replenishment runs daily)"
    )
    assert report.kpi("stock_outs").missing == "no FFN client configured"
    assert report.kpi("backlog_orders").rag == "amber"  # 2: green at 0, red past 20
    assert [c.kind for c in report.charts] == ["stacked_bar", "line"]


@pytest.mark.slow
def test_a_later_run_for_an_earlier_day_states_the_snapshots_as_missing(store: StateStore) -> None:
    report = _build(store, "daily", "2026-11-16", at(2026, 11, 20, 6))
    assert report.kpi("orders_in").value == 2.0  # A1 and A3 (00:30 Berlin): figures of the day still count
    assert report.kpi("outbounds_created").value == 3.0 and report.kpi("shipped").value == 2.0
    held = report.kpi("held_orders")
    assert held.value is None
    assert (
        held.missing
        == "a snapshot of the moment the report runs: only the run of 2026-11-17 shows it for 2026-11-16"
    )


@pytest.mark.slow
def test_comparisons_come_from_the_kpi_history_and_a_rerun_replaces_its_period_only(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        add_order(
            store,
            "B1",
            at(2026, 11, 9, 10),
            "shipped",
            warehouse="W1",
            lines=[line(1, "S1", 2, 40.0, 47.6, 10.0, at(2026, 11, 9).date())],
        )
        add_order(
            store,
            "B2",
            at(2026, 11, 17, 10),
            "shipped",
            warehouse="W1",
            lines=[line(1, "S1", 1, 50.0, 59.5, 10.0, at(2026, 11, 17).date())],
        )
        first = run_report(
            "weekly", Sources(store), period="2026-W47", output_dir=tmp_path, now=at(2026, 11, 23, 6)
        )
        revenue = first.report.kpi("revenue_net")
        assert revenue.previous is not None and revenue.previous.value is None  # the ledger starts in W46
        # W46 recorded later (a backfill): W47 now compares against its stored figures
        run_report("weekly", Sources(store), period="2026-W46", output_dir=tmp_path, now=at(2026, 11, 23, 7))
        again = run_report(
            "weekly", Sources(store), period="2026-W47", output_dir=tmp_path, now=at(2026, 11, 23, 8)
        )
        revenue = again.report.kpi("revenue_net")
        assert revenue.previous is not None and (revenue.previous.label, revenue.previous.value) == (
            "2026-W46",
            40.0,
        )
        assert revenue.change(revenue.previous) == pytest.approx(0.25) and revenue.rag == "green"
        assert again.summary["kpis"][0]["change"] == pytest.approx(0.25)
        trend = again.report.table("trend").frame.set_index("period")
        assert trend.loc["2026-W46", "revenue_net"] == 40.0 and trend.loc["2026-W47", "revenue_net"] == 50.0
        assert trend.loc["2026-W45"].isna().all()  # not computed then: empty, not zero
        before = {(r.period, r.kpi, r.dimension): r for r in store.kpi_history("weekly")}
        rows = record_history(store, again.report, "rerun")
        after = {(r.period, r.kpi, r.dimension): r for r in store.kpi_history("weekly")}
        assert rows == len([key for key in after if key[0] == "2026-W47"])
        assert {key for key in after if key[0] == "2026-W46"} == {
            key for key in before if key[0] == "2026-W46"
        }
        assert all(after[key].computed_at == before[key].computed_at for key in after if key[0] == "2026-W46")
        assert {after[key].run_id for key in after if key[0] == "2026-W47"} == {"rerun"}
        missing = [r for r in after.values() if r.kpi == "return_rate"]
        assert missing and all(r.value is None and r.missing for r in missing)  # kept with the reason
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_dry_run_writes_the_workbook_and_keeps_no_figure(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        outcome = run_report(
            "daily",
            Sources(store),
            output_dir=tmp_path,
            dry_run=True,
            now=datetime(2026, 11, 24, 6, tzinfo=UTC),
        )
        assert outcome.summary["period"] == "2026-11-23" and outcome.summary["dry_run"] is True
        assert Path(outcome.summary["workbook"]) == tmp_path / "daily" / "2026-11-23.xlsx"
        assert Path(outcome.summary["workbook"]).is_file() and "history_rows" not in outcome.summary
        assert store.kpi_history("daily") == []
    finally:
        store.dispose()


@pytest.mark.slow
def test_the_monthly_report_lists_the_prices_the_pricing_flow_wrote(tmp_path: Path) -> None:
    from jtl_automator.store import PriceChange

    store = StateStore(f"sqlite:///{tmp_path / 'prices.db'}")
    try:
        written = [
            PriceChange(7, "base", 12.6, 10.5, sku="KAF-7", source="rule", at=at(2026, 11, 3, 5)),
            PriceChange(8, "special", 8.0, 10.0, sku="KAF-8", source="markdown", at=at(2026, 11, 20, 5)),
            PriceChange(9, "base", 5.0, 4.0, sku="KAF-9", source="plan", at=at(2026, 10, 31, 22)),  # Oct
        ]
        for change in written:
            store.record_price_change(change)
        report = _build(store, "monthly", "2026-11", at(2026, 12, 1, 6))
        assert report.kpi("price_changes").value == 2 and report.kpi("price_changes").missing is None
        rows = report.table("price_changes").frame
        assert rows["sku"].tolist() == ["KAF-7", "KAF-8"]
        assert rows["kind"].tolist() == ["price rule", "markdown"]
        assert rows["change"].tolist() == pytest.approx([0.2, -0.2])
    finally:
        store.dispose()
