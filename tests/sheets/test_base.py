"""The backend-independent parts: A1 helpers, grouping of cell updates, and grid -> SheetFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jtl_automator.sheets.a1 import (
    CellUpdate,
    ColumnValues,
    absolute_range,
    column_index,
    column_letter,
    column_updates,
    group_column_runs,
)
from jtl_automator.sheets.base import (
    EXCEL_MAX_CELL_CHARS,
    GOOGLE_MAX_CELL_CHARS,
    MAX_CELL_CHARS,
    ColumnRef,
    DuplicateHeader,
    HeaderNotFound,
    SheetBackend,
    find_header_row,
    fit_cell,
    frame_from_grid,
    header_key,
    resolve_title,
)


def test_column_letters_round_trip_and_validation():
    assert [column_letter(i) for i in (1, 26, 27, 702, 703)] == ["A", "Z", "AA", "ZZ", "AAA"]
    assert column_letter("ab") == "AB"
    assert column_index("AB") == 28
    assert column_index(5) == 5
    for bad in (0, -1, "A1", "", "Ä", "AAAA"):
        with pytest.raises(ValueError):
            column_letter(bad)


def test_absolute_range_quotes_titles():
    assert absolute_range("Inbound Control", "E2:E9") == "'Inbound Control'!E2:E9"
    assert absolute_range("Lieferant's Liste", "A1") == "'Lieferant''s Liste'!A1"


@pytest.mark.slow
def test_contiguous_cells_of_a_column_become_one_range():
    updates = [CellUpdate(row, "E", f"s{row}") for row in range(20000, 4, -1)]  # any order
    runs = group_column_runs(updates)
    assert len(runs) == 1
    assert runs[0].a1 == "E5:E20000"
    assert runs[0].cells[0] == "s5" and runs[0].cells[-1] == "s20000"


def test_gaps_columns_and_repeated_cells():
    updates = [
        CellUpdate(2, "E", "a"),
        CellUpdate(3, 5, "b"),
        CellUpdate(5, "E", "c"),
        CellUpdate(2, "F", "note"),
        CellUpdate(3, "E", "b2"),  # the later write to E3 wins
    ]
    runs = group_column_runs(updates)
    assert [(r.a1, r.cells) for r in runs] == [
        ("E2:E3", ("a", "b2")),
        ("E5", ("c",)),
        ("F2", ("note",)),
    ]


def test_invalid_rows_are_rejected():
    with pytest.raises(ValueError, match="1-based"):
        group_column_runs([CellUpdate(0, "A", "x")])
    with pytest.raises(ValueError, match="1-based"):
        column_updates("A", 0, ["x"])


@given(st.sets(st.tuples(st.integers(1, 60), st.integers(1, 5)), max_size=80))
@pytest.mark.slow
def test_runs_cover_each_cell_once_and_are_maximal(cells):
    updates = [CellUpdate(row, col, f"{row}:{col}") for row, col in cells]
    runs = group_column_runs(updates)
    covered = {(run.start_row + i, run.col): v for run in runs for i, v in enumerate(run.cells)}
    assert covered == {(row, col): f"{row}:{col}" for row, col in cells}
    # maximal: no two runs of one column touch, so the number of ranges is the minimum possible
    for a in runs:
        for b in runs:
            if a is not b and a.col == b.col:
                assert a.end_row + 1 != b.start_row


GRID = [
    ["Inbound Control – KW 12", "", ""],
    ["Lieferant: Müller GmbH"],
    [],
    ["  SKU ", "Units", "", "Status"],
    ["00123", "12", "ignored: no header", ""],
    [],
    ["", "", "", ""],
    ["A-1", "fünf", "x", "MATCH"],
    ["B-2"],
]


def test_header_found_below_title_rows_and_rows_keep_sheet_numbers():
    frame = frame_from_grid(GRID, "Inbound Control", header_names=["SKU", "Units"])
    assert frame.header_row == 4
    assert list(frame.data.columns) == ["SKU", "Units", "Status"]
    assert frame.columns == {"SKU": "A", "Units": "B", "Status": "D"}
    # blank rows 6 and 7 are dropped, the others keep their sheet row numbers
    assert list(frame.data.index) == [5, 8, 9]
    assert frame.data.index.name == "row_number"
    assert frame.data.loc[5, "SKU"] == "00123"
    assert frame.data.loc[8, "Units"] == "fünf"
    assert frame.data.loc[9, "Status"] == ""
    assert all(pd.api.types.is_string_dtype(frame.data[c]) for c in frame.data.columns)
    assert frame.cell(8, "Status", "MISMATCH") == CellUpdate(8, "D", "MISMATCH")
    assert frame.column_cells("Status", {5: "MATCH", 9: "PENDING"}) == [
        CellUpdate(5, "D", "MATCH"),
        CellUpdate(9, "D", "PENDING"),
    ]


def test_explicit_header_row_and_first_non_blank_default():
    frame = frame_from_grid(GRID, "Inbound Control", header_row=4)
    assert frame.header_row == 4 and frame.columns["Status"] == "D"
    first = frame_from_grid([[], ["a", "b"], ["1", "2"]], "T")
    assert first.header_row == 2 and list(first.data.index) == [3]


def test_missing_header_names_the_worksheet_and_header():
    with pytest.raises(HeaderNotFound) as caught:
        frame_from_grid(GRID, "Inbound Control", header_names=["SKU", "Menge"])
    assert caught.value.missing == ("Menge",)
    assert "'Inbound Control'" in str(caught.value) and "'Menge'" in str(caught.value)
    with pytest.raises(HeaderNotFound, match="header row 1"):
        frame_from_grid(GRID, "Inbound Control", header_row=1, header_names=["SKU"])
    frame = frame_from_grid(GRID, "Inbound Control", header_names=["SKU"])
    with pytest.raises(HeaderNotFound, match="'Note'"):
        frame.letter("Note")


def test_duplicate_headers_are_an_error():
    with pytest.raises(DuplicateHeader) as caught:
        frame_from_grid([["SKU", "Units", "SKU"], ["1", "2", "3"]], "Tab")
    assert caught.value.letters == ("A", "C")
    assert "'SKU'" in str(caught.value) and "'Tab'" in str(caught.value)


def test_empty_table_has_typed_empty_frame():
    frame = frame_from_grid([["SKU", "Units"]], "T")
    assert frame.data.empty and list(frame.data.columns) == ["SKU", "Units"]
    with pytest.raises(HeaderNotFound):
        frame_from_grid([], "T")


def test_resolve_title():
    assert resolve_title("Inbound", ["Inbound", "inbound"]) == "Inbound"
    assert resolve_title("INBOUND control", ["Inbound Control"]) == "Inbound Control"
    assert resolve_title("x", ["a"]) is None
    assert resolve_title("A", ["a", "A "]) == "a"


# -- header names vs letters, cell sizes, column-wise values, the default column reads --------------


@pytest.mark.parametrize(
    ("spec", "header", "letter"),
    [
        pytest.param("SKU", "SKU", None, id="three-letter-name-is-a-name"),
        pytest.param("sku", "sku", None, id="lowercase-name"),
        pytest.param("B", "B", None, id="bare-letter-is-a-name"),
        pytest.param("letter:B", None, "B", id="letter"),
        pytest.param(" Letter: ab ", None, "AB", id="letter-any-case-and-spacing"),
        pytest.param("  Units sent ", "Units sent", None, id="trimmed"),
    ],
)
def test_column_ref_is_a_letter_only_when_it_says_so(spec, header, letter):
    ref = ColumnRef.parse(spec)
    assert (ref.header, ref.letter) == (header, letter)
    assert ColumnRef.parse(str(ref)) == ref


@pytest.mark.parametrize("bad", ["", "   ", "letter:", "letter:B2", "letter:ÄB", "letter:AAAA"])
def test_bad_column_refs_are_refused(bad):
    with pytest.raises(ValueError):
        ColumnRef.parse(bad)


def test_headers_match_ignoring_case_and_spacing():
    assert header_key("  Units\u00a0 SENT ") == header_key("units sent")
    grid = [["title"], [" sku ", "UNITS  sent", "status"], ["A-1", "2", ""]]
    frame = frame_from_grid(grid, "T", header_names=["SKU", "Units sent"])
    assert frame.header_row == 2 and frame.letter("Units Sent") == "B" and frame.letter("STATUS") == "C"
    assert ColumnRef.parse("units sent").find(grid[1], "T", 2) == "B"
    assert ColumnRef.parse("Note").find(grid[1], "T", 2) is None
    with pytest.raises(DuplicateHeader, match="'SKU'"):
        frame_from_grid([["SKU", "Units", "sku "], ["1", "2", "3"]], "T")
    with pytest.raises(DuplicateHeader):
        ColumnRef.parse("Sku").find(["SKU", "x", " sku"], "T", 1)


def test_a_missing_header_that_looks_like_a_letter_says_how_letters_are_written():
    with pytest.raises(HeaderNotFound, match=r"write 'letter:B'"):
        frame_from_grid([["SKU", "Units"], ["1", "2"]], "T", header_names=["B"])
    with pytest.raises(HeaderNotFound) as caught:
        frame_from_grid([["Artikel", "Units"], ["1", "2"]], "T", header_names=["SKU"])
    assert "letter:" not in str(caught.value)  # 'SKU' is a header name, no hint about letters


def test_find_header_row_by_names_or_first_non_blank_row():
    grid = [["Titel"], [], ["SKU", "Units"], ["A", "1"]]
    assert find_header_row(grid, [ColumnRef(header="units"), ColumnRef(letter="A")], "T") == 2
    assert find_header_row(grid, [ColumnRef(letter="A"), ColumnRef(letter="B")], "T") == 0
    with pytest.raises(HeaderNotFound, match="'Menge'"):
        find_header_row(grid, [ColumnRef(header="Menge")], "T")


def test_fit_cell_and_the_shared_cap():
    assert MAX_CELL_CHARS == EXCEL_MAX_CELL_CHARS == 32_767 < GOOGLE_MAX_CELL_CHARS == 50_000
    assert fit_cell("short") == "short"
    long = fit_cell("x" * 40_000)
    assert len(long) == MAX_CELL_CHARS and long.endswith("(truncated)")
    assert len(fit_cell("y" * 60_000, GOOGLE_MAX_CELL_CHARS)) == GOOGLE_MAX_CELL_CHARS


def test_column_values_make_runs_without_a_tuple_per_cell():
    values = ColumnValues("E", np.array([9, 2, 3, 4, 7]), ["d", "a", "b", "c", "e"])
    assert [(r.a1, r.cells) for r in values.runs()] == [
        ("E2:E4", ("a", "b", "c")),
        ("E7", ("e",)),
        ("E9", ("d",)),
    ]
    assert ColumnValues("A", [], []).runs() == []
    with pytest.raises(ValueError, match="twice"):
        ColumnValues("A", [2, 2], ["x", "y"]).runs()
    with pytest.raises(ValueError, match="1-based"):
        ColumnValues("A", [0], ["x"]).runs()
    with pytest.raises(ValueError, match="2 rows but 1 values"):
        ColumnValues("A", [1, 2], ["x"]).runs()


class GridBackend(SheetBackend):
    """An in-memory sheet: the defaults of read_table, read_columns, read_rows and write_columns."""

    def __init__(self, grid: list[list[str]]) -> None:
        self.grid = grid
        self.reads = 0

    def worksheet_names(self) -> list[str]:
        return ["T"]

    def read_grid(self, worksheet: str) -> list[list[str]]:
        self.reads += 1
        return [list(r) for r in self.grid]

    def write_cells(self, worksheet: str, updates) -> int:
        for row, col, value in updates:
            i, j = row - 1, column_index(col) - 1
            while len(self.grid) <= i:
                self.grid.append([])
            self.grid[i] += [""] * (j + 1 - len(self.grid[i]))
            self.grid[i][j] = "" if value is None else str(value)
        return len(updates)

    def append_rows(self, worksheet: str, rows) -> int:
        raise NotImplementedError


def test_default_column_reads_and_column_writes():
    backend = GridBackend([["Titel"], ["SKU", "Units", "Status"], ["A", "1"], ["B", "2", "x"]])
    block = backend.read_table("T", lambda top: (1, ["A", "C"]))
    assert (block.header_row, block.header) == (2, ("SKU", "Units", "Status"))
    assert block.column("A") == ["A", "B"] and block.column("C") == ["", "x"]
    assert backend.reads == 1  # one read of the grid, whatever the default has to find
    assert backend.read_columns("T", ["B"], 3) == {"B": ["1", "2"]}
    assert backend.read_rows("T", 2, 3) == [["SKU", "Units", "Status"], ["A", "1"]]
    assert backend.write_columns("T", [ColumnValues("C", [3, 4], ["MATCH", "PENDING"])]) == 2
    assert [r[2] for r in backend.grid[2:]] == ["MATCH", "PENDING"]
