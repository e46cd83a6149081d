"""The demo's supplier feed: the shipped mapping reads it, its planted problems are found, gaps exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from jtl_automator.project import project_root
from jtl_automator.sandbox.feeds import prepare_enrichment_demo
from jtl_automator.sandbox.generator import generate
from jtl_automator.transforms.categorisation import CategoryRules
from jtl_automator.transforms.product_feed import FeedMappings, NumberFormat, csv_grid, normalise_feed
from jtl_automator.yaml_config import load_yaml_model


@pytest.mark.slow  # a generated world and the first pandera validation of the process
def test_the_demo_feed_through_the_shipped_mapping(tmp_path: Path) -> None:
    data = generate(seed=3, skus=40, orders=1, customers=2)
    before = {i: dict(item) for i, item in data.wawi.items.items()}
    demo = prepare_enrichment_demo(data, supplier_id=1, feed=tmp_path / "feed.csv")
    mapping = load_yaml_model(project_root() / "config" / "feed-mappings.yaml", FeedMappings).get("hansen")
    grid = csv_grid(demo.feed.read_bytes(), mapping.csv, "feed.csv")
    assert grid.encoding == "cp1252"
    feed = normalise_feed(
        grid.rows, mapping, source="feed.csv", number=NumberFormat(), bad_lines=grid.bad_lines
    )
    assert feed.total_rows == demo.rows and len(feed.rejected) == 4
    assert set(feed.rejected["supplier_sku"]) == {"L-ENGLISCH-1", "L-EAN-1", "L-DOPPELT-1"}
    assert demo.emptied and all(data.wawi.items[i] != before[i] for i in demo.emptied)
    rules = load_yaml_model(project_root() / "config" / "categorisation.yaml", CategoryRules)
    assert rules.rules[0].name == "Kräuter für die Küche"
