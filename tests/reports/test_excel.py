"""The report workbook read back with openpyxl (formats, panes, filters, conditional formats, chart ranges),
and opened by LibreOffice headless, which converts it to PDF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from jtl_automator.reports.excel import NUMBER_FORMATS, RAG_COLOURS, sheet_name, write_workbook
from jtl_automator.reports.model import Report
from jtl_automator.store import StateStore
from tests.reports import frames as f
from tests.reports.ledger import at, seed_week
from tests.reports.test_reports import ITEMS, STOCK, _build


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Report, Report, Path]]:
    folder = tmp_path_factory.mktemp("workbooks")
    store = StateStore(f"sqlite:///{folder / 'state.db'}")
    seed_week(store)
    weekly = _build(store, "weekly", "2026-W47", at(2026, 11, 23, 6), stock=STOCK, items=ITEMS)
    runs = f.failed_runs(
        [("stock-sync", "brave-owl", "FAILED", at(2026, 11, 19, 2), at(2026, 11, 19, 2, 1), "x")]
    )
    daily = _build(store, "daily", "2026-11-19", at(2026, 11, 20, 6), failed_runs=runs)
    store.dispose()
    yield weekly, daily, folder


def _load(report: Report, folder: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(write_workbook(report, folder / report.name / f"{report.period}.xlsx"))


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    assert (
        sheet_name("Below reorder point (this week's restock plans)", taken)
        == "Below reorder point (this week"
    )
    assert sheet_name("a/b:c*d?", taken) == "a_b_c_d_"
    assert sheet_name("A_B_C_D_", taken) == "A_B_C_D_ (2)"
    assert sheet_name("'quoted'", taken) == "quoted"


@pytest.mark.slow
def test_the_weekly_workbook_reads_back_with_its_formats_and_chart_ranges(
    reports: tuple[Report, Report, Path],
) -> None:
    weekly, _, folder = reports
    book = _load(weekly, folder)
    assert book.sheetnames[:3] == ["Summary", "Sales by day", "Last weeks"]
    summary = book["Summary"]
    assert summary["A1"].value == "Weekly KPIs 2026-W47" and summary.freeze_panes == "B5"
    assert [c.value for c in summary[4]][:7] == [
        "Figure",
        "Value",
        "Previous",
        "Change",
        "Last year",
        "Change",
        "Note",
    ]
    assert (summary["A5"].value, summary["B5"].value) == ("Revenue net", 100)
    assert summary["B5"].number_format == NUMBER_FORMATS["eur"]
    margin_row = next(row for row in range(5, 30) if summary[f"A{row}"].value == "Margin %")
    assert summary[f"B{margin_row}"].number_format == NUMBER_FORMATS["pct"]
    # red/amber/green as conditional formats: margin % on its value, revenue on its change (column D)
    rules = {str(cf.sqref): cf.rules for cf in summary.conditional_formatting}
    margin_rules = rules[f"B{margin_row}"]
    assert [r.formula[0] for r in margin_rules] == [
        f"AND(ISNUMBER(B{margin_row}),B{margin_row}>=0.35)",
        f"AND(ISNUMBER(B{margin_row}),B{margin_row}<0.2)",
        f"ISNUMBER(B{margin_row})",
    ]
    assert [r.dxf.fill.bgColor.rgb for r in margin_rules] == [
        "FF" + RAG_COLOURS[c][0].lstrip("#") for c in ("green", "red", "amber")
    ]
    assert "D5" in rules
    notes = [summary.cell(row, 1).value for row in range(1, summary.max_row + 1)]
    assert "Missing data" in notes and any(
        "Return rate" in str(n) and str(n).endswith(": no Wawi client configured") for n in notes
    )

    days = book["Sales by day"]
    assert days.freeze_panes == "A4" and days.auto_filter.ref == "A3:F10"
    assert [c.value for c in days[3]] == ["Day", "Orders", "Units", "Revenue net", "Revenue gross", "AOV net"]
    assert days["A3"].fill.fgColor.rgb == "FF1F4E78" and days["A3"].font.b
    assert days["D4"].value == 70 and days["D4"].number_format == NUMBER_FORMATS["eur"]
    assert days["B4"].number_format == NUMBER_FORMATS["count"] and days["A4"].number_format == "yyyy-mm-dd"
    assert days.column_dimensions["D"].width > 10
    (line,) = days._charts
    assert line.tagname == "lineChart"
    revenue, orders = line._charts  # revenue on the first axis, orders on the second
    assert [s.val.numRef.f for s in revenue.series] == ["'Sales by day'!$D$4:$D$10"]
    assert [s.val.numRef.f for s in orders.series] == ["'Sales by day'!$B$4:$B$10"]
    assert revenue.series[0].cat.numRef.f == "'Sales by day'!$A$4:$A$10"
    assert revenue.y_axis.axId != orders.y_axis.axId

    top = book["Top 20 SKUs by revenue"]
    (bar,) = top._charts
    assert (bar.tagname, bar.barDir) == ("barChart", "bar")
    assert bar.series[0].val.numRef.f == "'Top 20 SKUs by revenue'!$E$4:$E$5"  # two SKUs sold
    assert bar.series[0].cat.strRef.f == "'Top 20 SKUs by revenue'!$A$4:$A$5"
    assert [top.cell(row, 1).value for row in (4, 5)] == ["S2", "S1"]
    top_rules = {str(cf.sqref) for cf in top.conditional_formatting}
    assert top_rules == {"G4:G5"}  # margin % of each SKU

    dead = book["Dead stock (no sale in 90 days)"]
    assert str(dead["A2"].value).startswith("Missing: needs 90 days of order lines")
    assert dead._charts == [] and dead.auto_filter.ref == "A3:F3"


def test_the_daily_workbook_has_the_stacked_bar_of_holds(reports: tuple[Report, Report, Path]) -> None:
    _, daily, folder = reports
    book = _load(daily, folder)
    holds = book["On hold"]
    (chart,) = holds._charts
    assert (chart.tagname, chart.grouping, chart.overlap) == ("barChart", "stacked", 100)
    name = "'On hold'"  # one reason: one row of data, each range a single cell
    assert [s.val.numRef.f for s in chart.series] == [f"{name}!${c}$4" for c in "BCDE"]
    assert all(s.cat.strRef.f == f"{name}!$A$4" for s in chart.series)
    assert [s.tx.strRef.f for s in chart.series] == [f"{name}!${c}$3" for c in "BCDE"]
    backlog = book["Backlog older than 24 h"]
    assert backlog["F4"].number_format == NUMBER_FORMATS["datetime"]
    assert backlog["F4"].value.isoformat() == "2026-11-18T00:30:00"  # Berlin time, as Excel shows it
    assert {str(cf.sqref) for cf in backlog.conditional_formatting} == {"G4:G5"}


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.slow
def test_libreoffice_opens_the_workbook_and_converts_it_to_pdf(
    reports: tuple[Report, Report, Path], tmp_path: Path
) -> None:
    soffice = _soffice()
    if soffice is None:
        if os.environ.get("JTL_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail(
                "JTL_REQUIRE_LIBREOFFICE=1 but soffice is missing (apt-get install libreoffice-calc-nogui)"
            )
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install -y libreoffice-calc-nogui")
    weekly = reports[0]
    workbook = write_workbook(weekly, tmp_path / "2026-W47.xlsx")
    profile = tmp_path / "lo-profile"  # its own profile: parallel conversions do not share a lock
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(workbook),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    pdf = tmp_path / "2026-W47.pdf"
    assert done.returncode == 0 and pdf.is_file(), done.stdout + done.stderr
    pages = PdfReader(pdf).pages
    text = "\n".join(page.extract_text() for page in pages[:3])
    assert "Weekly KPIs 2026-W47" in text and "Revenue net" in text
    assert len(pages) >= len(
        openpyxl.load_workbook(workbook).sheetnames
    )  # every sheet printed, a page at least
