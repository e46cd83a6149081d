"""price_frame: literal prices worked out by hand, one rule per test, and properties of the floor and caps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jtl_automator.transforms.pricing import (
    PriceRule,
    PricingRules,
    ending_down,
    ending_nearest,
    ending_up,
    price_frame,
    price_reasons,
)


def _row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "item_id": None,  # numbered by _frame
        "sku": "KAF-1",
        "target": "base",
        "sales_channel": None,
        "customer_group": None,
        "category": "Küche > Kaffee",
        "manufacturer": "Bialetti",
        "supplier_id": 7,
        "purchase_price": 10.0,
        "suggested_retail_price": None,
        "current_price": None,
        "vat_rate": 19.0,
    }
    row.update(values)
    return row


def _frame(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{**r, "item_id": r["item_id"] or i + 1} for i, r in enumerate(rows)])


def _rules(*rules: dict[str, Any], **options: Any) -> PricingRules:
    return PricingRules.model_validate({"rules": list(rules), **options})


COST_PLUS = {"name": "standard", "strategy": "cost_plus", "markup_pct": 50, "approval_threshold_pct": None}


def _one(rules: PricingRules, **values: Any) -> dict[str, Any]:
    out = price_frame(_frame(_row(**values)), rules)
    return out.iloc[0].to_dict()


def test_cost_plus_puts_the_ending_on_the_gross_price() -> None:
    # 10.00 * 1.5 = 15.00 net = 17.85 gross; the nearest .99 is 17.99 (16.99 is 0.86 away)
    got = _one(_rules(COST_PLUS))
    assert got["status"] == "apply" and got["rule"] == "standard"
    assert got["new_gross"] == 17.99
    assert got["new_price"] == round(17.99 / 1.19, 4) == 15.1176
    assert round(got["new_price"] * 1.19, 2) == 17.99  # 4 decimals keep the ending


def test_target_margin_is_a_share_of_the_net_price() -> None:
    rules = _rules(
        {"name": "m", "strategy": "target_margin", "margin_pct": 40, "approval_threshold_pct": None}
    )
    got = _one(rules, purchase_price=6.0)
    # 6 / 0.6 = 10.00 net = 11.90 gross -> 11.99
    assert got["raw_price"] == 10.0 and got["new_gross"] == 11.99
    assert math.isclose(got["margin_pct"], (1 - 6.0 / got["new_price"]) * 100)


def test_the_suggested_retail_price_caps_and_the_floor_beats_the_cap() -> None:
    doubled = {**COST_PLUS, "markup_pct": 100}
    capped = _one(_rules(doubled), suggested_retail_price=14.99)
    assert capped["new_gross"] == 14.99 and capped["capped"] and not capped["floored"]
    floored = _one(_rules({**doubled, "floor_pct": 30}), suggested_retail_price=14.99)
    # floor 13.00 net = 15.47 gross -> up to 15.99, above the cap of 14.99: the floor wins
    assert floored["new_gross"] == 15.99 and floored["floored"] and not floored["capped"]
    assert floored["floor_price"] == round(15.99 / 1.19, 4)


def test_a_net_suggested_retail_price_is_made_gross_first() -> None:
    got = _one(_rules({**COST_PLUS, "markup_pct": 100}, srp_includes_vat=False), suggested_retail_price=14.0)
    # 14.00 net = 16.66 gross; the largest .99 at or below it is 15.99
    assert got["new_gross"] == 15.99 and got["capped"]


def test_the_largest_change_per_run_holds_and_a_large_change_waits_for_approval() -> None:
    rule = {**COST_PLUS, "markup_pct": 100, "max_change_pct": 20, "approval_threshold_pct": 10}
    got = _one(_rules(rule), current_price=10.0)
    # wanted 23.99 gross; 10.00 net = 11.90 gross, +20% = 14.28 -> down to 13.99
    assert got["new_gross"] == 13.99 and got["limited"]
    assert got["status"] == "needs_approval" and got["change_pct"] == pytest.approx(
        (round(13.99 / 1.19, 4) / 10 - 1) * 100
    )


def test_a_change_narrower_than_the_endings_keeps_the_current_price() -> None:
    rule = {**COST_PLUS, "markup_pct": 100, "max_change_pct": 1}
    got = _one(_rules(rule), purchase_price=4.0, current_price=round(9.99 / 1.19, 4))
    assert got["status"] == "unchanged" and got["new_gross"] == 9.99


def test_an_unchanged_price_is_not_written_again() -> None:
    first = _one(_rules(COST_PLUS))
    again = _one(_rules(COST_PLUS), current_price=first["new_price"])
    assert again["status"] == "unchanged" and again["new_price"] == first["new_price"]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"purchase_price": None}, "no purchase price"),
        ({"purchase_price": -3.0}, "not above 0"),
        ({"purchase_price": 0.0}, "not above 0"),
        ({"vat_rate": None}, "VAT"),
        ({"vat_rate": 250.0}, "VAT"),
        ({"current_price": -1.0}, "negative"),
    ],
)
@pytest.mark.slow
def test_bad_input_is_reported_never_priced(values: dict[str, Any], problem: str) -> None:
    out = price_frame(_frame(_row(**values), _row(sku="OK", item_id=2)), _rules(COST_PLUS))
    bad, good = out.iloc[0], out.iloc[1]
    assert bad["status"] == "invalid_input" and problem in bad["problem"] and math.isnan(bad["new_price"])
    assert good["status"] == "apply"  # the batch goes on
    assert problem in price_reasons(out).iloc[0]


def test_rows_no_rule_matches_are_listed() -> None:
    rules = _rules({**COST_PLUS, "match": {"manufacturer": "De'Longhi"}})
    got = _one(rules)
    assert got["status"] == "no_rule" and got["problem"] == "no rule matches this price"


def test_matching_by_category_prefix_manufacturer_supplier_and_channel() -> None:
    rules = _rules(
        {**COST_PLUS, "name": "coffee", "match": {"category": "küche/kaffee"}, "markup_pct": 100},
        {
            **COST_PLUS,
            "name": "bialetti-shop",
            "match": {"manufacturer": "BIALETTI", "sales_channel": "shop1"},
        },
        {**COST_PLUS, "name": "supplier 7 base", "match": {"supplier_id": 7, "sales_channel": "base"}},
        {**COST_PLUS, "name": "rest"},
    )
    out = price_frame(
        _frame(
            _row(category="Küche > Kaffee > Bohnen"),
            _row(
                category="Küche > Kaffeemaschinen", target="shop1/1", sales_channel="shop1", customer_group=1
            ),
            _row(category=None),
            _row(category=None, supplier_id=8),
        ),
        rules,
    )
    assert out["rule"].tolist() == ["coffee", "bialetti-shop", "supplier 7 base", "rest"]


def test_priority_order_tries_the_highest_priority_first() -> None:
    rules = [
        {**COST_PLUS, "name": "general", "priority": 0},
        {**COST_PLUS, "name": "special", "priority": 5, "match": {"manufacturer": "Bialetti"}},
    ]
    assert _one(_rules(*rules))["rule"] == "general"
    assert _one(_rules(*rules, order="priority"))["rule"] == "special"


def test_no_endings_rounds_to_the_cent() -> None:
    got = _one(_rules({**COST_PLUS, "endings": []}))
    assert got["new_gross"] == 17.85


def test_rule_mistakes_are_refused() -> None:
    with pytest.raises(ValidationError, match="markup_pct"):
        PriceRule.model_validate({"name": "x", "strategy": "cost_plus"})
    with pytest.raises(ValidationError, match="cents"):
        PriceRule.model_validate({"name": "x", "strategy": "cost_plus", "markup_pct": 1, "endings": [1.5]})
    with pytest.raises(ValidationError, match="unique"):
        _rules(COST_PLUS, COST_PLUS)
    with pytest.raises(ValidationError):
        PriceRule.model_validate({"name": "x", "strategy": "target_margin", "margin_pct": 100})


def test_endings_up_down_nearest() -> None:
    values = np.array([17.85, 17.99, 18.0, 0.5, 0.99])
    ends = (0.9, 0.95, 0.99)
    assert ending_up(values, ends).tolist() == [17.9, 17.99, 18.9, 0.9, 0.99]
    down = ending_down(values, ends)
    assert down[:3].tolist() == [16.99, 17.99, 17.99] and math.isnan(down[3]) and down[4] == 0.99
    assert ending_nearest(values, ends).tolist() == [17.9, 17.99, 17.99, 0.9, 0.99]


# -- properties: the floor and the caps hold for any input ---------------------------------------------

_money = st.floats(min_value=0.01, max_value=5000, allow_nan=False).map(lambda x: round(x, 2))
_maybe_money = st.one_of(st.none(), _money)
_endings = st.lists(st.sampled_from([0.0, 0.49, 0.5, 0.9, 0.95, 0.99]), max_size=3, unique=True)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(min_value=-50, max_value=5000, allow_nan=False)),
            _maybe_money,
            _maybe_money,
            st.sampled_from([0.0, 7.0, 19.0]),
        ),
        min_size=1,
        max_size=12,
    ),
    markup=st.floats(min_value=-50, max_value=400),
    floor_pct=st.floats(min_value=0, max_value=80),
    floor_abs=st.floats(min_value=0, max_value=20),
    max_change=st.one_of(st.none(), st.floats(min_value=0.5, max_value=60)),
    endings=_endings,
    cap=st.booleans(),
)
def test_prices_never_go_below_the_floor_and_keep_the_caps(
    rows: list[tuple[float | None, float | None, float | None, float]],
    markup: float,
    floor_pct: float,
    floor_abs: float,
    max_change: float | None,
    endings: list[float],
    cap: bool,
) -> None:
    rule = {
        "name": "r",
        "strategy": "cost_plus",
        "markup_pct": markup,
        "floor_pct": floor_pct,
        "floor_abs": floor_abs,
        "max_change_pct": max_change,
        "endings": endings,
        "cap_at_srp": cap,
    }
    frame = _frame(
        *[
            _row(item_id=i + 1, purchase_price=p, suggested_retail_price=s, current_price=c, vat_rate=v)
            for i, (p, s, c, v) in enumerate(rows)
        ]
    )
    out = price_frame(frame, _rules(rule))
    priced = out[out["status"].isin(["apply", "needs_approval", "unchanged"])]
    for _, row in out.iterrows():
        purchase = row["purchase_price"]
        if purchase != purchase or purchase <= 0:
            assert row["status"] == "invalid_input" and math.isnan(row["new_price"])
    for _, row in priced.iterrows():
        factor = 1 + frame.loc[frame["item_id"] == row["item_id"], "vat_rate"].iloc[0] / 100
        floor_net = row["purchase_price"] * (1 + floor_pct / 100) + floor_abs
        assert row["new_price"] * factor >= floor_net * factor - 0.006  # never below the floor
        kept = (
            row["current_price"] == row["current_price"]
            and abs(row["new_price"] - row["current_price"]) < 1e-4
        )
        cents = round(round(row["new_gross"] % 1, 2), 2)
        if not kept:
            assert cents in ({round(e, 2) for e in endings} or {cents})  # an allowed ending
        srp = frame.loc[frame["item_id"] == row["item_id"], "suggested_retail_price"].iloc[0]
        expressible = srp is not None and not math.isnan(ending_down(np.array([srp]), tuple(endings))[0])
        if cap and expressible and not row["floored"]:
            assert row["new_gross"] <= srp + 1e-6  # never above the suggested retail price
        current = row["current_price"]
        if (
            max_change is not None
            and current == current
            and current > 0
            and not (row["floored"] or row["capped"])
        ):
            assert abs(row["new_price"] / current - 1) * 100 <= max_change + 0.05
    # a rerun from the written prices writes nothing where neither the limit held the price back nor the
    # floor replaced what the limit allowed
    rerun = frame.set_index("item_id")
    done = priced.set_index("item_id")
    steady = done[~done["limited"] & ~done["floored"]]
    rerun.loc[steady.index, "current_price"] = steady["new_price"]
    again = price_frame(rerun.reset_index(), _rules(rule)).set_index("item_id")
    assert (again.loc[steady.index, "status"] == "unchanged").all()
