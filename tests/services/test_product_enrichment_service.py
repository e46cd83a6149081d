"""Product enrichment without Prefect: real clients over HTTP against the sandbox, a real SQLite ledger.

Runs under ``--sandbox strict`` too: there a PATCH group replaces Wawi's whole group and a second
assignment of an item to its category is refused, so whole groups and no blind re-sends are checked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.sandbox.wawi import PREFIX as WAWI_PREFIX
from jtl_automator.services import product_enrichment as svc
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from jtl_automator.transforms.product_feed import FeedError
from jtl_automator.yaml_config import ConfigFileError

pytestmark = pytest.mark.slow  # each test runs whole enrichments over HTTP

SUPPLIER = "Hansen"
HEADER = "Artikelnummer;EAN;Herstellernummer;Gewicht g;Versandgewicht g;Länge;Breite;Höhe;EK netto;Kurztext\n"
MAPPING = """\
suppliers:
  Hansen:
    wawi_supplier: L10001
    weight_unit: g
    columns:
      supplier_sku: Artikelnummer
      gtin: EAN
      manufacturer_number: Herstellernummer
      item_weight: Gewicht g
      shipping_weight: Versandgewicht g
      length: Länge
      width: Breite
      height: Höhe
      purchase_price: EK netto
      short_description: Kurztext
"""
RULES = """\
rules:
  - name: bird houses
    category: Haus & Garten > Garten
    match: {name: vogelfutterhaus}
  - name: Hansen's goods
    category: Spielwaren > Holzspielzeug
    match: {supplier: Kaffeerösterei Hansen GmbH & Co. KG}
"""


def german(value: float) -> str:
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return text.replace(",", "#").replace(".", ",").replace("#", ".")


@dataclass
class World:
    state: Any
    store: StateStore
    wawi: WawiClient
    tmp: Path
    original: dict[int, dict[str, Any]]
    base: str = ""

    @property
    def items(self) -> dict[int, dict[str, Any]]:
        return self.state.data.wawi.items  # type: ignore[no-any-return]

    def run(self, **kwargs: Any) -> dict[str, Any]:
        request = svc.Request(
            feed=kwargs.pop("feed", str(self.tmp / "feed.csv")),
            supplier=kwargs.pop("supplier", SUPPLIER),
            rules_file=kwargs.pop("rules_file", str(self.tmp / "rules.yaml")),
            only_if_changed=kwargs.pop("only_if_changed", False),
            output=kwargs.pop("output", None),
        )
        params = kwargs.pop(
            "params",
            svc.ProductEnrichmentParams(
                mapping_file=str(self.tmp / "feeds.yaml"), output_dir=str(self.tmp / "out"), workers=1
            ),
        )
        return svc.run_product_enrichment(self.wawi, self.store, request, params, **kwargs)

    def feed_row(self, item_id: int, sku: str | None = None, **changes: Any) -> str:
        item = self.original[item_id]
        values = {
            "gtin": item["Identifiers"]["Gtin"],
            "mpn": item["Identifiers"]["ManufacturerNumber"],
            "weight": german(item["Weights"]["ItemWeigth"] * 1000),
            "shipping": german(item["Weights"]["ShippingWeight"] * 1000),
            "length": german(item["Dimensions"]["Length"]),
            "width": german(item["Dimensions"]["Width"]),
            "height": german(item["Dimensions"]["Height"]),
            "price": german(item["ItemPriceData"]["PurchasePriceNet"]),
            "short": item["ShortDescription"],
            **changes,
        }
        key = f"L-{item['SKU']}" if sku is None else sku
        return (
            ";".join(
                [
                    key,
                    *(
                        str(values[k])
                        for k in (
                            "gtin",
                            "mpn",
                            "weight",
                            "shipping",
                            "length",
                            "width",
                            "height",
                            "price",
                            "short",
                        )
                    ),
                ]
            )
            + "\n"
        )


def _make_gaps(items: dict[int, dict[str, Any]]) -> None:
    items[1]["Identifiers"]["Gtin"] = ""
    items[1]["Weights"]["ItemWeigth"] = 0
    items[11]["Dimensions"] = {"Length": 0, "Width": 0, "Height": 0}
    items[21]["ShortDescription"] = ""
    items[21]["ItemPriceData"]["PurchasePriceNet"] = 0
    items[31]["Weights"]["ShippingWeight"] = 9.99  # the feed says otherwise: a conflict
    items[51]["Identifiers"]["ManufacturerNumber"] = ""
    items[2]["Weights"]["ItemWeigth"] = 0  # another supplier's item, found by its GTIN


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    config = sandbox_config()
    data = generate(seed=5, skus=60, orders=10, customers=10)
    original = copy.deepcopy(data.wawi.items)
    _make_gaps(data.wawi.items)
    app = create_app(data, config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05)
        settings = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        world = World(app.state.sandbox, store, WawiClient.from_settings(settings), tmp_path, original)
        world.base = server.base_url
        (tmp_path / "feeds.yaml").write_text(MAPPING, encoding="utf-8")
        (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
        feed = (
            HEADER
            + "".join(world.feed_row(i) for i in (1, 11, 21, 31, 41, 51))
            + world.feed_row(2, sku="")  # no supplier SKU: matched by GTIN
            + world.feed_row(41, sku="L-NOTHING", gtin="", mpn="")
            + world.feed_row(41, sku="L-BAD", gtin="", mpn="", weight="1.5")
            + world.feed_row(41, sku="L-GTIN", gtin="4006381333932", mpn="")
        )
        (tmp_path / "feed.csv").write_bytes(feed.encode("cp1252"))
        yield world
        store.dispose()


def count_writes(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"patch": 0, "assign": 0}
    update, add = world.wawi.items.update, world.wawi.categories.add_items

    def counting_update(*args: Any, **kwargs: Any) -> Any:
        calls["patch"] += 1
        return update(*args, **kwargs)

    def counting_add(*args: Any, **kwargs: Any) -> Any:
        calls["assign"] += 1
        return add(*args, **kwargs)

    monkeypatch.setattr(world.wawi.items, "update", counting_update)
    monkeypatch.setattr(world.wawi.categories, "add_items", counting_add)
    return calls


def test_dry_run_writes_nothing_and_shows_everything_in_the_workbook(world: World) -> None:
    before = copy.deepcopy(world.items)
    result = world.run(dry_run=True)
    assert world.items == before
    assert result["decisions"]["fill"] == 9 and result["decisions"]["conflict"] == 1
    assert result["matched_by"] == {"gtin": 1, "supplier_sku": 6, "unmatched": 1}
    assert result["outcomes"] == {} and result["rejected_rows"] == 2
    assert {r["supplier_sku"]: r["reason"] for r in result["rejected"]} == {
        "L-BAD": "Gewicht g: 1.5 is not a number (decimal ',', thousands '.')",
        "L-GTIN": "EAN: 4006381333932 ends in check digit 2, expected 1",
    }
    assert result["conflicts"] == [
        {
            "sku": "SPO-10030",
            "field": "shipping_weight",
            "wawi_value": "9.99",
            "feed_value": f"{world.original[31]['Weights']['ShippingWeight']:g}",
            "row": 5,
        }
    ]
    book = openpyxl.load_workbook(result["workbook"], read_only=True)
    assert book.sheetnames == [
        "Summary",
        "Fills",
        "Conflicts",
        "Feed rows rejected",
        "Not matched",
        "Categories",
        "No rule",
        "Quality",
    ]
    fills = list(book["Fills"].iter_rows(values_only=True))
    assert fills[0][:6] == ("SKU", "Item Id", "Field", "Wawi before", "After", "Decision")
    gtin = next(r for r in fills if r[0] == "00001" and r[2] == "gtin")
    assert gtin[3] is None and gtin[4] == world.original[1]["Identifiers"]["Gtin"] and gtin[6] == "dry run"
    categories = list(book["Categories"].iter_rows(values_only=True))
    assert ("00001", world.original[1]["Name"], "Hansen's goods") == categories[1][:3]
    quality = {r[2] for r in book["Quality"].iter_rows(min_row=2, values_only=True)}
    assert {"missing_images", "missing_dimensions", "missing_gtin"} <= quality
    book.close()


def test_a_run_fills_gaps_assigns_categories_and_a_rerun_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_writes(world, monkeypatch)
    result = world.run()
    assert result["outcomes"] == {"applied": 9 + result["categories"]["assign"]}
    items, original = world.items, world.original
    assert items[1]["Identifiers"]["Gtin"] == original[1]["Identifiers"]["Gtin"]
    assert items[1]["Weights"]["ItemWeigth"] == pytest.approx(original[1]["Weights"]["ItemWeigth"])
    assert items[1]["Identifiers"]["ManufacturerNumber"] == original[1]["Identifiers"]["ManufacturerNumber"]
    assert items[11]["Dimensions"] == pytest.approx(original[11]["Dimensions"])
    assert items[21]["ShortDescription"] == original[21]["ShortDescription"]
    assert items[21]["ItemPriceData"] == pytest.approx(original[21]["ItemPriceData"])  # whole group kept
    assert items[31]["Weights"]["ShippingWeight"] == 9.99  # the conflict is left alone
    assert items[51]["Identifiers"]["ManufacturerNumber"] == original[51]["Identifiers"]["ManufacturerNumber"]
    assert items[2]["Weights"]["ItemWeigth"] == pytest.approx(original[2]["Weights"]["ItemWeigth"])
    holz = 14
    assert any(c["CategoryId"] == holz for c in items[1]["Categories"])
    assert {c["CategoryId"] for c in items[1]["Categories"]} >= {
        c["CategoryId"] for c in original[1]["Categories"]
    }
    assert calls == {"patch": 5, "assign": 1}  # one PATCH per item (items 1, 2, 11, 21, 51)
    assert result["quality"]["missing_dimensions"] == 0 and result["quality"]["missing_gtin"] == 0

    again = world.run()
    assert again["outcomes"] == {} and again["decisions"].get("fill", 0) == 0
    assert again["categories"].get("assign", 0) == 0
    assert calls == {"patch": 5, "assign": 1}  # nothing written twice


def test_a_crash_between_write_and_record_is_settled_not_repeated(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_writes(world, monkeypatch)
    complete = world.store.complete
    crashed: list[str] = []

    def crash_once(key: str, result: Any = None) -> None:
        if key.startswith("fill:") and not crashed:
            crashed.append(key)
            raise RuntimeError("the worker died")
        complete(key, result)

    monkeypatch.setattr(world.store, "complete", crash_once)
    with pytest.raises(RuntimeError, match="worker died"):
        world.run()
    assert calls["patch"] == 1 and world.store.pending_side_effects(svc.FILL_KIND)
    result = world.run()
    assert not world.store.pending_side_effects(svc.FILL_KIND)
    assert result["settled_from_earlier_runs"] == 2  # item 1's GTIN and weight: found in Wawi
    assert calls["patch"] == 5  # item 1's PATCH was not sent again
    assert result["outcomes"]["applied"] == 7 + result["categories"]["assign"]


def test_lost_answers_are_read_back_and_each_write_lands_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = (
        FaultRule(
            fault="drop",
            route=f"^{WAWI_PREFIX}/v1/items/\\d+$",
            methods=("PATCH",),
            after_response=True,
            every=2,
        ),
        FaultRule(
            fault="drop",
            route=f"^{WAWI_PREFIX}/v1/categories/\\d+/items$",
            methods=("POST",),
            after_response=True,
        ),
    )
    set_profile(world.state, FaultProfile(name="lost-answers", rules=rules))
    result = world.run()
    assert set(result["outcomes"]) == {"applied"}, result["failed"]
    assert world.state.runtime["faults"]["drop"] > 0
    assert world.items[1]["Identifiers"]["Gtin"] == world.original[1]["Identifiers"]["Gtin"]
    assert sum(c["CategoryId"] == 14 for c in world.items[1]["Categories"]) == 1


def test_only_if_changed_skips_an_unchanged_feed(world: World) -> None:
    first = world.run(only_if_changed=True)
    assert "skipped" not in first
    assert world.run(only_if_changed=True)["skipped"] == "the feed has not changed since the last run"
    with (world.tmp / "feed.csv").open("ab") as feed:
        feed.write(world.feed_row(41, sku="L-NEW", gtin="", mpn="").encode("cp1252"))
    assert "skipped" not in world.run(only_if_changed=True)


def test_quality_only_and_categorise_only(world: World) -> None:
    quality = world.run(feed=None, supplier=None, rules_file=None)
    assert "decisions" not in quality and "categories" not in quality
    assert quality["quality"]["missing_images"] > 0 and quality["quality"]["missing_dimensions"] == 1
    assert quality["outcomes"] == {}
    book = openpyxl.load_workbook(quality["workbook"], read_only=True)
    assert book.sheetnames == ["Summary", "Quality"]
    book.close()
    categorised = world.run(feed=None, supplier=None, dry_run=True)
    assert categorised["categories"]["assign"] > 0 and categorised["no_rule"]


def test_configuration_mistakes_stop_before_anything_is_written(world: World) -> None:
    before = copy.deepcopy(world.items)
    (world.tmp / "bad-rules.yaml").write_text(
        RULES.replace("Spielwaren > Holzspielzeug", "Spielwaren > Lego")
    )
    with pytest.raises(ConfigFileError, match=r"bad-rules\.yaml:6: rules\[1\]\.category: no Wawi category"):
        world.run(rules_file=str(world.tmp / "bad-rules.yaml"))
    with pytest.raises(ConfigFileError, match="no feed mapping for supplier 'Nobody'"):
        world.run(supplier="Nobody")
    (world.tmp / "empty.csv").write_bytes(b"")
    with pytest.raises(FeedError, match="the file is empty"):
        world.run(feed=str(world.tmp / "empty.csv"))
    (world.tmp / "feeds-unknown.yaml").write_text(MAPPING.replace("L10001", "L99999"), encoding="utf-8")
    params = svc.ProductEnrichmentParams(mapping_file=str(world.tmp / "feeds-unknown.yaml"), workers=1)
    with pytest.raises(FeedError, match="no Wawi supplier is named or numbered 'L99999'"):
        world.run(params=params)
    assert world.items == before


def test_a_vanished_or_refused_item_fails_alone_and_the_batch_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    update, add = world.wawi.items.update, world.wawi.categories.add_items
    gone: list[int] = []

    def delete_11_first(item_id: int, *args: Any, **kwargs: Any) -> Any:
        world.state.data.wawi.items.pop(11, None)  # deleted in Wawi after the listing
        return update(item_id, *args, **kwargs)

    def delete_one_first(category_id: int, item_ids: list[int]) -> list[int]:
        if not gone and len(item_ids) > 1:  # so Wawi refuses the whole chunk (400)
            gone.append(item_ids[-1])
            del world.state.data.wawi.items[item_ids[-1]]
        return add(category_id, item_ids)

    monkeypatch.setattr(world.wawi.items, "update", delete_11_first)
    monkeypatch.setattr(world.wawi.categories, "add_items", delete_one_first)
    result = world.run()
    failed = {(row["item_id"], row["target"]): row["reason"] for row in result["failed"]}
    deleted = {(11, "length"), (11, "width"), (11, "height"), (11, "category"), (gone[0], "category")}
    assert set(failed) == deleted
    assert failed[(11, "length")] == "the Wawi item no longer exists"
    assert failed[(gone[0], "category")].startswith("Wawi refused the assignment")
    assert result["outcomes"]["failed"] == 5 and result["outcomes"]["applied"] >= 6
    assert world.items[1]["Identifiers"]["Gtin"] == world.original[1]["Identifiers"]["Gtin"]
    assigned = [i for i in world.items if any(c["CategoryId"] == 14 for c in world.items[i]["Categories"])]
    assert len(assigned) > 1  # the rest of the refused chunk went in one by one
