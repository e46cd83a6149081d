"""Markdowns for slow movers: which items are slow, and the discount each strategy gives them.

One row per item (its base price). The rule, in full (see docs/pricing.md):

1. **Slow**: the item has stock (FFN's units on the shelf not reserved or blocked) and either covers more
   than ``min_cover_days`` days at its demand (the replenishment's mean units per day, summed over the
   warehouses; no demand: forever), or sold nothing for ``no_sale_days`` days (no sale in the history
   window counts as at least the window) and was added to Wawi at least that long ago.
2. **Age**: days since the last sale (no sale in the window: the window, or the days since the item was
   added if fewer). **Score** in [0, 1]: ``w * cover part + (1 - w) * age part``, each part 0 at its
   threshold and 1 at twice it.
3. **Discount** per strategy: ``fixed`` takes ``fixed_pct`` off, ``score`` takes
   ``score_min_pct + score * (score_max_pct - score_min_pct)`` off (both to the nearest gross ending),
   ``recommended`` the largest discount that keeps the floor and the caps.
4. **Guards**, last and above the strategy: never below the floor (the higher of the matching price
   rule's floor and ``purchase * (1 + floor_pct) + floor_abs``, rounded up to an ending), never more than
   ``max_discount_pct`` off (rounded up to an ending), never above the suggested retail price; a markdown
   that leaves less than ``min_discount_pct`` is not proposed (``too_small``).

Bad rows (no or a non-positive purchase or current price, no VAT rate) are ``invalid_input`` with their
reason and never get a price. Net prices are rounded *up* to 4 decimals, so a gross price on the floor
stays on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from jtl_automator.transforms.pricing import MarkdownRules, ending_down, ending_nearest, ending_up
from jtl_automator.transforms.validation import validate_frame

MARKDOWN = "markdown"
TOO_SMALL = "too_small"
NOT_SLOW = "not_slow"
NO_STOCK = "no_stock"
HELD = "held"
OUT_OF_SCOPE = "out_of_scope"
INVALID_INPUT = "invalid_input"
_EPS = 1e-9

MARKDOWN_INPUT_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("int64"),
        "sku": pa.Column("string"),
        "purchase_price": pa.Column("float64", nullable=True),
        "current_price": pa.Column("float64", nullable=True),  # net base price
        "suggested_retail_price": pa.Column("float64", nullable=True),
        "vat_rate": pa.Column("float64", nullable=True),
        "rule_floor": pa.Column("float64", nullable=True),  # the matching price rule's floor (net)
        "stock": pa.Column("float64", nullable=True),  # units that can still be sold
        "daily_demand": pa.Column("float64", nullable=True),
        "days_since_sale": pa.Column("float64", nullable=True),  # NaN: no sale in the window
        "added_days": pa.Column("float64", nullable=True),  # days since the item was added (NaN: unknown)
        "in_scope": pa.Column("bool"),
        "held": pa.Column("bool"),  # marked down already (a special price running, a base price on hold)
    },
    name="markdown_input",
    unique=["item_id"],
    coerce=True,
)
MARKDOWN_COLUMNS: dict[str, str] = {
    "item_id": "int64",
    "sku": "string",
    "status": "string",
    "problem": "string",
    "strategy": "string",
    "stock": "float64",
    "daily_demand": "float64",
    "cover_days": "float64",
    "days_since_sale": "float64",
    "age_days": "float64",
    "score": "float64",
    "purchase_price": "float64",
    "current_price": "float64",
    "current_gross": "float64",
    "floor_price": "float64",
    "new_price": "float64",
    "new_gross": "float64",
    "discount_pct": "float64",
}
MARKDOWN_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(dtype, nullable=name not in ("item_id", "sku", "status", "strategy"))
        for name, dtype in MARKDOWN_COLUMNS.items()
    },
    checks=[
        pa.Check(
            lambda df: (
                (df["status"] != MARKDOWN)
                | ((df["new_price"] >= df["floor_price"] - 1e-9) & (df["new_price"] < df["current_price"]))
            ).all(),
            error="a markdown below its floor or not below the current price",
        ),
    ],
    name="markdowns",
)


def markdown_frame(
    items: pd.DataFrame, rules: MarkdownRules, *, srp_includes_vat: bool = True
) -> pd.DataFrame:
    """Each item's status and, for slow ones, its markdown (see the module docstring); sorted as given."""
    items = validate_frame(MARKDOWN_INPUT_SCHEMA, items)
    n = len(items)

    def col(name: str) -> np.ndarray:
        values: np.ndarray = items[name].to_numpy(dtype="float64", na_value=np.nan)
        return values

    purchase, current, srp, vat = (
        col("purchase_price"),
        col("current_price"),
        col("suggested_retail_price"),
        col("vat_rate"),
    )
    stock, demand = np.nan_to_num(col("stock")), np.nan_to_num(col("daily_demand"))
    since, added = col("days_since_sale"), col("added_days")
    factor = 1 + vat / 100
    problem = np.full(n, None, dtype=object)
    for bad, text in (
        (np.isnan(purchase), "no purchase price"),
        (purchase <= 0, "the purchase price is not above 0"),
        (np.isnan(current) | (current <= 0), "no current price above 0"),
        (np.isnan(vat) | (vat < 0) | (vat > 100), "no valid VAT rate for the gross price ending"),
    ):
        problem[bad & (problem == None)] = text  # noqa: E711 (elementwise)
    valid = problem == None  # noqa: E711

    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(stock > 0, np.where(demand > 0, stock / demand, np.inf), 0.0)
    window = float(rules.history_days)
    age = np.where(np.isnan(since), np.fmin(window, np.where(np.isnan(added), window, added)), since)
    old_enough = np.isnan(added) | (added >= rules.no_sale_days)
    no_sale = old_enough & np.where(
        np.isnan(since), window >= rules.no_sale_days, since >= rules.no_sale_days
    )
    slow = (stock > 0) & ((cover > rules.min_cover_days) | no_sale)
    cover_part = np.clip((cover - rules.min_cover_days) / rules.min_cover_days, 0, 1)
    age_part = np.clip((age - rules.no_sale_days) / rules.no_sale_days, 0, 1)
    weight = rules.score_cover_weight
    score = np.round(weight * cover_part + (1 - weight) * age_part, 4)

    ends = rules.endings
    now_g = current * factor
    floor_net = purchase * (1 + rules.floor_pct / 100) + rules.floor_abs
    floor_net = np.fmax(floor_net, col("rule_floor"))  # NaN rule floors give way
    candidates = valid & slow & items["in_scope"].to_numpy(dtype=bool) & ~items["held"].to_numpy(dtype=bool)
    new_g = np.full(n, np.nan)
    floor_g = np.full(n, np.nan)
    rows = np.flatnonzero(candidates)
    if len(rows):
        g, f = now_g[rows], factor[rows]
        lowest_floor = ending_up(floor_net[rows] * f, ends)
        deepest = ending_up(g * (1 - rules.max_discount_pct / 100), ends)
        lowest = np.fmax(lowest_floor, deepest)
        if rules.strategy == "fixed":
            want = ending_nearest(g * (1 - rules.fixed_pct / 100), ends)
        elif rules.strategy == "score":
            pct = rules.score_min_pct + score[rows] * (rules.score_max_pct - rules.score_min_pct)
            want = ending_nearest(g * (1 - pct / 100), ends)
        else:
            want = lowest
        srp_g = srp[rows] if srp_includes_vat else srp[rows] * f
        cap = ending_down(srp_g, ends)
        want = np.where(~np.isnan(cap) & (srp_g > 0) & (want > cap + _EPS), cap, want)
        new_g[rows] = np.fmax(want, lowest)
        floor_g[rows] = lowest_floor
    with np.errstate(invalid="ignore", divide="ignore"):
        new_net = np.ceil(np.round(new_g / factor * 10_000, 6)) / 10_000
        floor_price = np.ceil(np.round(floor_g / factor * 10_000, 6)) / 10_000
        discount = np.where(candidates, (1 - new_g / now_g) * 100, np.nan)
    big_enough = candidates & (new_net < current - _EPS) & (discount >= rules.min_discount_pct - _EPS)

    status = np.full(n, MARKDOWN, dtype=object)
    status[candidates & ~big_enough] = TOO_SMALL
    status[~slow] = NOT_SLOW
    status[stock <= 0] = NO_STOCK
    status[items["held"].to_numpy(dtype=bool)] = HELD
    status[~items["in_scope"].to_numpy(dtype=bool)] = OUT_OF_SCOPE
    status[~valid] = INVALID_INPUT
    keep = status == MARKDOWN
    out = pd.DataFrame(
        {
            "item_id": items["item_id"].to_numpy(),
            "sku": items["sku"].array,
            "status": pd.array(status, dtype="string"),
            "problem": pd.array(problem, dtype="string"),
            "strategy": rules.strategy,
            "stock": stock,
            "daily_demand": demand,
            "cover_days": np.where(np.isinf(cover), np.nan, np.round(cover, 1)),
            "days_since_sale": since,
            "age_days": age,
            "score": score,
            "purchase_price": purchase,
            "current_price": current,
            "current_gross": np.round(now_g, 2),
            "floor_price": np.where(candidates, floor_price, np.nan),
            "new_price": np.where(keep, new_net, np.nan),
            "new_gross": np.where(keep, np.round(new_g, 2), np.nan),
            "discount_pct": np.where(candidates, np.round(discount, 2), np.nan),
        }
    ).astype(MARKDOWN_COLUMNS)
    return validate_frame(MARKDOWN_SCHEMA, out)


def markdown_reasons(frame: pd.DataFrame, rules: MarkdownRules) -> pd.Series:
    """Each row's reason in words (for the rows a person reads: the plan lines, the artifact)."""
    texts: list[str] = []
    for row in frame.to_dict("records"):
        status = row["status"]
        if status == INVALID_INPUT:
            texts.append(str(row["problem"]))
            continue
        if status in (NOT_SLOW, NO_STOCK, HELD, OUT_OF_SCOPE):
            texts.append(
                {
                    NOT_SLOW: "not slow",
                    NO_STOCK: "no stock",
                    HELD: "marked down already",
                    OUT_OF_SCOPE: "outside the markdown scope",
                }[status]
            )
            continue
        cover = row["cover_days"]
        cover_text = "no demand" if cover != cover else f"cover {cover:g} days"
        since = row["days_since_sale"]
        sale_text = (
            f"no sale in {rules.history_days} days" if since != since else f"last sale {since:g} days ago"
        )
        slow = f"{cover_text} ({row['stock']:g} units, {row['daily_demand']:.2f}/day), {sale_text}"
        if status == TOO_SMALL:
            texts.append(
                f"{slow}; the floor {row['floor_price']:.2f} and the caps leave {row['discount_pct']:.1f}% "
                f"(less than {rules.min_discount_pct:g}%)"
            )
            continue
        how = {
            "fixed": f"fixed {rules.fixed_pct:g}%",
            "score": f"score {row['score']:.2f}",
            "recommended": "the largest discount above the floor",
        }[str(row["strategy"])]
        texts.append(
            f"{slow}; {how}: {row['current_gross']:.2f} -> {row['new_gross']:.2f} gross "
            f"(-{row['discount_pct']:.1f}%, floor {row['floor_price']:.2f} net)"
        )
    return pd.Series(texts, index=frame.index, dtype="string")
