"""Ledger rules of one inventory (capacity.md §1.4): the five-row table, the mass-deactivation guard, flags."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from whalefall.domain.capacity import DatabaseFilter
from whalefall.domain.capacity.ledger import LedgerEntry, plan_ledger, system_checker
from whalefall.domain.instances import DbEngine

D0 = date(2027, 5, 10)
D1 = D0 + timedelta(days=1)
D2 = D0 + timedelta(days=2)


def never(_: str) -> bool:
    return False


def active(name: str, *, first: date = D0, missing_since: date | None = None) -> LedgerEntry:
    return LedgerEntry(name=name, is_system=False, is_excluded=False, status="active", first_seen_on=first,
                       last_seen_on=first, missing_since=missing_since)


def gone(name: str) -> LedgerEntry:
    return LedgerEntry(name=name, is_system=False, is_excluded=False, status="gone", first_seen_on=D0,
                       last_seen_on=D0, gone_since=D0)


def test_the_five_rows_of_the_ledger_table() -> None:
    stored = [active("kept"), gone("back"), active("dropped"), gone("still_gone")]
    plan = plan_ledger(stored, ["new", "kept", "back"], today=D2, is_system=never, is_excluded=never)
    rows = {r.name: r for r in plan.rows}
    assert rows["new"] == LedgerEntry(name="new", is_system=False, is_excluded=False, status="active",
                                      first_seen_on=D2, last_seen_on=D2)
    assert (rows["kept"].status, rows["kept"].first_seen_on, rows["kept"].last_seen_on) == ("active", D0, D2)
    assert (rows["back"].status, rows["back"].gone_since, rows["back"].first_seen_on) == ("active", None, D0)
    assert (rows["dropped"].status, rows["dropped"].gone_since) == ("gone", D2)
    assert rows["still_gone"] == gone("still_gone")
    assert (plan.counters.created, plan.counters.seen, plan.counters.reactivated, plan.counters.deactivated) == (
        1, 1, 1, 1)
    assert {w.name for w in plan.writes} == {"new", "kept", "back", "dropped"}  # the untouched row is not written


def test_names_are_compared_exactly() -> None:
    plan = plan_ledger([active("Sales")], ["sales", " Sales"], today=D1, is_system=never, is_excluded=never)
    rows = {r.name: r.status for r in plan.rows}
    assert rows == {"Sales": "gone", "sales": "active", " Sales": "active"}


def test_empty_inventory_is_refused() -> None:
    with pytest.raises(ValueError, match="empty inventory"):
        plan_ledger([active("a")], [], today=D1, is_system=never, is_excluded=never)


def test_mass_deactivation_is_held_then_applied_on_a_later_day() -> None:
    names = [f"db{i}" for i in range(8)]
    stored = [active(n) for n in names]
    first = plan_ledger(stored, names[:2], today=D1, is_system=never, is_excluded=never)
    assert first.held == tuple(names[2:])
    assert first.counters.deactivated == 0
    assert all(r.status == "active" for r in first.rows)
    assert {r.name: r.missing_since for r in first.rows if r.missing_since} == dict.fromkeys(names[2:], D1)
    same_day = plan_ledger(first.rows, names[:2], today=D1, is_system=never, is_excluded=never)
    assert same_day.held == tuple(names[2:]) and same_day.counters.deactivated == 0
    later = plan_ledger(first.rows, [*names[:2], "db7"], today=D2, is_system=never, is_excluded=never)
    rows = {r.name: r for r in later.rows}
    assert later.counters.deactivated == 5 and later.held == ()
    assert rows["db2"].status == "gone" and rows["db2"].gone_since == D1
    assert rows["db7"].status == "active" and rows["db7"].missing_since is None


@pytest.mark.parametrize(("total", "missing", "held"), [(8, 4, False), (8, 5, True), (6, 4, False), (9, 5, True)])
def test_guard_needs_more_than_half_and_at_least_five(total: int, missing: int, held: bool) -> None:
    names = [f"d{i}" for i in range(total)]
    plan = plan_ledger([active(n) for n in names], names[missing:], today=D1, is_system=never, is_excluded=never)
    assert bool(plan.held) is held
    assert plan.counters.deactivated == (0 if held else missing)


def test_filters_flag_but_never_deactivate() -> None:
    """Defect 26 (second half): adding an exclusion keeps the row active with is_excluded = true."""
    flt = DatabaseFilter(frozenset(), ("tmp_*",), case_sensitive=True)
    plan = plan_ledger([active("tmp_load"), active("app")], ["tmp_load", "app"], today=D1, is_system=never,
                       is_excluded=flt.is_excluded)
    rows = {r.name: r for r in plan.rows}
    assert rows["tmp_load"].status == "active" and rows["tmp_load"].is_excluded
    assert not rows["app"].is_excluded


def test_system_checker_per_engine() -> None:
    pg = system_checker(DbEngine.POSTGRESQL, extra_names={"rdsadmin"})
    assert pg("postgres") and pg("template0") and pg("rdsadmin") and not pg("Postgres") and not pg("app")
    oracle = system_checker(DbEngine.ORACLE, reported={"UNDOTBS1", "TEMP"})
    assert oracle("SYSTEM") and oracle("sysaux") and oracle("UNDOTBS1") and oracle("TEMP") and not oracle("USERS")
    mysql = system_checker(DbEngine.MYSQL)
    assert mysql("information_schema") and mysql("sys") and not mysql("shop")
