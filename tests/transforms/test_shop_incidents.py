"""plan_incidents: open, keep, raise and clear incidents; nothing cleared that the run did not observe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pandera.errors
import pytest

from jtl_automator.transforms import shop_incidents as inc
from jtl_automator.transforms import shop_sync as t

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RULES = inc.IncidentRules({t.STALE_STOCK: timedelta(minutes=30), t.PRICE_DRIFT: timedelta(minutes=60)})


def _open(*rows: tuple[int, str, str, float, bool]) -> pd.DataFrame:
    """(id, kind, key, minutes since first seen, raised) rows of open incidents."""
    return pd.DataFrame(
        {
            "id": pd.Series([r[0] for r in rows], dtype="Int64"),
            "kind": pd.Series([r[1] for r in rows], dtype="string"),
            "key": pd.Series([r[2] for r in rows], dtype="string"),
            "first_seen": pd.Series(
                [NOW - timedelta(minutes=r[3]) for r in rows], dtype="datetime64[us, UTC]"
            ),
            "raised_at": pd.Series(
                [NOW - timedelta(minutes=1) if r[4] else None for r in rows], dtype="datetime64[us, UTC]"
            ),
        }
    )


def _findings(*rows: dict[str, Any]) -> pd.DataFrame:
    frame = t.empty_findings()
    if not rows:
        return frame
    full = [{"since": None, "detail": "x", **row} for row in rows]
    return t.findings_frame(full)


def _plan(
    open_: pd.DataFrame, findings: pd.DataFrame, observed: dict[str, inc.Observation]
) -> dict[str, Any]:
    plan = inc.plan_incidents(open_, findings, observed, NOW, RULES)
    return {
        f"{row['kind']}:{row['key']}": (
            row["action"],
            bool(row["raise"]),
            None if pd.isna(row["clear_reason"]) else row["clear_reason"],
        )
        for row in plan.to_dict("records")
    }


ALL = {kind: inc.Observation(complete=True) for kind in t.KINDS}


def test_a_new_finding_opens_an_incident_watched_until_its_threshold() -> None:
    plan = inc.plan_incidents(_open(), _findings({"kind": t.STALE_STOCK, "key": "A"}), ALL, NOW, RULES)
    row = plan.iloc[0]
    assert (row["action"], bool(row["raise"]), row["first_seen"]) == (inc.OPEN, False, pd.Timestamp(NOW))


def test_a_stuck_order_is_stuck_since_its_creation_and_raised_at_once() -> None:
    created = NOW - timedelta(hours=3)
    plan = inc.plan_incidents(
        _open(), _findings({"kind": t.STUCK_ORDER, "key": "B1", "since": created}), ALL, NOW, RULES
    )
    row = plan.iloc[0]
    assert (row["action"], bool(row["raise"]), row["first_seen"]) == (inc.OPEN, True, pd.Timestamp(created))


def test_a_since_in_the_future_is_not_believed() -> None:
    plan = inc.plan_incidents(
        _open(),
        _findings({"kind": t.STUCK_ORDER, "key": "B1", "since": NOW + timedelta(hours=1)}),
        ALL,
        NOW,
        RULES,
    )
    assert plan.iloc[0]["first_seen"] == pd.Timestamp(NOW)


@pytest.mark.parametrize(
    ("minutes", "raised", "expected_raise"),
    [
        pytest.param(29, False, False, id="still-below-threshold"),
        pytest.param(30, False, True, id="crosses-threshold-now"),
        pytest.param(300, True, False, id="raised-before-raises-once"),
    ],
)
def test_an_open_incident_found_again_is_kept_and_raised_once(
    minutes: float, raised: bool, expected_raise: bool
) -> None:
    got = _plan(
        _open((7, t.STALE_STOCK, "A", minutes, raised)), _findings({"kind": t.STALE_STOCK, "key": "A"}), ALL
    )
    assert got == {"stale_stock:A": (inc.UPDATE, expected_raise, None)}


def test_an_open_incident_the_run_evaluated_and_found_fine_is_cleared() -> None:
    observed = {t.STALE_STOCK: inc.Observation(evaluated=frozenset({"A"}))}
    got = _plan(_open((7, t.STALE_STOCK, "A", 100, True)), _findings(), observed)
    assert got == {"stale_stock:A": (inc.CLEAR, False, "resolved: the two sides agree again")}


def test_gone_from_a_complete_read_is_cleared_but_not_if_the_row_could_not_be_read() -> None:
    open_ = _open((7, t.STALE_STOCK, "GONE", 100, True), (8, t.STALE_STOCK, "BROKEN", 100, True))
    observed = {t.STALE_STOCK: inc.Observation(unevaluated=frozenset({"BROKEN"}), complete=True)}
    got = _plan(open_, _findings(), observed)
    assert set(got) == {"stale_stock:GONE"} and got["stale_stock:GONE"][0] == inc.CLEAR


def test_a_partial_read_clears_only_what_it_evaluated() -> None:
    open_ = _open((7, t.STALE_STOCK, "A", 100, True), (8, t.STALE_STOCK, "B", 100, True))
    observed = {t.STALE_STOCK: inc.Observation(evaluated=frozenset({"A"}), complete=False)}
    assert set(_plan(open_, _findings(), observed)) == {"stale_stock:A"}


def test_a_kind_the_run_could_not_observe_is_left_alone() -> None:
    open_ = _open((7, t.STUCK_ORDER, "B1", 100, True), (8, t.STALE_STOCK, "A", 100, True))
    findings = _findings({"kind": t.STUCK_ORDER, "key": "B2"})
    observed = {t.STALE_STOCK: inc.Observation(evaluated=frozenset({"A"}))}  # Wawi down: no order kinds
    got = _plan(open_, findings, observed)
    assert got == {"stale_stock:A": (inc.CLEAR, False, "resolved: the two sides agree again")}


def test_kinds_are_independent_keys() -> None:
    open_ = _open((7, t.PRICE_DRIFT, "A/1", 100, True))
    findings = _findings({"kind": t.STALE_STOCK, "key": "A/1"})
    got = _plan(open_, findings, ALL)
    assert got["price_drift:A/1"][0] == inc.CLEAR and got["stale_stock:A/1"][0] == inc.OPEN


def test_two_open_incidents_of_one_key_are_refused() -> None:
    with pytest.raises(pandera.errors.SchemaError, match="two open incidents"):
        inc.plan_incidents(
            _open((1, t.STALE_STOCK, "A", 1, False), (2, t.STALE_STOCK, "A", 1, False)),
            _findings(),
            ALL,
            NOW,
            RULES,
        )


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(pandera.errors.SchemaError):
        inc.plan_incidents(_open((1, "weather", "A", 1, False)), _findings(), ALL, NOW, RULES)
