"""Database exclusion filters (capacity.md §3.5): E12, legacy defect 26, escapes and invalid patterns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalefall.domain.capacity import CompiledPattern, DatabaseFilter, InvalidFilterPattern, compile_pattern
from whalefall.domain.errors import UnprocessableError

E12_NAMES = frozenset({"scratch"})
E12_PATTERNS = ("tmp_*", "*\\_bak", "audit_20??")
POSTGRES = DatabaseFilter(E12_NAMES, E12_PATTERNS, case_sensitive=True)
SQLSERVER = DatabaseFilter(E12_NAMES, E12_PATTERNS, case_sensitive=False)


@pytest.mark.parametrize(
    ("name", "excluded"),
    [
        ("scratch", True), ("tmp_load", True), ("tmp_", True), ("orders_bak", True), ("ordersXbak", True),
        ("audit_2027", True), ("tmpload", False), ("bak", False), ("audit_20271", False), ("Scratch", False),
        ("TMP_LOAD", False),
    ],
)
def test_e12_case_sensitive(name: str, excluded: bool) -> None:
    assert POSTGRES.is_excluded(name) is excluded


@pytest.mark.parametrize(
    ("name", "excluded"),
    [("Scratch", True), ("TMP_LOAD", True), ("scratch", True), ("Orders_BAK", True), ("tmpload", False),
     ("AUDIT_20271", False)],
)
def test_e12_case_insensitive(name: str, excluded: bool) -> None:
    assert SQLSERVER.is_excluded(name) is excluded


def test_e12_escaped_percent_matches_only_itself() -> None:
    pattern = compile_pattern("100\\%")
    assert pattern.matches("100%")
    assert not pattern.matches("100")
    assert not pattern.matches("1000")
    assert not pattern.matches("100%x")


def test_defect_26_underscore_is_literal() -> None:
    pattern = compile_pattern("tmp_x")
    assert pattern.matches("tmp_x")
    assert not pattern.matches("tmpAx")


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("a*b", ["ab", "axyzb", "a*b"], ["a", "abc"]),
        ("a%b", ["ab", "a%%b"], ["ba"]),
        ("a?c", ["abc", "a_c", "a?c"], ["ac", "abbc"]),
        ("a\\_c", ["abc", "a_c"], ["ac"]),
        ("a\\*b", ["a*b"], ["ab", "axb"]),
        ("a\\?b", ["a?b"], ["axb"]),
        ("a\\\\b", ["a\\b"], ["ab", "a\\\\b"]),
        ("db.name", ["db.name"], ["dbxname"]),
        ("[x]+", ["[x]+"], ["x", "xx"]),
        ("", [""], ["a"]),
        ("*", ["", "anything", "new\nline"], []),
    ],
)
def test_pattern_tokens(pattern: str, matching: list[str], not_matching: list[str]) -> None:
    compiled = compile_pattern(pattern)
    assert all(compiled.matches(name) for name in matching)
    assert not any(compiled.matches(name) for name in not_matching)


@pytest.mark.parametrize(("pattern", "reason"), [("abc\\", "trailing"), ("\\", "trailing"), ("a\\d", "escape")])
def test_invalid_patterns(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidFilterPattern, match=reason) as caught:
        compile_pattern(pattern)
    error = caught.value
    assert isinstance(error, UnprocessableError)
    assert isinstance(error, ValueError)
    assert error.code == "INVALID_FILTER_PATTERN"
    assert error.pattern == pattern
    assert error.problems[0].code == "invalid_filter_pattern"


def test_filter_rejects_a_bad_pattern_at_construction() -> None:
    with pytest.raises(InvalidFilterPattern):
        DatabaseFilter(frozenset(), ("ok_*", "bad\\"), case_sensitive=True)


def test_empty_filter_excludes_nothing() -> None:
    empty = DatabaseFilter(frozenset(), (), case_sensitive=False)
    assert not empty.is_excluded("anything")
    assert empty == DatabaseFilter(frozenset(), (), case_sensitive=False)


def test_compiled_pattern_is_a_value() -> None:
    assert compile_pattern("tmp_*") == compile_pattern("tmp_*")
    assert compile_pattern("tmp_*") == CompiledPattern("tmp_*", "tmp_.*")
    assert not compile_pattern("Tmp").matches("tmp")
    assert compile_pattern("Tmp").matches("tmp", case_sensitive=False)


literal_names = st.text(
    alphabet=st.characters(exclude_characters="*%?\\", exclude_categories=["Cs"]), max_size=20
)


@given(literal_names, st.text(max_size=20))
def test_patterns_without_wildcards_match_only_themselves(pattern: str, other: str) -> None:
    compiled = compile_pattern(pattern)
    assert compiled.matches(pattern)
    assert compiled.matches(other) is (other == pattern)


@given(st.text(max_size=20))
def test_fully_escaped_text_matches_only_itself(name: str) -> None:
    escaped = "".join("\\" + c if c in "*%?\\" else c for c in name)
    compiled = compile_pattern(escaped)
    assert compiled.matches(name)
    assert not compiled.matches(name + "x")
