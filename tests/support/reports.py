"""Two reports compared in full: every figure, table (frames exactly), chart, note and breakdown."""

from __future__ import annotations

from pandas.testing import assert_frame_equal

from jtl_automator.reports.model import Report


def assert_reports_equal(got: Report, expected: Report) -> None:
    """Equal but for the moment each was generated (figures by ``repr``: exact, and NaN equals NaN)."""
    assert (got.name, got.title, got.period) == (expected.name, expected.title, expected.period)
    assert [repr(k) for k in got.kpis] == [repr(k) for k in expected.kpis]
    assert [t.key for t in got.tables] == [t.key for t in expected.tables]
    for mine, theirs in zip(got.tables, expected.tables, strict=True):
        assert (mine.title, mine.columns, mine.missing, mine.note, mine.sheet) == (
            theirs.title,
            theirs.columns,
            theirs.missing,
            theirs.note,
            theirs.sheet,
        )
        assert dict(mine.targets) == dict(theirs.targets)
        assert_frame_equal(mine.frame, theirs.frame, check_exact=True)
    assert got.charts == expected.charts
    assert got.notes == expected.notes
    assert [repr(v) for v in got.history] == [repr(v) for v in expected.history]
