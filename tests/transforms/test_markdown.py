"""markdown_frame: which items are slow, the strategies worked out by hand, and the floor as a property."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jtl_automator.transforms.markdown import markdown_frame, markdown_reasons
from jtl_automator.transforms.pricing import MarkdownRules, PricingRules, ending_up


def _row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "item_id": 1,
        "sku": "KAF-1",
        "purchase_price": 10.0,
        "current_price": 20.0,  # 23.80 gross
        "suggested_retail_price": None,
        "vat_rate": 19.0,
        "rule_floor": None,
        "stock": 100.0,
        "daily_demand": 0.5,  # cover 200 days
        "days_since_sale": 5.0,
        "added_days": 400.0,
        "in_scope": True,
        "held": False,
    }
    row.update(values)
    return row


def _one(rules: MarkdownRules, **values: Any) -> dict[str, Any]:
    out = markdown_frame(pd.DataFrame([_row(**values)]), rules)
    return out.iloc[0].to_dict()


def test_fixed_takes_its_percentage_to_the_nearest_ending() -> None:
    # 23.80 gross * 0.8 = 19.04 -> nearest .99: 18.99; net 18.99 / 1.19 = 15.95798... rounded up: 15.9580
    got = _one(MarkdownRules(strategy="fixed", fixed_pct=20))
    assert got["status"] == "markdown"
    assert (got["new_gross"], got["new_price"], got["discount_pct"]) == (18.99, 15.958, 20.21)
    assert got["cover_days"] == 200 and got["floor_price"] == 10.0757  # 11.99 / 1.19 rounded up


def test_score_grows_with_cover_and_age() -> None:
    rules = MarkdownRules(
        strategy="score", score_min_pct=5, score_max_pct=40, min_cover_days=120, no_sale_days=45
    )
    # cover 200: (200 - 120) / 120 = 0.667; last sale 5 days ago: age part 0; score 0.5 * 0.667 = 0.3333
    # discount 5 + 0.3333 * 35 = 16.67%: 23.80 * 0.8333 = 19.83 -> 19.99
    got = _one(rules)
    assert (got["score"], got["new_gross"], got["new_price"]) == (0.3333, 19.99, 16.7984)
    # no sale for 90 days and no demand: both parts 1, the full 40%: 23.80 * 0.6 = 14.28 -> 13.99 (0.29 below,
    # 14.99 is 0.71 above)
    stale = _one(rules, daily_demand=0.0, days_since_sale=None)
    assert (stale["score"], stale["new_gross"], stale["age_days"]) == (1.0, 13.99, 90.0)
    assert np.isnan(stale["cover_days"])  # forever


def test_recommended_goes_to_the_floor_or_the_largest_discount_allowed() -> None:
    # floor: the rule's 12.00 net (higher than the purchase price 10.00) = 14.28 gross -> 14.99 net 12.5967
    got = _one(MarkdownRules(strategy="recommended"), rule_floor=12.0)
    assert (got["new_gross"], got["new_price"], got["floor_price"]) == (14.99, 12.5967, 12.5967)
    # no rule floor, purchase 5: the floor 5.95 gross -> 5.99; the cap of 30% off: 16.66 -> 16.99
    capped = _one(MarkdownRules(strategy="recommended", max_discount_pct=30), purchase_price=5.0)
    assert capped["new_gross"] == 16.99 and round(capped["discount_pct"], 2) == 28.61


def test_a_markdown_never_goes_above_the_suggested_retail_price() -> None:
    # current 30.00 net = 35.70 gross, UVP 29.90 gross: fixed 10% would be 31.99, the UVP caps at 28.99
    got = _one(MarkdownRules(strategy="fixed", fixed_pct=10), current_price=30.0, suggested_retail_price=29.9)
    assert got["new_gross"] == 28.99


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({"daily_demand": 2.0, "days_since_sale": 1.0}, "not_slow"),  # cover 50 days, sold yesterday
        ({"daily_demand": 2.0, "days_since_sale": 60.0}, "markdown"),  # no sale for 60 days
        ({"daily_demand": 2.0, "days_since_sale": None, "added_days": 10.0}, "not_slow"),  # new item
        ({"stock": 0.0}, "no_stock"),
        ({"held": True}, "held"),
        ({"in_scope": False}, "out_of_scope"),
        ({"purchase_price": None}, "invalid_input"),
        ({"purchase_price": -3.0}, "invalid_input"),
        ({"current_price": None}, "invalid_input"),
        ({"vat_rate": None}, "invalid_input"),
        ({"purchase_price": 19.5}, "too_small"),  # the floor 23.21 gross -> 23.99 is above 23.80
    ],
)
@pytest.mark.slow
def test_statuses(values: dict[str, Any], status: str) -> None:
    rules = MarkdownRules(strategy="fixed", fixed_pct=20)
    got = _one(rules, **values)
    assert got["status"] == status
    frame = markdown_frame(pd.DataFrame([_row(**values)]), rules)
    assert markdown_reasons(frame, rules).iloc[0]  # every row can say why


def test_reasons_say_why_and_how_much() -> None:
    rules = MarkdownRules(strategy="fixed", fixed_pct=20)
    frame = markdown_frame(pd.DataFrame([_row(), _row(item_id=2, purchase_price=None)]), rules)
    reasons = list(markdown_reasons(frame, rules))
    assert reasons == [
        "cover 200 days (100 units, 0.50/day), last sale 5 days ago; fixed 20%: 23.80 -> 18.99 gross "
        "(-20.2%, floor 10.08 net)",
        "no purchase price",
    ]


def test_the_rules_file_refuses_inconsistent_markdown_settings() -> None:
    with pytest.raises(ValidationError, match="score_min_pct"):
        MarkdownRules(score_min_pct=30, score_max_pct=20)
    with pytest.raises(ValidationError, match="not channels"):
        MarkdownRules.model_validate({"scope": {"sales_channel": "1-2-1"}})
    rules = PricingRules.model_validate(
        {
            "rules": [{"name": "r", "strategy": "cost_plus", "markup_pct": 50}],
            "markdown": {"strategy": "fixed"},
        }
    )
    assert rules.markdown is not None and rules.markdown.fixed_pct == 20


prices = st.floats(min_value=0.05, max_value=5000, allow_nan=False)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    purchase=prices,
    markup=st.floats(min_value=0.2, max_value=8),
    vat=st.sampled_from([0.0, 7.0, 19.0, 20.0, 21.0]),
    strategy=st.sampled_from(["fixed", "score", "recommended"]),
    fixed=st.floats(min_value=1, max_value=95),
    max_discount=st.floats(min_value=1, max_value=95),
    floor_pct=st.floats(min_value=0, max_value=80),
    floor_abs=st.floats(min_value=0, max_value=5),
    rule_floor_factor=st.one_of(st.none(), st.floats(min_value=0.5, max_value=3)),
    srp_factor=st.one_of(st.none(), st.floats(min_value=0.3, max_value=3)),
    endings=st.sampled_from([(), (0.99,), (0.49, 0.99), (0.9, 0.95, 0.99)]),
    cover_days=st.floats(min_value=0, max_value=2000),
    since=st.one_of(st.none(), st.floats(min_value=0, max_value=400)),
)
def test_no_markdown_goes_below_the_floor_or_past_the_caps(
    purchase: float,
    markup: float,
    vat: float,
    strategy: str,
    fixed: float,
    max_discount: float,
    floor_pct: float,
    floor_abs: float,
    rule_floor_factor: float | None,
    srp_factor: float | None,
    endings: tuple[float, ...],
    cover_days: float,
    since: float | None,
) -> None:
    current = round(purchase * (1 + markup), 4)
    rule_floor = None if rule_floor_factor is None else purchase * rule_floor_factor
    srp = None if srp_factor is None else round(current * (1 + vat / 100) * srp_factor, 2)
    rules = MarkdownRules(
        strategy=strategy,  # type: ignore[arg-type]
        fixed_pct=fixed,
        max_discount_pct=max_discount,
        floor_pct=floor_pct,
        floor_abs=floor_abs,
        endings=endings,
        min_discount_pct=0,
        score_max_pct=60,
    )
    frame = markdown_frame(
        pd.DataFrame(
            [
                _row(
                    purchase_price=purchase,
                    current_price=current,
                    vat_rate=vat,
                    rule_floor=rule_floor,
                    suggested_retail_price=srp,
                    stock=10.0,
                    daily_demand=10.0 / cover_days if cover_days else 0.0,
                    days_since_sale=since,
                )
            ]
        ),
        rules,
    )
    row = frame.iloc[0]
    if row["status"] != "markdown":
        assert np.isnan(row["new_price"])
        return
    factor = 1 + vat / 100
    floor = max(purchase * (1 + floor_pct / 100) + floor_abs, rule_floor or 0)
    new = float(row["new_price"])
    assert new >= floor - 1e-9  # the floor holds, on the net price itself
    assert new < current  # a markdown lowers the price
    deepest = float(ending_up(np.array([current * factor * (1 - max_discount / 100)]), endings)[0])
    gross = round(new * factor, 2)
    floor_gross = float(ending_up(np.array([floor * factor]), endings)[0])
    assert gross >= floor_gross - 0.005 and gross >= deepest - 0.005  # never past the largest discount
    if srp is not None and srp > 0:
        assert gross <= max(srp, floor_gross, deepest) + 0.005  # the UVP caps unless a floor is higher
    if endings:
        assert round(gross % 1, 2) in endings
