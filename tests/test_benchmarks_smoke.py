"""Every benchmark at a tiny size, so they never rot; the real targets are checked by the benchmarks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS, load
from benchmarks.__main__ import main
from benchmarks._common import Metric, Result, write_results


@pytest.mark.slow
def test_ffn_bulk_read_tiny() -> None:
    result = load("ffn_bulk_read").run(skus=1500, naive_sample=40, rate=50.0, rate_seconds=0.6, rate_top=50)
    raw = result.raw
    assert raw["bulk"]["products"]["items"] == raw["bulk"]["stocks"]["items"] == 1500
    # 1,500 SKUs in pages of 1,000: two pages per resource, no extra empty page
    assert raw["bulk_requests"] == raw["lower_bound"] == 2 * math.ceil(1500 / 1000)
    assert raw["bulk"]["naive"]["requests"] == 40
    assert raw["served_bulk"] == raw["bulk_requests"] + 40 + 1  # + the warm-up page
    assert raw["throttled"]["requests"] > 0
    assert raw["achieved_rate"] <= 50 * 1.2  # the limiter holds the rate (loose: short window)
    assert raw["server_429"] == raw["throttled"]["rate_limited"] == 0
    assert "ffn_bulk_read" in result.markdown()


@pytest.mark.slow
def test_inbound_verification_tiny() -> None:
    result = load("inbound_verification").run(skus=600, rows=300, naive_sample=20)
    raw = result.raw
    assert raw["rows"] == sum(raw["counts"].values()) == sum(raw["statuses_in_sheet"].values())
    assert raw["sheet_writes"] == 1
    assert raw["served_sheets"]["values.get"] == 2  # the header rows, the header row again before writing
    assert raw["served_sheets"]["values.batchGet"] == 2  # the key columns, and again before writing
    assert raw["ffn_product_requests"] == 1
    assert raw["ffn_requests"] == raw["served_ffn"]
    for status in ("MATCH", "PENDING", "UNKNOWN_SKU", "INBOUND_NOT_FOUND", "INVALID_ROW"):
        assert raw["counts"][status] > 0, status
    assert result.metric("Sheets write requests").passed


@pytest.mark.slow
def test_inbound_1m_tiny() -> None:
    result = load("inbound_1m").run(rows=2000, products=500, copies=200)
    for case in ("unique", "stock_500", "copies_10k"):
        out = result.raw["outcomes"][case]
        assert not out["killed"] and out["rows_not_written"] == 0
        assert out["cells_written"] == 2 * out["rows"]
        assert out["table_rows"] <= 1000 and out["longest_note"] < 200
        assert result.metric(f"{case}: peak RSS of the client process").passed
    assert result.raw["outcomes"]["stock_500"]["counts"]["INVALID_ROW"] == 2000


@pytest.mark.slow
def test_reconcile_tiny() -> None:
    result = load("reconcile_1m").run(rows=5000, products=500, repeats=1, profile=False)
    raw = result.raw
    assert raw["merged_rows"] == 5000
    blank = 5000 - raw["results"]
    assert 0 < blank < 100  # about 0.25% of the rows are blank and get no result
    assert raw["best_reconcile"] > 0 and raw["best_merge"] > 0
    assert raw["traced_peak_mb"] > 0
    assert "profile" not in raw
    for status in ("MATCH", "MISMATCH", "PENDING", "UNKNOWN_SKU", "INBOUND_NOT_FOUND", "INVALID_ROW"):
        assert raw["counts"][status] > 0, status


@pytest.mark.slow
@pytest.mark.prefect
def test_order_processing_tiny() -> None:
    """Starts a Prefect test server in the benchmark's subprocess: about half a minute."""
    result = load("order_processing").run(orders=300, skus=200, repeats=1)
    raw = result.raw
    assert raw["plain"]["counts"] == raw["prefect"]["counts"]
    assert raw["prefect"]["max_outbounds_per_number"] == 1
    assert raw["prefect"]["counts"]["created"] > 0


def test_results_file_keeps_other_sections(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    first = Result("reconcile_1m", "R", {"rows": 1}, [Metric("m", "1", "<= 2x", True)])
    other = Result("ffn_bulk_read", "F", {"skus": 2}, [Metric("n", "2", "0", False)])
    write_results([first, other], path)
    write_results([Result("reconcile_1m", "R2", {"rows": 3}, [Metric("m", "3")])], path)
    text = path.read_text()
    assert "## F" in text and "**FAIL**" in text and "## R2" in text and "## R\n" not in text
    assert text.index("## F") < text.index("## R2")  # registry order, whatever order they were run in


def test_cli_rejects_unknown_names() -> None:
    with pytest.raises(SystemExit):
        main(["no_such_benchmark"])
    assert set(BENCHMARKS) == {
        "ffn_bulk_read",
        "inbound_verification",
        "reconcile_1m",
        "inbound_1m",
        "order_processing",
        "stock_sync",
        "replenishment_5m",
        "pricing_100k",
        "product_sync",
        "pricing_writes",
        "report_weekly",
        "state_db_year",
        "workflow_runner",
        "shop_page_size",
        "shop_sync_check",
        "gateway_ratelimit",
        "replenishment_dask",
    }


@pytest.mark.slow
def test_stock_sync_tiny() -> None:
    result = load("stock_sync").run(skus=600, warehouses=3, changed_share=0.02)
    raw = result.raw
    assert raw["full"]["failed"] == 0 and raw["full"]["outcomes"].get("applied", 0) > 0
    assert raw["full_sent"] <= raw["full_bound"] * 1.05
    assert 0 < raw["incremental"]["outcomes"].get("applied", 0) <= raw["changed"]
    assert raw["again"]["outcomes"].get("applied", 0) == 0
    assert raw["incr_sent"] < raw["full_sent"]


@pytest.mark.slow
def test_replenishment_5m_tiny() -> None:
    result = load("replenishment_5m").run(lines=20_000, skus=500, days=60, repeats=1, profile=False)
    raw = result.raw
    assert raw["sizes"]["lines"] == 20_000 and raw["sizes"]["stock"] == 1500
    assert raw["sizes"]["stockouts"] > 0
    assert raw["best_transform"] > 0 and raw["best_groupby"] > 0
    assert raw["lines_out"] >= raw["groups"] > 0
    assert raw["statuses"].get("order", 0) > 0 and raw["statuses"].get("no_supplier", 0) > 0
    assert "profile" not in raw


@pytest.mark.slow
def test_pricing_tiny() -> None:
    result = load("pricing_100k").run(items=3000, repeats=1)
    assert result.raw["agree"] is True  # the bare arithmetic and price_frame price every row alike
    assert sum(result.raw["statuses"].values()) == 3000
    assert result.metric("both give the same gross price on every row").passed


@pytest.mark.slow
def test_product_sync_tiny() -> None:
    result = load("product_sync").run(skus=400, missing_share=0.02, changed_share=0.02)
    raw = result.raw
    assert raw["full_cold"]["counts"]["created"] == raw["removed"] == 8
    assert raw["full_cold"]["counts"]["rejected"] == 0 and raw["full_cold"]["counts"]["updated"] > 0
    assert raw["full_warm"]["counts"]["created"] == raw["full_warm"]["counts"]["updated"] == 0
    assert raw["incremental"]["counts"]["updated"] == raw["changed"] == 8
    assert all(ratio <= 1.05 for ratio in raw["ratio"].values()), raw["ratio"]
    assert raw["full_warm"]["reads"]["supplier_reads"] == 0  # cached by the cold run
    assert "product_sync" in result.markdown()


@pytest.mark.slow
def test_pricing_writes_tiny() -> None:
    result = load("pricing_writes").run(skus=400, changed_share=0.05)
    raw = result.raw
    assert raw["exact"] and raw["writes"]["first"] > 0 and raw["writes"]["again"] == 0
    assert 0 < raw["writes"]["after"] <= raw["moved"]
    assert raw["history"] == [raw["writes"]["first"], 0, raw["writes"]["after"]]
    assert raw["reads"] <= raw["bound"] * 1.05
    assert result.passed


@pytest.mark.slow
def test_report_weekly_tiny() -> None:
    result = load("report_weekly").run(lines=3000, skus=400, repeats=1)
    raw = result.raw
    assert raw["counts"]["lines"] >= 3000 and raw["counts"]["history_lines"] >= 300
    assert raw["agree"], "report and bare baseline disagree on revenue or stock value"
    report = raw["measured"]["reports"][0]
    assert report["revenue_net"] > 0 and report["stock_value"] > 0 and report["charts"] == 2
    assert report["history_rows"] > 0 and report["workbook_bytes"] > 10_000
    assert "report_weekly" in result.markdown()
    assert result.metric("peak RSS of the client process through the first report").passed


@pytest.mark.slow
def test_state_db_year_tiny() -> None:
    result = load("state_db_year").run(days=1, sample_orders=60, orders_per_day=600)
    for engine, measured in result.raw.items():
        per_day, year = measured["per_day"], measured["year"]
        assert per_day["order_ledger"] > 0 and per_day["order_lines"] > 0 and per_day["order_events"] > 0, (
            engine
        )
        # kept for ever: a year is 365 days of growth; a 180-day journal levels off at 180 days
        assert year["order_ledger"] == pytest.approx(per_day["order_ledger"] * 365)
        assert year["inbound_checks"] == pytest.approx(per_day["inbound_checks"] * 180)
    assert "state_db_year" in result.markdown()


@pytest.mark.slow
def test_shop_page_size_tiny() -> None:
    result = load("shop_page_size").run(skus=40, pages=2, catalogue=1000, limits=(10, 20))
    limits = result.raw["limits"]
    assert [limits[n]["rows"] for n in (10, 20)] == [20, 40]  # two full pages at each limit
    assert [limits[n]["requests"] for n in (10, 20)] == [100, 50]  # ceil(1000 / limit)
    for measured in limits.values():
        # the sandbox slept the cost model's time on every page, on top of its own work
        assert measured["page_seconds"] >= measured["model_seconds"] > 0
    assert "shop_page_size" in result.markdown()


@pytest.mark.slow
def test_shop_sync_check_tiny() -> None:
    result = load("shop_sync_check").run(skus=300, orders=120, limit=25)
    raw = result.raw
    assert raw["shop_sent"] == raw["shop_bound"] and raw["second_sent"] == raw["second_bound"]
    assert raw["wawi_sent"] <= raw["wawi_bound"] and raw["first"]["orders"]["new"] > 0
    assert not raw["first"]["unchecked"] and raw["first"]["counts"]["stuck_order"] > 0
    assert result.passed and "shop_sync_check" in result.markdown()


@pytest.mark.prefect
@pytest.mark.timeout(900)
def test_replenishment_dask_tiny() -> None:
    """Starts a local Dask cluster and a Prefect test server in the benchmark's subprocess: minutes on a
    busy machine (each of the three processes imports pandas, pandera and Prefect first)."""
    result = load("replenishment_dask").run(lines=20_000, skus=1_000, days=60, repeats=1)
    raw = result.raw
    assert raw["equal"] == [True, True]  # the plain cluster run and the run through Prefect
    assert len(raw["part_pids"]) == 2 and raw["client_pid"] not in raw["part_pids"]
    assert raw["best_one_machine"] > 0 and raw["best_cluster"] > 0 and raw["prefect_s"]
    assert sum(raw["part_rows"]) > 0 and result.passed


@pytest.mark.slow
def test_sync_latency_modes_tiny() -> None:
    """Stock, product and pricing syncs under the default profile at 1/20 of real time, tiny worlds."""
    stock = load("stock_sync").run_latency(skus=300, warehouses=2, time_scale=20)
    products = load("product_sync").run_latency(skus=200, time_scale=20)
    pricing = load("pricing_writes").run_latency(skus=200, time_scale=20)
    for result, runs in (
        (stock, ("full", "incremental")),
        (products, ("full_cold", "full_warm", "incremental")),
        (pricing, ("first", "again", "after")),
    ):
        assert result.name.endswith("-latency-default"), result.name
        assert result.metric("429 answers (sandbox) / 503 busy refusals, all runs").passed
        for run in runs:
            raw = result.raw["runs"][run] if "runs" in result.raw else result.raw[run]
            assert raw["bound"].total_requests > 0 and raw["bound"].ratio > 0, (result.name, run)
            # a client asking in turn needs no less than the bound (its terms hold for any order)
            assert raw["bound"].seconds <= raw["bound"].in_turn_seconds, (result.name, run)
            assert raw["bound"].wawi_in_turn > 0, (result.name, run)
    full, incr = stock.raw["runs"]["full"], stock.raw["runs"]["incremental"]
    assert full["failed"] == 0 and 0 < incr["outcomes"].get("applied", 0) <= stock.raw["changed"]
    assert products.raw["incremental"]["counts"]["updated"] == products.raw["changed"]
    edited = products.raw["changed_each"]  # each incremental run updates what was edited before it
    assert len(edited) == 5 and all(
        products.raw[f"incremental_{i}"]["counts"]["updated"] == n > 0 for i, n in enumerate(edited)
    )
    assert pricing.raw["applied"]["again"] == 0 < pricing.raw["applied"]["first"]


@pytest.mark.slow
def test_shop_sync_check_latency_tiny() -> None:
    """The latency mode at 1/20 of real time: the shop's requests and bounds of three scheduled runs."""
    module = load("shop_sync_check")
    result = module.run_latency(skus=300, orders=60, limit=25, time_scale=20)
    assert result.name == "shop_sync_check-latency-default"
    runs, bounds = result.raw["runs"], result.raw["bounds"]
    new = runs[0]["orders"]["new"]
    products = result.raw["products"]
    pages = module._pages(products, 25) + module._pages(new, 25)
    assert new > 0 and bounds[0].requests["shop"] == pages + new  # + one cart per new order
    for out, bound in zip(runs, bounds, strict=True):
        assert not out["unchecked"] and bound.rate_limited == 0 and bound.refused == 0
        assert bound.seconds > 0 and "Shop product pages (cursor chain)" in bound.bounds
    assert bounds[2].requests["shop"] < bounds[0].requests["shop"]  # no carts once every order is known


@pytest.mark.slow
def test_report_weekly_latency_tiny() -> None:
    """The weekly report's reads at 1/20 of real time, against the same world on loopback."""
    result = load("report_weekly").run_latency(lines=3000, skus=400, time_scale=20, repeats=1)
    assert result.name == "report_weekly-latency-default"
    bound = result.raw["bound"]
    assert bound.requests["ffn"] >= 1 and bound.requests["wawi"] >= 1  # FFN stock, Wawi items and returns
    assert bound.rate_limited == 0 and bound.refused == 0 and bound.seconds > 0
    assert set(result.raw["out"]["frames"]) >= {"stock", "items", "returns"}
    assert result.raw["loopback"]["frames"] == result.raw["out"]["frames"]  # both runs read the same


@pytest.mark.slow
def test_replenishment_latency_tiny() -> None:
    """The replenishment's reads at 1/20 of real time, against the same world on loopback."""
    result = load("replenishment_5m").run_latency(skus=200, orders=200, time_scale=20, repeats=1)
    assert result.name == "replenishment_5m-latency-default"
    out, bound = result.raw["out"], result.raw["bound"]
    assert out["counts"] == result.raw["loopback"]["counts"]  # both runs read the same
    assert out["counts"]["ffn_stocks"] == 200 and out["counts"]["supplier_reads"] > 0
    assert bound.requests["wawi"] > out["counts"]["supplier_reads"]  # the listing and one read per item
    assert bound.rate_limited == 0 and bound.refused == 0 and bound.seconds > 0
    assert out["in_flight_peak"]["wawi"] > 1  # the suppliers are read side by side
