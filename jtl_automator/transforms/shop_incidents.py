"""What one shop sync check does to the incident history: open, keep, raise, clear (pure).

An incident is one (kind, key): a stuck order by its number, stale stock by SKU (and shop warehouse), a
drifted price by SKU and customer group. A finding without an open incident opens one; its ``first_seen``
is when the condition began where the data says (a stuck order: its creation in the shop), else now. An
open incident found again stays open with the newest observation. It is *raised* (reported and alerted)
once ``now - first_seen`` reaches its kind's threshold, so a stock difference the next Wawi sync removes
within minutes never alerts anyone.

Clearing needs an observation: an open incident is cleared only when this run looked at its key and
found nothing wrong (``evaluated``), or, for a kind read completely, when its key was not there at all and
was not one the run failed to read (``unevaluated``: a malformed row, a price not yet verifiable). A kind
the run could not observe (the Shop or Wawi down) is left exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pandera.pandas as pa

from jtl_automator.transforms.shop_sync import FINDINGS_SCHEMA, KINDS

OPEN = "open"
UPDATE = "update"
CLEAR = "clear"
_UTC_TIMES = "datetime64[us, UTC]"

OPEN_INCIDENTS_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column("Int64"),
        "kind": pa.Column("string", pa.Check.isin(KINDS)),
        "key": pa.Column("string"),
        "first_seen": pa.Column(_UTC_TIMES),
        "raised_at": pa.Column(_UTC_TIMES, nullable=True),
    },
    checks=pa.Check(lambda df: ~df.duplicated(["kind", "key"]).any(), error="two open incidents of one key"),
    name="open_shop_sync_incidents",
)
PLAN_COLUMNS: dict[str, str] = {
    "action": "string",  # open | update | clear
    "id": "Int64",  # the open incident (update, clear); NA for a new one
    "kind": "string",
    "key": "string",
    "first_seen": _UTC_TIMES,
    "raise": "bool",  # crosses its threshold in this run
    "clear_reason": "string",
    "detail": "string",
}
PLAN_SCHEMA = pa.DataFrameSchema(
    {name: pa.Column(dtype, nullable=name in ("id", "clear_reason")) for name, dtype in PLAN_COLUMNS.items()},
    checks=[
        pa.Check(lambda df: df["action"].isin([OPEN, UPDATE, CLEAR]).all(), error="an unknown action"),
        pa.Check(lambda df: (df["action"] == OPEN).eq(df["id"].isna()).all(), error="open without id"),
    ],
    name="shop_sync_incident_plan",
)


@dataclass(frozen=True)
class Observation:
    """What one run saw of one kind.

    ``evaluated``: keys compared this run (fine or a finding); ``unevaluated``: keys it saw but could not
    compare (their incidents stay as they are); ``complete``: the whole population was read, so an open
    incident whose key is in neither set is gone (the product left the shop, say) and is cleared.
    """

    evaluated: frozenset[str] = frozenset()
    unevaluated: frozenset[str] = frozenset()
    complete: bool = False


@dataclass(frozen=True)
class IncidentRules:
    """How long a kind's condition must last before it is raised."""

    thresholds: Mapping[str, timedelta] = field(default_factory=dict)

    def threshold(self, kind: str) -> timedelta:
        """The kind's threshold (zero when not given: raised when first seen)."""
        return self.thresholds.get(kind, timedelta(0))


def _rows(frame: pd.DataFrame) -> Iterator[Any]:
    return frame.itertuples(index=False)


def empty_open_incidents() -> pd.DataFrame:
    """An open-incidents frame without rows."""
    return OPEN_INCIDENTS_SCHEMA.validate(
        pd.DataFrame(
            {
                "id": pd.Series([], dtype="Int64"),
                "kind": pd.Series([], dtype="string"),
                "key": pd.Series([], dtype="string"),
                "first_seen": pd.Series([], dtype=_UTC_TIMES),
                "raised_at": pd.Series([], dtype=_UTC_TIMES),
            }
        )
    )


def plan_incidents(
    open_incidents: pd.DataFrame,
    findings: pd.DataFrame,
    observed: Mapping[str, Observation],
    now: datetime,
    rules: IncidentRules,
) -> pd.DataFrame:
    """One action per finding and per open incident the run can decide on (see the module docstring).

    Findings of a kind that is not in ``observed`` are ignored (a run only speaks of what it saw).
    """
    current = OPEN_INCIDENTS_SCHEMA.validate(open_incidents)
    found = FINDINGS_SCHEMA.validate(findings)
    at = pd.Timestamp(now if now.tzinfo else now.replace(tzinfo=UTC)).tz_convert(UTC)
    found = found[found["kind"].isin(list(observed))]
    by_key = {(str(r.kind), str(r.key)): r for r in _rows(current)}
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for f in _rows(found):
        ident = (str(f.kind), str(f.key))
        seen.add(ident)
        threshold = rules.threshold(ident[0])
        existing = by_key.get(ident)
        if existing is None:
            first = f.since if not pd.isna(f.since) and f.since <= at else at
            rows.append(_row(OPEN, None, ident, first, at - first >= threshold, None, str(f.detail)))
            continue
        first = existing.first_seen
        crossing = pd.isna(existing.raised_at) and at - first >= threshold
        rows.append(_row(UPDATE, int(existing.id), ident, first, bool(crossing), None, str(f.detail)))
    for r in _rows(current):
        ident = (str(r.kind), str(r.key))
        seen_kind = observed.get(ident[0])
        if ident in seen or seen_kind is None:
            continue
        if ident[1] in seen_kind.evaluated:
            reason = "resolved: the two sides agree again"
        elif seen_kind.complete and ident[1] not in seen_kind.unevaluated:
            reason = "no longer there to compare (gone from the shop or from the orders followed)"
        else:
            continue
        rows.append(_row(CLEAR, int(r.id), ident, r.first_seen, False, reason, reason))
    frame = pd.DataFrame(
        {name: pd.Series([row[name] for row in rows], dtype=dtype) for name, dtype in PLAN_COLUMNS.items()}
    )
    if rows:
        frame["first_seen"] = pd.to_datetime([row["first_seen"] for row in rows], utc=True).astype(_UTC_TIMES)
    return PLAN_SCHEMA.validate(frame)


def _row(
    action: str,
    ident: int | None,
    kind_key: tuple[str, str],
    first_seen: Any,
    raise_now: bool,
    reason: str | None,
    detail: str,
) -> dict[str, Any]:
    return {
        "action": action,
        "id": ident,
        "kind": kind_key[0],
        "key": kind_key[1],
        "first_seen": first_seen,
        "raise": bool(raise_now),
        "clear_reason": reason,
        "detail": detail,
    }
