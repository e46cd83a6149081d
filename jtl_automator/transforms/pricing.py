"""Pricing: the rule that applies to each price, the price it gives, and whether it may be written.

One row per price target: an item's base price (``ItemPriceData.SalesPriceNet``) or one of its sales
channel prices (sales channel + customer group). The rule, in full (see docs/pricing.md):

1. The first rule whose match fits the row (category path prefix, manufacturer, supplier, sales
   channel, customer group; ``order: priority`` sorts the rules by priority first) prices it.
2. Raw price: cost-plus ``purchase * (1 + markup)`` or target margin ``purchase / (1 - margin)``.
3. Endings (``.99``, ``.95``, ``.90``) are placed on the *gross* price the customer sees (net * (1 + VAT));
   the raw price goes to the nearest ending.
4. Maximum change per run: not more than ``max_change_pct`` away from the current price (rounded
   towards the current price to an ending; the current price stays where the endings' steps are wider).
5. Cap: not above the suggested retail price (rounded down to an ending), even if that is a larger
   change than the limit allows: selling above the suggested price is the worse mistake.
6. Floor, last and above everything: never below ``purchase * (1 + floor_pct) + floor_abs`` (rounded
   up to an ending). A cap or a change limit that would go below it gives way.
7. A change larger than ``approval_threshold_pct`` waits for a person (``needs_approval``); the rest is
   ``apply`` or ``unchanged``. Rows that cannot be priced (no or a negative purchase price, no VAT rate
   where endings need one, a negative current price) are ``invalid_input`` with their reason; rows no
   rule matches are ``no_rule``. Nothing stops the batch.

Prices are written as absolute net values rounded to 4 decimals (so the gross price keeps its ending),
so a rerun writes the same values. Everything is column arithmetic; the words of a reason are made
only for the rows someone reads (``price_reasons``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jtl_automator.transforms.validation import validate_frame

APPLY = "apply"
NEEDS_APPROVAL = "needs_approval"
UNCHANGED = "unchanged"
NO_RULE = "no_rule"
INVALID_INPUT = "invalid_input"
BASE_PRICE = "base"
_EPS = 1e-9
_NET_DECIMALS = 4

PRICE_INPUT_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("int64"),
        "sku": pa.Column("string"),
        "target": pa.Column("string"),  # "base" or "<sales channel>/<customer group>"
        "sales_channel": pa.Column("string", nullable=True),
        "customer_group": pa.Column("Int64", nullable=True),
        "category": pa.Column("string", nullable=True),  # category path, levels joined by " > "
        "manufacturer": pa.Column("string", nullable=True),
        "supplier_id": pa.Column("Int64", nullable=True),
        "purchase_price": pa.Column("float64", nullable=True),  # net
        "suggested_retail_price": pa.Column("float64", nullable=True),
        "current_price": pa.Column("float64", nullable=True),  # net
        "vat_rate": pa.Column("float64", nullable=True),  # percent
    },
    name="price_input",
    unique=["item_id", "target"],
    coerce=True,
)
PRICE_COLUMNS: dict[str, str] = {
    "item_id": "int64",
    "sku": "string",
    "target": "string",
    "sales_channel": "string",
    "customer_group": "Int64",
    "rule": "string",
    "status": "string",
    "problem": "string",
    "purchase_price": "float64",
    "current_price": "float64",
    "raw_price": "float64",
    "floor_price": "float64",
    "new_price": "float64",
    "new_gross": "float64",
    "change_pct": "float64",
    "margin_pct": "float64",
    "capped": "bool",
    "limited": "bool",
    "floored": "bool",
}
PRICES_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(
            dtype, nullable=dtype != "bool" and name not in ("item_id", "sku", "target", "status")
        )
        for name, dtype in PRICE_COLUMNS.items()
    },
    checks=[
        pa.Check(
            lambda df: (
                ~df["status"].isin([APPLY, NEEDS_APPROVAL, UNCHANGED])
                | (df["new_price"] >= df["floor_price"] / (1 + 1e-6) - 1e-4)
            ).all(),
            error="a priced row below its floor",
        ),
    ],
    name="prices",
)


class RuleMatch(BaseModel):
    """Which prices a rule is for; every field given must fit (an empty match fits every price)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str | None = Field(
        default=None, description="Category path or its beginning: 'Küche > Kaffee'."
    )
    manufacturer: str | None = Field(default=None, description="Manufacturer name (case does not matter).")
    supplier_id: int | None = Field(default=None, description="Wawi Id of the item's standard supplier.")
    sales_channel: str | None = Field(
        default=None, description="Sales channel id; 'base' for the base price."
    )
    customer_group: int | None = Field(default=None, description="Customer group Id of a channel price.")


def check_endings(endings: tuple[float, ...]) -> tuple[float, ...]:
    """Endings are cents (0.00 to 0.99), kept sorted and once each."""
    for ending in endings:
        if not 0 <= ending < 1 or abs(round(ending, 2) - ending) > _EPS:
            raise ValueError(f"an ending is the cents of a price, 0.00 to 0.99: {ending!r}")
    return tuple(sorted({round(e, 2) for e in endings}))


class PriceRule(BaseModel):
    """One pricing rule: what it matches, how it prices, and its guards."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    match: RuleMatch = RuleMatch()
    priority: int = Field(default=0, description="Higher first when the rules are ordered by priority.")
    strategy: Literal["cost_plus", "target_margin"]
    markup_pct: float | None = Field(
        default=None, gt=-100, le=10_000, description="cost_plus: % on purchase."
    )
    margin_pct: float | None = Field(default=None, gt=0, lt=100, description="target_margin: % of net price.")
    endings: tuple[float, ...] = Field(
        default=(0.99,), description="Cents the gross price ends in; () = cent."
    )
    floor_pct: float = Field(default=0, ge=0, le=1000, description="Floor: % above the purchase price.")
    floor_abs: float = Field(default=0, ge=0, description="Floor: amount (net) above the purchase price.")
    cap_at_srp: bool = Field(default=True, description="Never above the suggested retail price.")
    max_change_pct: float | None = Field(default=20, gt=0, description="Largest change per run; None: any.")
    approval_threshold_pct: float | None = Field(
        default=10, ge=0, description="Larger changes wait for approval; None: none wait."
    )

    @field_validator("endings")
    @classmethod
    def _cents(cls, endings: tuple[float, ...]) -> tuple[float, ...]:
        return check_endings(endings)

    @model_validator(mode="after")
    def _strategy_figure(self) -> PriceRule:
        if self.strategy == "cost_plus" and self.markup_pct is None:
            raise ValueError("strategy cost_plus needs markup_pct")
        if self.strategy == "target_margin" and self.margin_pct is None:
            raise ValueError("strategy target_margin needs margin_pct")
        return self


class MarkdownRules(BaseModel):
    """Markdowns for slow movers: which items are slow, how much they are marked down and how it is applied.

    An item is slow when it has stock and covers more than ``min_cover_days`` days at its demand, or sold
    nothing for ``no_sale_days`` days (and was added to Wawi before that). Strategies: ``fixed``
    (``fixed_pct`` off), ``score`` (between ``score_min_pct`` and ``score_max_pct`` by a score of cover and
    age), ``recommended`` (the largest discount that keeps the floor and the caps). Every markdown stays at
    or above the floor (the matching price rule's and ``floor_pct``/``floor_abs`` here, whichever is
    higher), at most ``max_discount_pct`` below the current price and not above the suggested retail price.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Literal["fixed", "score", "recommended"] = Field(default="recommended")
    scope: RuleMatch = Field(default=RuleMatch(), description="Which items may be marked down (no channels).")
    history_days: int = Field(
        default=90, ge=7, le=730, description="Days of demand history, ending yesterday."
    )
    min_cover_days: float = Field(default=120, gt=0, description="Slow: stock covers more days than this.")
    no_sale_days: int = Field(default=45, ge=1, description="Slow: no sale for this many days.")
    fixed_pct: float = Field(default=20, gt=0, lt=100, description="fixed: the discount in percent.")
    score_min_pct: float = Field(default=5, ge=0, lt=100, description="score: the discount at score 0.")
    score_max_pct: float = Field(default=40, gt=0, lt=100, description="score: the discount at score 1.")
    score_cover_weight: float = Field(
        default=0.5, ge=0, le=1, description="score: weight of cover (the rest: days without a sale)."
    )
    max_discount_pct: float = Field(default=50, gt=0, lt=100, description="No markdown takes more off.")
    min_discount_pct: float = Field(
        default=3, ge=0, lt=100, description="Smaller markdowns are not proposed."
    )
    floor_pct: float = Field(default=0, ge=0, le=1000, description="Floor: % above the purchase price.")
    floor_abs: float = Field(default=0, ge=0, description="Floor: amount (net) above the purchase price.")
    endings: tuple[float, ...] = Field(default=(0.99,), description="Cents the gross markdown price ends in.")
    apply_as: Literal["special_price", "base_price"] = Field(
        default="special_price",
        description="special_price: a special price from the execution on for duration_days (the base price "
        "stays); base_price: the base price itself.",
    )
    duration_days: int = Field(default=14, ge=1, le=365, description="special_price: how long it runs.")
    hold_days: int = Field(
        default=30, ge=0, description="base_price: the rules leave a marked-down price alone this long."
    )
    sales_channels: tuple[str, ...] = Field(
        default=(), description="special_price: for these channels (none: every channel that takes them)."
    )
    customer_groups: tuple[int, ...] = Field(
        default=(), description="special_price: for these customer groups (none: every group)."
    )
    approval_threshold_pct: float | None = Field(
        default=0,
        ge=0,
        description="Markdowns larger than this wait in a markdown plan; None: none wait (applied at once).",
    )

    @field_validator("endings")
    @classmethod
    def _cents(cls, endings: tuple[float, ...]) -> tuple[float, ...]:
        return check_endings(endings)

    @model_validator(mode="after")
    def _consistent(self) -> MarkdownRules:
        if self.score_min_pct > self.score_max_pct:
            raise ValueError("score_min_pct must not be above score_max_pct")
        if self.scope.sales_channel is not None or self.scope.customer_group is not None:
            raise ValueError("a markdown scope names items (category, manufacturer, supplier), not channels")
        return self


class PricingRules(BaseModel):
    """The merchant's price rules (a YAML file in the configuration folder, see docs/pricing.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[PriceRule, ...] = Field(min_length=1)
    order: Literal["first_match", "priority"] = Field(
        default="first_match", description="first_match: file order; priority: highest priority first."
    )
    srp_includes_vat: bool = Field(default=True, description="The suggested retail price is gross (UVP).")
    markdown: MarkdownRules | None = Field(default=None, description="Markdowns for slow movers; none: off.")

    @model_validator(mode="after")
    def _unique_names(self) -> PricingRules:
        names = [rule.name for rule in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be unique: {', '.join(twice)}")
        return self

    def ordered(self) -> list[PriceRule]:
        """The rules in the order they are tried."""
        if self.order == "priority":
            return sorted(self.rules, key=lambda rule: -rule.priority)
        return list(self.rules)


# -- price endings on whole columns ----------------------------------------------------------------------


def _candidates(gross: np.ndarray, endings: tuple[float, ...]) -> np.ndarray:
    """Prices with an allowed ending around each value: rows x (3 * endings), sorted per row."""
    whole = np.floor(gross)[:, None]
    cents = np.asarray(endings, dtype="float64")[None, :]
    grid = np.concatenate([whole - 1 + cents, whole + cents, whole + 1 + cents], axis=1)
    return np.where(grid > 0, grid, np.nan)


def ending_up(gross: np.ndarray, endings: tuple[float, ...]) -> np.ndarray:
    """The smallest price with an allowed ending at or above each value (cents when there are none)."""
    if not endings:
        return np.ceil(np.round(gross * 100, 6)) / 100
    grid = _candidates(gross, endings)
    above = np.where(grid >= gross[:, None] - _EPS, grid, np.nan)
    found = ~np.isnan(above).all(axis=1)  # a NaN value has none
    out = np.full(len(gross), np.nan)
    out[found] = np.nanmin(above[found], axis=1)
    return out


def ending_down(gross: np.ndarray, endings: tuple[float, ...]) -> np.ndarray:
    """The largest price with an allowed ending at or below each value; NaN where none is above 0."""
    if not endings:
        return np.floor(np.round(gross * 100, 6)) / 100
    grid = _candidates(gross, endings)
    below = np.where(grid <= gross[:, None] + _EPS, grid, np.nan)
    found = ~np.isnan(below).all(axis=1)
    out = np.full(len(gross), np.nan)
    out[found] = np.nanmax(below[found], axis=1)
    return out


def ending_nearest(gross: np.ndarray, endings: tuple[float, ...]) -> np.ndarray:
    """The allowed price nearest to each value (a tie goes up)."""
    up, down = ending_up(gross, endings), ending_down(gross, endings)
    take_down = ~np.isnan(down) & (gross - down < up - gross - _EPS)
    return np.where(take_down, down, up)


# -- the rule ----------------------------------------------------------------------------------------------


def _fits(
    frame: pd.DataFrame, match: RuleMatch, coded: dict[str, tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Rows a rule's match fits (``coded``: the columns factorised once for all rules)."""
    fits = np.ones(len(frame), dtype=bool)
    if match.category is not None:
        wanted = _category_key(match.category)
        fits &= _by_label(
            coded["category"],
            lambda path: (key := _category_key(path)) == wanted or key.startswith(wanted + ">"),
        )
    if match.manufacturer is not None:
        maker = match.manufacturer.strip().casefold()
        fits &= _by_label(coded["manufacturer"], lambda name: name.strip().casefold() == maker)
    if match.supplier_id is not None:
        fits &= (frame["supplier_id"] == match.supplier_id).fillna(False).to_numpy(dtype=bool)
    if match.sales_channel is not None:
        if match.sales_channel == BASE_PRICE:
            fits &= (frame["target"] == BASE_PRICE).to_numpy(dtype=bool)
        else:
            fits &= (frame["sales_channel"] == match.sales_channel).fillna(False).to_numpy(dtype=bool)
    if match.customer_group is not None:
        fits &= (frame["customer_group"] == match.customer_group).fillna(False).to_numpy(dtype=bool)
    return fits


def _coded(items: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The label columns factorised once for all rules."""
    return {
        column: (codes, np.asarray(labels, dtype=object))
        for column in ("category", "manufacturer")
        for codes, labels in [pd.factorize(items[column].array)]
    }


def item_fits(items: pd.DataFrame, match: RuleMatch) -> np.ndarray:
    """Rows whose item (category, manufacturer, supplier) fits ``match``; its channel and group are ignored.

    ``items`` needs the columns ``category``, ``manufacturer``, ``supplier_id`` and ``target``.
    """
    item_level = match.model_copy(update={"sales_channel": None, "customer_group": None})
    return _fits(items, item_level, _coded(items))


def channel_rule_items(items: pd.DataFrame, rules: PricingRules) -> np.ndarray:
    """Rows (one per item) whose sales-channel prices a rule may price: a rule names a channel or group.

    Only for those items are the channel prices read (one request per item), so a rule file without
    channel rules prices base prices alone at the paging lower bound of requests.
    """
    wanted = np.zeros(len(items), dtype=bool)
    for rule in rules.rules:
        match = rule.match
        if match.customer_group is None and match.sales_channel in (None, BASE_PRICE):
            continue
        wanted |= item_fits(items, match)
    return wanted


def _by_label(coded: tuple[np.ndarray, np.ndarray], test: Callable[[str], bool]) -> np.ndarray:
    """``test`` of each row's label, run once per distinct label (100,000 rows share a few hundred)."""
    codes, labels = coded
    verdicts = np.asarray([test(str(label)) for label in labels] + [False], dtype=bool)
    chosen: np.ndarray = verdicts[codes]  # -1 (a null): the False at the end
    return chosen


def _category_key(path: str) -> str:
    """A category path compared ignoring case and the spacing around its separators."""
    return ">".join(part.strip().casefold() for part in re.split(r">|/", path) if part.strip())


def price_frame(items: pd.DataFrame, rules: PricingRules) -> pd.DataFrame:
    """The new price of every row, its status and the flags of what bounded it (see the module docstring).

    Sorted as given. ``problem`` says why a row is ``invalid_input`` or ``no_rule``; ``capped``,
    ``limited`` and ``floored`` say which guard set the price (``price_reasons`` spells them out).
    """
    items = validate_frame(PRICE_INPUT_SCHEMA, items)
    n = len(items)
    ordered = rules.ordered()
    rule_of = np.full(n, -1, dtype="int64")
    coded = _coded(items)
    for position, rule in enumerate(ordered):
        open_rows = rule_of < 0
        if not open_rows.any():
            break
        rule_of[open_rows & _fits(items, rule.match, coded)] = position

    def per_rule(values: list[float | None]) -> np.ndarray:
        table = np.asarray([np.nan if v is None else v for v in values] + [np.nan], dtype="float64")
        chosen: np.ndarray = table[rule_of]  # -1: the NaN at the end
        return chosen

    markup = per_rule([r.markup_pct if r.strategy == "cost_plus" else None for r in ordered])
    margin = per_rule([r.margin_pct if r.strategy == "target_margin" else None for r in ordered])
    floor_pct = per_rule([r.floor_pct for r in ordered])
    floor_abs = per_rule([r.floor_abs for r in ordered])
    threshold = per_rule([r.approval_threshold_pct for r in ordered])

    purchase = items["purchase_price"].to_numpy(dtype="float64", na_value=np.nan)
    current = items["current_price"].to_numpy(dtype="float64", na_value=np.nan)
    srp = items["suggested_retail_price"].to_numpy(dtype="float64", na_value=np.nan)
    vat = items["vat_rate"].to_numpy(dtype="float64", na_value=np.nan)
    factor = 1 + vat / 100
    srp_gross = srp if rules.srp_includes_vat else srp * factor

    problem = np.full(n, None, dtype=object)
    problem[rule_of < 0] = "no rule matches this price"
    for bad, text in (
        (np.isnan(purchase), "no purchase price"),
        (purchase <= 0, "the purchase price is not above 0"),
        (np.isnan(vat) | (vat < 0) | (vat > 100), "no valid VAT rate for the gross price ending"),
        (current < 0, "the current price is negative"),
    ):
        problem[bad & (rule_of >= 0) & (problem == None)] = text  # noqa: E711 (elementwise)
    priced = problem == None  # noqa: E711

    raw = np.where(np.isnan(markup), purchase / (1 - margin / 100), purchase * (1 + markup / 100))
    floor_net = purchase * (1 + floor_pct / 100) + floor_abs
    gross = np.full(n, np.nan)
    floor_gross = np.full(n, np.nan)
    capped = np.zeros(n, dtype=bool)
    limited = np.zeros(n, dtype=bool)
    for position, rule in enumerate(ordered):
        rows = np.flatnonzero(priced & (rule_of == position))
        if not len(rows):
            continue
        ends = rule.endings
        f = factor[rows]
        g = ending_nearest(raw[rows] * f, ends)
        lowest = ending_up(floor_net[rows] * f, ends)
        if rule.max_change_pct is not None:
            now = current[rows] * f
            known = ~np.isnan(now) & (now > 0)
            step = rule.max_change_pct / 100
            too_high = known & (g > now * (1 + step) + _EPS)
            too_low = known & (g < now * (1 - step) - _EPS)
            # towards the current price to an ending; where the steps of the endings are wider than the
            # allowed change, the current price stays
            g = np.where(too_high, np.fmax(ending_down(now * (1 + step), ends), now), g)
            g = np.where(too_low, np.fmin(ending_up(now * (1 - step), ends), now), g)
            limited[rows] = too_high | too_low
        if rule.cap_at_srp:
            cap = ending_down(srp_gross[rows], ends)
            over = ~np.isnan(cap) & (srp_gross[rows] > 0) & (g > cap + _EPS)
            g = np.where(over, cap, g)
            capped[rows] = over
        gross[rows] = g
        floor_gross[rows] = lowest
    floored = priced & (gross < floor_gross - _EPS)
    gross = np.where(floored, floor_gross, gross)
    new_net = np.round(gross / factor, _NET_DECIMALS)
    floor_price = np.round(floor_gross / factor, _NET_DECIMALS)
    with np.errstate(divide="ignore", invalid="ignore"):  # the rows divided by 0 are masked out
        change = np.where(current > 0, (new_net / current - 1) * 100, np.nan)
        margin_now = np.where(new_net > 0, (1 - purchase / new_net) * 100, np.nan)

    unchanged = priced & ~np.isnan(current) & (np.abs(new_net - current) < 0.5 * 10**-_NET_DECIMALS)
    waits = priced & ~unchanged & ~np.isnan(threshold) & (np.abs(np.nan_to_num(change)) > threshold + _EPS)
    status = np.where(priced, APPLY, np.where(rule_of < 0, NO_RULE, INVALID_INPUT)).astype(object)
    status[waits] = NEEDS_APPROVAL
    status[unchanged] = UNCHANGED
    names = np.asarray([r.name for r in ordered] + [None], dtype=object)[rule_of]
    keep = priced
    out = pd.DataFrame(
        {
            "item_id": items["item_id"].to_numpy(),
            "sku": items["sku"].array,
            "target": items["target"].array,
            "sales_channel": items["sales_channel"].array,
            "customer_group": items["customer_group"].array,
            "rule": pd.array(names, dtype="string"),
            "status": pd.array(status, dtype="string"),
            "problem": pd.array(problem, dtype="string"),
            "purchase_price": purchase,
            "current_price": current,
            "raw_price": np.where(keep, np.round(raw, _NET_DECIMALS), np.nan),
            "floor_price": np.where(keep, floor_price, np.nan),
            "new_price": np.where(keep, new_net, np.nan),
            "new_gross": np.where(keep, np.round(gross, 2), np.nan),
            "change_pct": np.where(keep, change, np.nan),
            "margin_pct": np.where(keep, margin_now, np.nan),
            "capped": capped & keep & ~floored,
            "limited": limited & keep & ~floored,
            "floored": floored,
        }
    ).astype(PRICE_COLUMNS)
    return validate_frame(PRICES_SCHEMA, out)


def price_reasons(prices: pd.DataFrame) -> pd.Series:
    """Each row's reason in words (for the rows a person or the price history reads, not all 100,000)."""
    texts = []
    for row in prices.to_dict("records"):
        if row["status"] in (NO_RULE, INVALID_INPUT):
            texts.append(str(row["problem"]))
            continue
        parts = [f"rule {row['rule']}: {row['raw_price']:.2f} net from purchase {row['purchase_price']:.2f}"]
        if row["capped"]:
            parts.append("capped at the suggested retail price")
        if row["limited"]:
            parts.append("limited to the largest change per run")
        if row["floored"]:
            parts.append(f"raised to the floor {row['floor_price']:.2f}")
        current, new = row["current_price"], row["new_price"]
        if current == current:  # not NaN
            parts.append(f"{current:.2f} -> {new:.2f} net ({row['change_pct']:+.1f}%)")
        else:
            parts.append(f"new price {new:.2f} net")
        texts.append("; ".join(parts))
    return pd.Series(texts, index=prices.index, dtype="string")
