"""Issue 12: the pricing rules over 100,000 prices vs a bare vectorised pandas version of the same arithmetic.

The frame is what the pricing service hands to ``price_frame``: 100,000 base prices of items in 60
category paths and 300 manufacturers, purchase prices log-normal around 12 EUR, VAT 19% or 7%, a
suggested retail price for 70% of the items and a current price for 90%, a few bad rows (no or a
negative purchase price). The rules: three category rules (cost-plus and target margin, different
endings, floors and change limits) and a catch-all. ``price_frame`` (validation, matching, the guards,
statuses and flags) is timed against the same arithmetic written as plain pandas/numpy for one frame
(the rule's figures looked up per row with ``map``, no validation, no statuses), interleaved, best of
``repeats``; the two must agree on every price, which the benchmark checks.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._common import Metric, Result, fmt_s
from jtl_automator.transforms.pricing import PricingRules, price_frame

NAME = "pricing_100k"
TITLE = "pricing_100k: 100,000 prices through the price rules vs bare pandas arithmetic (issue 12)"
RATIO_TARGET = 2.0
_TOP = ("Küche", "Garten", "Sport", "Büro", "Drogerie", "Spielzeug")


def build_items(items: int, seed: int) -> pd.DataFrame:
    """The price rows, with the dtypes the service gives them."""
    rng = np.random.default_rng(seed)
    categories = [f"{_TOP[i % 6]} > Gruppe {i // 6:02d}" for i in range(60)]
    purchase = np.round(np.exp(rng.normal(np.log(12), 0.9, items)), 2)
    purchase[rng.random(items) < 0.002] = np.nan
    purchase[rng.random(items) < 0.001] = -1.0
    vat = np.where(rng.random(items) < 0.2, 7.0, 19.0)
    srp = np.where(
        rng.random(items) < 0.7, np.round(purchase * rng.uniform(1.6, 3.2, items) * 1.19, 2), np.nan
    )
    current = np.where(rng.random(items) < 0.9, np.round(purchase * rng.uniform(1.3, 2.6, items), 4), np.nan)
    return pd.DataFrame(
        {
            "item_id": np.arange(1, items + 1, dtype="int64"),
            "sku": pd.array([f"SKU-{i:06d}" for i in range(items)], dtype="string"),
            "target": pd.array(["base"] * items, dtype="string"),
            "sales_channel": pd.array([None] * items, dtype="string"),
            "customer_group": pd.array([None] * items, dtype="Int64"),
            "category": pd.array(
                np.asarray(categories, dtype=object)[rng.integers(0, 60, items)], dtype="string"
            ),
            "manufacturer": pd.array(
                [f"Hersteller {i}" for i in rng.integers(0, 300, items)], dtype="string"
            ),
            "supplier_id": pd.array(rng.integers(1, 40, items), dtype="Int64"),
            "purchase_price": purchase,
            "suggested_retail_price": np.where(np.isnan(purchase) | (purchase < 0), np.nan, srp),
            "current_price": np.where(np.isnan(purchase) | (purchase < 0), np.nan, current),
            "vat_rate": vat,
        }
    )


RULES: dict[str, Any] = {
    "rules": [
        {
            "name": "kitchen",
            "match": {"category": "Küche"},
            "strategy": "cost_plus",
            "markup_pct": 85,
            "endings": [0.99, 0.95],
            "floor_pct": 15,
            "max_change_pct": 15,
            "approval_threshold_pct": 10,
        },
        {
            "name": "garden",
            "match": {"category": "Garten"},
            "strategy": "target_margin",
            "margin_pct": 45,
            "endings": [0.9],
            "floor_abs": 1.0,
            "max_change_pct": 25,
        },
        {
            "name": "sport",
            "match": {"category": "Sport"},
            "strategy": "cost_plus",
            "markup_pct": 120,
            "endings": [],
            "cap_at_srp": False,
            "max_change_pct": None,
        },
        {"name": "rest", "strategy": "cost_plus", "markup_pct": 70, "endings": [0.99]},
    ]
}


def _ending(gross: np.ndarray, ends: np.ndarray, side: str) -> np.ndarray:
    """Prices with an allowed ending: the nearest, the next up or the next down (plain numpy)."""
    if not len(ends):
        cents = np.round(gross * 100, 6)
        return {"up": np.ceil(cents), "down": np.floor(cents), "near": np.floor(cents + 0.5)}[side] / 100
    grid = (np.floor(gross)[:, None, None] + np.array([-1.0, 0.0, 1.0])[None, :, None] + ends).reshape(
        len(gross), -1
    )
    grid = np.where(grid > 0, grid, np.nan)
    with np.errstate(invalid="ignore"):
        up = np.nanmin(np.where(grid >= gross[:, None] - 1e-9, grid, np.inf), axis=1)
        down = np.nanmax(np.where(grid <= gross[:, None] + 1e-9, grid, -np.inf), axis=1)
    down = np.where(np.isfinite(down), down, np.nan)
    if side == "up":
        return up
    if side == "down":
        return down
    return np.where(~np.isnan(down) & (gross - down < up - gross - 1e-9), down, up)


def baseline(items: pd.DataFrame) -> pd.Series:
    """The same rules as bare column arithmetic: gross price per row (NaN where no price is set)."""
    rules = RULES["rules"]
    first = {"Küche": 0, "Garten": 1, "Sport": 2}
    rule_of = {c: first.get(c.split(" > ")[0], 3) for c in items["category"].dropna().unique()}
    index = items["category"].map(rule_of).fillna(3).astype(int).to_numpy()
    purchase = items["purchase_price"].to_numpy()
    factor = 1 + items["vat_rate"].to_numpy() / 100
    current = items["current_price"].to_numpy() * factor
    srp = items["suggested_retail_price"].to_numpy()
    out = np.full(len(items), np.nan)
    for number, rule in enumerate(rules):
        rows = (index == number) & (purchase > 0)
        p, f, now, cap = purchase[rows], factor[rows], current[rows], srp[rows]
        ends = np.asarray(rule.get("endings", [0.99]), dtype=float)
        if rule["strategy"] == "cost_plus":
            raw = p * (1 + rule["markup_pct"] / 100)
        else:
            raw = p / (1 - rule["margin_pct"] / 100)
        g = _ending(raw * f, ends, "near")
        step = rule.get("max_change_pct", 20)
        if step is not None:
            high, low = now * (1 + step / 100), now * (1 - step / 100)
            g = np.where(g > high + 1e-9, np.fmax(_ending(high, ends, "down"), now), g)
            g = np.where(g < low - 1e-9, np.fmin(_ending(low, ends, "up"), now), g)
        if rule.get("cap_at_srp", True):
            capped = _ending(cap, ends, "down")
            g = np.where(~np.isnan(capped) & (g > capped + 1e-9), capped, g)
        floor = _ending((p * (1 + rule.get("floor_pct", 0) / 100) + rule.get("floor_abs", 0)) * f, ends, "up")
        out[rows] = np.fmax(g, floor)
    return pd.Series(np.round(out, 2), index=items.index)


def run(items: int = 100_000, repeats: int = 5, seed: int = 7) -> Result:
    """Time ``price_frame`` and the bare arithmetic alternately; check they price alike."""
    frame = build_items(items, seed)
    rules = PricingRules.model_validate(RULES)
    transform_times: list[float] = []
    baseline_times: list[float] = []
    prices = price_frame(frame, rules)  # warm-up (imports, pandera's first schema build)
    for _ in range(repeats):
        begin = time.perf_counter()
        prices = price_frame(frame, rules)
        transform_times.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        bare = baseline(frame)
        baseline_times.append(time.perf_counter() - begin)
    priced = prices["new_gross"].notna().to_numpy()
    agree = bool(np.allclose(prices["new_gross"].to_numpy()[priced], bare.to_numpy()[priced], atol=0.005))
    agree = agree and bool(bare[~priced].isna().all())
    best, base = min(transform_times), min(baseline_times)
    ratio = best / base
    statuses = {str(k): int(v) for k, v in prices["status"].value_counts().sort_index().items()}
    changed = statuses.get("apply", 0) + statuses.get("needs_approval", 0)
    metrics = [
        Metric("prices / rules", f"{items:,} / {len(rules.rules)}"),
        Metric(f"price_frame, best of {repeats}", fmt_s(best)),
        Metric(f"bare pandas/numpy arithmetic of the same rules, best of {repeats}", fmt_s(base)),
        Metric(
            "price_frame / bare arithmetic", f"{ratio:.2f}x", f"<= {RATIO_TARGET:g}x", ratio <= RATIO_TARGET
        ),
        Metric("both give the same gross price on every row", "yes" if agree else "NO", "yes", agree),
        Metric(
            "statuses (writes = apply; needs_approval waits in a plan)",
            ", ".join(f"{k} {v:,}" for k, v in statuses.items()) + f"; to write or approve {changed:,}",
        ),
    ]
    notes = [
        "All runs: price_frame "
        + ", ".join(fmt_s(t) for t in transform_times)
        + "; bare arithmetic "
        + ", ".join(fmt_s(t) for t in baseline_times)
        + ".",
        "price_frame includes the pandera validation of the input and output frames (sampled past "
        "100,000 rows, see docs/replenishment.md), the rule matching, the guards' flags and the statuses; "
        "the reasons in words are made only for the rows shown or written (price_reasons), not here.",
    ]
    raw = {"ratio": ratio, "agree": agree, "statuses": statuses, "best": best, "baseline": base}
    return Result(NAME, TITLE, {"items": items, "repeats": repeats}, metrics, notes, raw)
