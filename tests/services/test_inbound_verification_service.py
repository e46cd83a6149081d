"""The inbound verification steps without Prefect: sheet mapping, bulk loading, large sheets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import Spreadsheet, Worksheet
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.sandbox.sheets import make_service_account_info
from jtl_automator.services import inbound_verification as svc
from jtl_automator.settings import Settings
from jtl_automator.sheets.base import HeaderNotFound
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.store import StateStore


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("svc")
    config = SandboxConfig(sheets_requests_per_minute=10_000)
    data = generate(seed=11, skus=400, orders=20, customers=10)
    app = create_app(data, config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        settings = Settings(**{k.removeprefix("JTL_").lower(): v for k, v in env.items()})
        store = StateStore(f"sqlite:///{tmp / 'state.db'}")
        yield {
            "state": app.state.sandbox,
            "ffn": FfnClient.from_settings(settings, store),
            "sa": make_service_account_info(server.base_url),
            "api": f"{server.base_url}/sheets",
        }


def _sheet(world: dict[str, Any], sid: str, values: list[list[Any]]) -> GoogleSheetsBackend:
    state = world["state"]
    state.data.spreadsheets[sid] = Spreadsheet(
        sid, "Test", [Worksheet("Inbound Control", 0, values, row_count=len(values) + 10)]
    )
    return GoogleSheetsBackend(sid, world["sa"], api_url=world["api"])


def _receipted_items(world: dict[str, Any]) -> list[tuple[str, str, int]]:
    data = world["state"].data
    sku_of = {p["jfsku"]: p["merchantSku"] for p in data.ffn.products.values()}
    out = []
    for inbound in data.ffn.inbounds.values():
        for item in inbound["items"]:
            out.append(
                (
                    sku_of[item["jfsku"]],
                    inbound["merchantInboundNumber"],
                    item["quantity"] - item["quantityOpen"],
                )
            )
    return out


def test_letters_map_columns_and_a_header_name_wins(world: dict[str, Any]) -> None:
    sku, ref, received = _receipted_items(world)[0]
    backend = _sheet(
        world,
        "letters",
        [["Artikel", "Menge", "Lieferung", "Ergebnis", "Hinweis"], [sku, str(received), ref, "", ""]],
    )
    columns = svc.SheetColumns(sku="Artikel", units="B", inbound="C", status="D", note="Hinweis")
    sheet = svc.read_inbound_sheet(backend, None, columns)
    assert (sheet.status_col, sheet.note_col) == ("D", "E")
    assert svc.decide_mode(sheet, None) == "inbound"
    products = svc.load_products(world["ffn"])
    items = svc.load_inbound_items(world["ffn"], sheet.rows["inbound"])
    results = svc.verify(sheet, products, items, None, "inbound")
    assert results["status"].tolist() == ["MATCH"]


def test_missing_status_header_fails_before_any_write(world: dict[str, Any]) -> None:
    backend = _sheet(world, "nostatus", [["SKU", "Units", "Inbound", "Note"], ["A", "1", "X", ""]])
    with pytest.raises(HeaderNotFound, match="Status"):
        svc.read_inbound_sheet(backend, None, svc.SheetColumns())


def test_few_references_are_filtered_many_are_listed(world: dict[str, Any]) -> None:
    items = _receipted_items(world)
    refs = sorted({ref for _, ref, _ in items})
    before = world["ffn"].stats.requests
    few = svc.load_inbound_items(world["ffn"], [*refs[:3], "NOPE"])
    assert world["ffn"].stats.requests - before == 1
    assert set(few["merchant_inbound_number"]) == set(refs[:3])
    before = world["ffn"].stats.requests
    many = svc.load_inbound_items(world["ffn"], refs + [f"X-{i}" for i in range(200)])
    assert world["ffn"].stats.requests - before == 1  # the whole (small) inbound list is one page
    assert set(many["merchant_inbound_number"]) == set(refs)


def test_mode_inbound_needs_the_column(world: dict[str, Any]) -> None:
    backend = _sheet(world, "noinbound", [["SKU", "Units", "Status", "Note"], ["A", "1", "", ""]])
    sheet = svc.read_inbound_sheet(backend, None, svc.SheetColumns())
    assert svc.decide_mode(sheet, None) == "stock"
    with pytest.raises(HeaderNotFound, match="Inbound"):
        svc.decide_mode(sheet, "inbound")


@pytest.mark.slow
def test_fifty_thousand_rows_in_one_read_and_one_write(world: dict[str, Any]) -> None:
    items = _receipted_items(world)
    rows = [["SKU", "Units", "Inbound", "Status", "Note"]]
    for i in range(50_000):
        sku, ref, received = items[i % len(items)]
        # each row is its own (SKU, inbound) pair only once: later copies point to unknown inbounds
        ref_i = ref if i < len(items) else f"ANL-X-{i}"
        rows.append([sku, str(received), ref_i, "", ""])
    backend = _sheet(world, "big", rows)
    state = world["state"]
    before = dict(state.runtime.get("sheets_requests", {}))
    ffn_before = world["ffn"].stats.requests
    sheet = svc.read_inbound_sheet(backend, None, svc.SheetColumns())
    products = svc.load_products(world["ffn"])
    inbound_items = svc.load_inbound_items(world["ffn"], sheet.rows["inbound"])
    results = svc.verify(sheet, products, inbound_items, None, "inbound")
    backend.write_cells(sheet.worksheet, svc.result_updates(sheet, results, datetime.now(UTC)))
    after = state.runtime["sheets_requests"]
    assert after["values.batchUpdate"] - before.get("values.batchUpdate", 0) == 1
    assert len(results) == 50_000
    counts = svc.status_counts(results)
    assert counts["MATCH"] == len(items) and counts["INBOUND_NOT_FOUND"] == 50_000 - len(items)
    written = state.data.spreadsheets["big"].worksheets[0].values
    assert written[1][3] == "MATCH" and written[-1][3] == "INBOUND_NOT_FOUND"
    # 50,000 distinct references: one listing of the products and one of the inbounds, a page each.
    assert world["ffn"].stats.requests - ffn_before == 2
