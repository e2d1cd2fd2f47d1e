"""CSV codec: the reversible formula guard (api.md §5.1, defect 41) and the cell formats."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from whalefall.application.shared.csv_codec import (
    BOM,
    decode_csv,
    encode_csv,
    export_cell,
    guard_text,
    unguard_text,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
risky_text = st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "\n", ",", '"', "a", "1", " "]),
                     min_size=1, max_size=12)
any_text = st.one_of(risky_text, st.text(min_size=1, max_size=40))


@given(any_text)
def test_import_of_export_restores_the_value(value: str) -> None:
    assert unguard_text(guard_text(value)) == value


@given(any_text)
def test_no_exported_text_cell_begins_a_formula(value: str) -> None:
    assert not guard_text(value).startswith(FORMULA_STARTS)


@given(st.lists(st.lists(any_text, min_size=3, max_size=3), min_size=1, max_size=5), st.booleans())
def test_whole_files_round_trip(rows: list[list[str]], bom: bool) -> None:
    text = "".join(encode_csv(["a", "b", "c"], rows, bom=bom))
    assert text.startswith(BOM) is bom
    decoded = decode_csv(text)
    assert decoded == [["a", "b", "c"], *rows]


def test_guard_examples() -> None:
    assert guard_text("=SUM(A1)") == "'=SUM(A1)"
    assert guard_text("'=x") == "''=x"
    assert guard_text("'plain") == "'plain"
    assert unguard_text("''=x") == "'=x"
    assert unguard_text("'plain") == "'plain"


def test_cells_are_formatted_per_type_and_only_text_is_guarded() -> None:
    assert export_cell(None) == ""
    assert export_cell(True) == "true"
    assert export_cell(-5) == "-5"
    assert export_cell(datetime(2027, 3, 1, 8, 15, 2, tzinfo=UTC)) == "2027-03-01T08:15:02Z"
    assert export_cell(datetime(2027, 3, 1, 8, 15, 2, 311040, tzinfo=UTC)) == "2027-03-01T08:15:02.31104Z"
    assert export_cell({"b": 1, "a": "-x"}) == '{"a":"-x","b":1}'
    assert export_cell("-1") == "'-1"


def test_rows_end_with_crlf() -> None:
    assert "".join(encode_csv(["x"], [["1"]])) == "x\r\n1\r\n"
