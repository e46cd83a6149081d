"""What a report is, independent of where it is shown: headline figures, tables, charts and notes.

A report module (``jtl_automator.reports.daily`` …) turns the period's data into one :class:`Report`; every
output (the Excel workbook, the Google Sheet tab, the Prefect artifacts, the e-mail) renders that same
object, so a figure cannot differ between them. A figure that could not be computed carries ``None`` and
the reason (``missing``), which every output states in words: never a zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.reports.periods import Period
from jtl_automator.store import KpiValue

#: How a number is shown: euros, a share (0.25 is 25 %), a count (thousands separated), a plain
#: number, hours, days, text, a date or a timestamp.
Unit = Literal["eur", "pct", "count", "number", "hours", "days", "text", "date", "datetime"]
Rag = Literal["green", "amber", "red"]
ChartKind = Literal["line", "bar", "stacked_bar"]


class Target(BaseModel):
    """Red/amber/green on a figure: green at ``green`` or better, red past ``red``, amber between."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    green: float = Field(description="Green at this value or better.")
    red: float = Field(description="Red past this value (worse than it).")
    higher_is_better: bool = Field(default=True, description="False: lower values are better.")

    @model_validator(mode="after")
    def _ordered(self) -> Target:
        if (self.green < self.red) if self.higher_is_better else (self.green > self.red):
            better = "above" if self.higher_is_better else "below"
            raise ValueError(f"green ({self.green}) must lie {better} red ({self.red})")
        return self

    def status(self, value: float | None) -> Rag | None:
        """The colour of ``value`` (None for a missing value)."""
        if value is None or not math.isfinite(value):
            return None
        if self.higher_is_better:
            return "green" if value >= self.green else ("red" if value < self.red else "amber")
        return "green" if value <= self.green else ("red" if value > self.red else "amber")


@dataclass(frozen=True)
class Comparison:
    """A figure of an earlier period, or why there is none."""

    label: str
    value: float | None
    missing: str | None = None


@dataclass(frozen=True)
class Kpi:
    """A headline figure with its comparisons (previous period, same period last year) and target."""

    key: str
    label: str
    unit: Unit
    value: float | None
    missing: str | None = None
    previous: Comparison | None = None
    last_year: Comparison | None = None
    target: Target | None = None
    target_on_change: bool = False  # the target judges the change against the previous period

    @property
    def change_in_points(self) -> bool:
        """A share changes by percentage points (0.05 is +5 points), everything else relatively."""
        return self.unit == "pct"

    def change(self, against: Comparison | None) -> float | None:
        """Change against ``against``: relative (0.1 is +10 %), for a share the difference in points.

        0.1 is +10 % (or +10 points); None where either side is missing (or, relatively, the earlier value
        is zero).
        """
        if against is None or against.value is None or self.value is None:
            return None
        if self.change_in_points:
            return self.value - against.value
        if against.value == 0:
            return None
        return (self.value - against.value) / abs(against.value)

    @property
    def rag(self) -> Rag | None:
        """The target's colour of the value, or of its change (None without a target or value)."""
        if self.target is None:
            return None
        return self.target.status(self.change(self.previous) if self.target_on_change else self.value)


@dataclass(frozen=True)
class Column:
    """One column of a table: the frame's column, its header and how its numbers are shown."""

    key: str
    label: str
    unit: Unit = "text"
    width: int | None = None  # characters; None: from the header and the unit


@dataclass(frozen=True)
class Table:
    """A table of the report. ``missing`` set: it could not be built, and the text says why."""

    key: str
    title: str
    columns: tuple[Column, ...]
    frame: pd.DataFrame
    targets: Mapping[str, Target] = field(default_factory=dict)  # column key -> red/amber/green
    missing: str | None = None
    note: str | None = None
    sheet: str | None = None  # a short name for its Excel sheet (default: the title, cut to 31 characters)

    def __post_init__(self) -> None:
        absent = [c.key for c in self.columns if c.key not in self.frame.columns]
        if absent and self.missing is None:
            raise ValueError(f"table {self.key!r}: the frame has no column {', '.join(absent)}")

    @property
    def rows(self) -> int:
        """Rows of data."""
        return 0 if self.missing else len(self.frame)

    def records(self) -> list[list[Any]]:
        """The rows as plain Python values in column order (None for missing cells)."""
        if self.missing:
            return []
        frame = self.frame[[c.key for c in self.columns]]
        return [[plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]


@dataclass(frozen=True)
class Chart:
    """A chart over one table: one category column and one or more series columns.

    ``line``: the series as lines (``secondary`` ones on a second axis); ``bar``: horizontal bars;
    ``stacked_bar``: the series stacked per category.
    """

    key: str
    title: str
    kind: ChartKind
    table: str
    categories: str
    series: tuple[str, ...]
    secondary: tuple[str, ...] = ()
    y_title: str | None = None
    y2_title: str | None = None
    picture: bool = False  # also drawn as a PNG for the Prefect UI


@dataclass
class Report:
    """One report for one period, as every output renders it."""

    name: str
    title: str
    period: Period
    generated_at: datetime
    kpis: list[Kpi] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    history: list[KpiValue] = field(default_factory=list)  # breakdowns kept beside the headline figures

    def kpi(self, key: str) -> Kpi:
        """The headline figure ``key``."""
        return next(k for k in self.kpis if k.key == key)

    def table(self, key: str) -> Table:
        """The table ``key``."""
        return next(t for t in self.tables if t.key == key)

    def missing(self) -> list[str]:
        """Every statement of missing data: the notes, then each missing figure and table with its reason."""
        by_reason: dict[str, list[str]] = {}
        for label, reason in [(k.label, k.missing) for k in self.kpis if k.value is None and k.missing] + [
            (t.title, t.missing) for t in self.tables if t.missing
        ]:
            assert reason is not None
            by_reason.setdefault(reason, []).append(label)
        found = list(self.notes) + [f"{', '.join(labels)}: {reason}" for reason, labels in by_reason.items()]
        return list(dict.fromkeys(found))

    def kpi_values(self) -> list[KpiValue]:
        """What the KPI history keeps of this report: every headline figure, then the breakdowns."""
        head = [KpiValue(k.key, k.value, "", k.missing if k.value is None else None) for k in self.kpis]
        return head + list(self.history)


def plain(value: Any) -> Any:
    """A cell value as plain Python: NA, NaN and infinity become None, numpy scalars Python ones."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def breakdown(kpi: str, frame: pd.DataFrame, dimension: str, value: str) -> list[KpiValue]:
    """History rows of one breakdown: one per row of ``frame`` (``dimension`` names it)."""
    return [
        KpiValue(kpi, plain(v), str(d), None if plain(v) is not None else "no value")
        for d, v in zip(frame[dimension].tolist(), frame[value].tolist(), strict=True)
    ]


def missing_table(
    key: str, title: str, columns: Sequence[Column], reason: str, sheet: str | None = None
) -> Table:
    """A table that could not be built, and why."""
    frame = pd.DataFrame(columns=[c.key for c in columns])
    return Table(key, title, tuple(columns), frame, missing=reason, sheet=sheet)


def first_missing(reasons: Iterable[str | None]) -> str | None:
    """The first reason given (the data a figure needs that is missing first)."""
    return next((r for r in reasons if r), None)
