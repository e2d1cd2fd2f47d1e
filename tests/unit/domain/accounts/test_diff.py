"""Snapshot diff: entries, counters, write plan, carry-forward and rename hints (defects 5, 6, 13, 19, 21–25)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from whalefall.domain.accounts.changes import ChangeType, RemovalReason
from whalefall.domain.accounts.diff import Outcome, StoredPrincipal, diff_snapshot, net_diff, stale_principals
from whalefall.domain.accounts.filters import AccountFilter, default_filters
from whalefall.domain.accounts.model import (
    AttrValue,
    Coverage,
    CoverageGap,
    GapReason,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    RoleMembership,
    canonical_grants,
    canonical_memberships,
    state_document,
    state_from_document,
)
from whalefall.domain.instances import DbEngine, InstanceId
from whalefall.domain.privileges.names import Scope

T1 = datetime(2025, 5, 1, tzinfo=UTC)
NO_FILTER = AccountFilter(engine=DbEngine.POSTGRESQL)


def ref(key: str, kind: PrincipalKind = PrincipalKind.ROLE, namespace: str = "") -> PrincipalRef:
    return PrincipalRef.of(kind, key, namespace)


def principal(key: str, *grants: tuple[str, Scope, tuple[str, ...]], roles: tuple[str, ...] = (),
              kind: PrincipalKind = PrincipalKind.ROLE, namespace: str = "", option: bool = False,
              **attributes: AttrValue) -> PrincipalState:
    r = ref(key, kind, namespace)
    return PrincipalState(
        ref=r, is_account=True, attributes={"login_capable": True, **attributes},
        grants=canonical_grants(PrivilegeGrant(principal=r, privilege=p, scope=s, object=o, grant_option=option)
                                for p, s, o in grants),
        memberships=canonical_memberships(RoleMembership(member=r, role=ref(role)) for role in roles),
    )


def snap(*states: PrincipalState, engine: DbEngine = DbEngine.POSTGRESQL,
         gaps: tuple[CoverageGap, ...] = ()) -> InstanceSnapshot:
    return InstanceSnapshot(instance_id=InstanceId(1), engine=engine, flavor=None, server_version="16.2",
                            observed_at=T1, settings={}, principals=states, coverage=Coverage(gaps))


def stored(*states: PrincipalState, active: bool = True) -> list[StoredPrincipal]:
    return [StoredPrincipal(ref=s.ref, active=active, is_account=s.is_account, state=s, state_version_id=i + 100,
                            deactivated_at=None if active else datetime(2025, 1, 1, tzinfo=UTC))
            for i, s in enumerate(states)]


SELECT_T = ("SELECT", Scope.TABLE, ("crm", "sales", "orders"))
CONNECT = ("CONNECT", Scope.DATABASE, ("crm",))


def test_first_sync_adds_everything_with_null_before_values() -> None:
    result = diff_snapshot([], snap(principal("alice", SELECT_T, roles=("app_ro",)), principal("app_ro")), NO_FILTER)
    assert [(e.type, e.principal.key) for e in result.entries] == [(ChangeType.ADDED, "alice"),
                                                                    (ChangeType.ADDED, "app_ro")]
    alice = result.entries[0].diff_json(state_version_id=55)
    assert alice["state_version_id"] == 55
    assert alice["revoked"] == [] and alice["memberships_removed"] == []
    granted = alice["granted"]
    assert isinstance(granted, list) and granted[0] == {
        "privilege": "SELECT", "scope": "table", "object": ["crm", "sales", "orders"],
        "object_path": "crm.sales.orders", "object_kind": None, "effect": "grant",
        "grant_option": {"before": None, "after": False}, "implicit": False}
    assert alice["attributes"] == [{"field": "login_capable", "before": None, "after": True}]
    assert result.counters.accounts_added == 2
    assert {w.outcome for w in result.plan.writes} == {Outcome.ADDED}


def test_unchanged_resync_plans_zero_writes() -> None:
    states = [principal(f"u{i}", SELECT_T, roles=("app_ro",)) for i in range(50)] + [principal("app_ro")]
    result = diff_snapshot(stored(*states), snap(*states), NO_FILTER)
    assert result.entries == ()
    assert result.plan.writes == ()
    assert len(result.plan.unchanged) == 51
    assert result.counters.accounts_unchanged == 51


def test_passing_time_creates_no_change() -> None:
    bob = principal("bob", valid_until=datetime(2024, 12, 31, tzinfo=UTC))
    assert diff_snapshot(stored(bob), snap(bob), NO_FILTER).entries == ()


def test_vanished_account_logs_one_removal_and_returns_as_reactivated() -> None:
    alice, bob = principal("alice", SELECT_T), principal("bob")
    gone = diff_snapshot(stored(alice, bob), snap(bob), NO_FILTER)
    (entry,) = gone.entries
    assert (entry.type, entry.reason, entry.last_state_version_id, entry.grant_count) == (
        ChangeType.REMOVED, RemovalReason.VANISHED, 100, 1)
    assert entry.diff_json()["reason"] == "vanished"
    (write,) = gone.plan.writes
    assert (write.outcome, write.active) == (Outcome.REMOVED, False)

    back = diff_snapshot(stored(alice, active=False), snap(principal("alice", SELECT_T, CONNECT)), NO_FILTER)
    assert [e.type for e in back.entries] == [ChangeType.REACTIVATED, ChangeType.PRIVILEGES_GRANTED]
    assert back.entries[0].previous_state_version_id == 100
    assert back.entries[1].diff.granted[0].privilege == "CONNECT"
    assert (back.counters.accounts_reactivated, back.counters.accounts_added, back.counters.accounts_changed) == (
        1, 0, 0)
    assert back.plan.writes[0].outcome is Outcome.REACTIVATED


def test_filtered_is_not_vanished() -> None:
    alice, pg_role = principal("alice"), principal("pg_monitor")
    result = diff_snapshot(stored(alice, pg_role), snap(alice, pg_role), default_filters(DbEngine.POSTGRESQL))
    (entry,) = result.entries
    assert (entry.principal.key, entry.type, entry.reason) == ("pg_monitor", ChangeType.REMOVED,
                                                              RemovalReason.FILTERED)
    (write,) = result.plan.writes
    assert (write.is_account, write.active, write.new_version) == (False, True, False)   # stays a role node
    assert result.counters.accounts_removed == 1


def test_excluded_login_is_removed_as_filtered() -> None:
    nt = principal("NT SERVICE\\SQLWriter", kind=PrincipalKind.LOGIN)
    result = diff_snapshot(stored(nt), snap(nt, engine=DbEngine.SQLSERVER), default_filters(DbEngine.SQLSERVER))
    assert [(e.type, e.reason) for e in result.entries] == [(ChangeType.REMOVED, RemovalReason.FILTERED)]
    assert result.snapshot.principals == ()              # a filtered login is no role node
    gone = diff_snapshot(stored(nt), snap(engine=DbEngine.SQLSERVER), default_filters(DbEngine.SQLSERVER))
    assert [e.reason for e in gone.entries] == [RemovalReason.VANISHED]


def test_one_grant_change_inside_a_database_is_one_item() -> None:
    base = [("SELECT", Scope.TABLE, ("FinanceDW", "rpt", f"T{i}")) for i in range(30)]
    before = principal("etl", *base, kind=PrincipalKind.LOGIN)
    after = principal("etl", *base, ("UPDATE", Scope.TABLE, ("FinanceDW", "rpt", "T1")), kind=PrincipalKind.LOGIN)
    result = diff_snapshot(stored(before), snap(after, engine=DbEngine.SQLSERVER),
                           AccountFilter(engine=DbEngine.SQLSERVER))
    (entry,) = result.entries
    assert entry.type is ChangeType.PRIVILEGES_GRANTED
    assert len(entry.diff.granted) == 1 and entry.diff.granted[0].object == ("FinanceDW", "rpt", "T1")
    assert result.counters.grants_granted == 1
    assert result.counters.accounts_changed == 1


def test_flag_polarity_for_grant_option_and_membership_flags() -> None:
    before = principal("alice", SELECT_T, option=True, roles=("app_ro",))
    after = replace(principal("alice", SELECT_T, option=False),
                    memberships=(RoleMembership(member=ref("alice"), role=ref("app_ro"), inherit=True,
                                                admin_option=True, set=False),))
    result = diff_snapshot(stored(before), snap(after), NO_FILTER)
    types = {e.type: e for e in result.entries}
    revoked = types[ChangeType.PRIVILEGES_REVOKED].diff
    assert revoked.revoked[0].grant_option.to_json() == {"before": True, "after": False}
    assert [n for n, _ in revoked.memberships_removed[0].flags] == ["set"]
    granted = types[ChangeType.PRIVILEGES_GRANTED].diff
    assert granted.memberships_added[0].to_json()["flags"] == {"admin_option": {"before": False, "after": True}}
    assert granted.granted == ()


def test_attribute_leaf_paths_and_implicit_changes() -> None:
    before = principal("svc", kind=PrincipalKind.LOGIN, db_user_mappings={"FinanceDW": "svc", "HR": "svc"})
    after = principal("svc", kind=PrincipalKind.LOGIN, db_user_mappings={"FinanceDW": "svc_report"})
    (entry,) = diff_snapshot(stored(before), snap(after), NO_FILTER).entries
    assert entry.type is ChangeType.ATTRIBUTES_CHANGED
    assert [a.to_json() for a in entry.diff.attributes] == [
        {"field": "db_user_mappings.FinanceDW", "before": "svc", "after": "svc_report"},
        {"field": "db_user_mappings.HR", "before": "svc", "after": None}]
    grant = PrivilegeGrant(principal=ref("a"), privilege="CONNECT", scope=Scope.DATABASE, object=("crm",))
    implicit = net_diff(replace(principal("a"), grants=(grant,)),
                        replace(principal("a"), grants=(replace(grant, implicit=True),)))
    assert implicit.granted == () and implicit.revoked == ()
    assert implicit.attributes[0].field == "grants[database:crm:CONNECT:grant].implicit"


def test_stored_round_trip_and_schema_stable_hash_yield_no_entries() -> None:
    alice = principal("alice", SELECT_T, roles=("app_ro",), changed=datetime(2025, 1, 2, tzinfo=UTC))
    rebuilt = state_from_document(alice.ref, state_document(alice, informational=True), is_account=True)
    result = diff_snapshot(stored(rebuilt), snap(alice), NO_FILTER)
    assert result.entries == () and result.plan.writes == ()


def test_rename_hint_pairs_added_and_vanished_by_stable_id() -> None:
    old = principal("alice", stable_id="16385")
    new = principal("alicia", stable_id="16385")
    other = principal("zed", stable_id="999")
    result = diff_snapshot(stored(old), snap(new, other), NO_FILTER)
    hints = {e.principal.key: e.rename for e in result.entries}
    assert hints["alice"] == hints["alicia"]
    assert hints["alice"] is not None and hints["alice"].to_ref.key == "alicia"
    assert hints["zed"] is None
    assert result.entries[0].diff_json()["rename"] == {"from": ref("alice").to_json(), "to": ref("alicia").to_json()}


def test_gaps_carry_previous_items_forward() -> None:
    in_gap = ("SELECT", Scope.TABLE, ("FinanceDW", "rpt", "Invoices"))
    login = principal("svc", in_gap, CONNECT, kind=PrincipalKind.LOGIN,
                      db_user_mappings={"FinanceDW": "svc_report", "crm": "svc"})
    login = replace(login, memberships=(RoleMembership(member=login.ref,
                                                        role=ref("rpt", PrincipalKind.DB_ROLE, "FinanceDW")),))
    contained = principal("c_user", kind=PrincipalKind.DB_USER, namespace="FinanceDW")
    gap = CoverageGap(scope=Scope.DATABASE, database="FinanceDW", reason=GapReason.NOT_ACCESSIBLE)
    fresh = principal("svc", CONNECT, kind=PrincipalKind.LOGIN, db_user_mappings={"crm": "svc"})
    result = diff_snapshot(stored(login, contained), snap(fresh, engine=DbEngine.SQLSERVER, gaps=(gap,)),
                           AccountFilter(engine=DbEngine.SQLSERVER))
    assert result.entries == ()
    assert result.plan.writes == ()
    applied = result.snapshot.states_by_ref()
    assert applied[login.ref].grants == login.grants
    assert applied[login.ref].memberships == login.memberships
    assert applied[login.ref].attributes["db_user_mappings"] == {"FinanceDW": "svc_report", "crm": "svc"}
    assert contained.ref in applied
    assert result.counters.coverage_gaps == 1


def test_revocations_outside_the_gap_still_count() -> None:
    login = principal("svc", ("SELECT", Scope.TABLE, ("FinanceDW", "rpt", "I")), CONNECT, kind=PrincipalKind.LOGIN)
    gap = CoverageGap(scope=Scope.DATABASE, database="FinanceDW", reason=GapReason.OFFLINE)
    result = diff_snapshot(stored(login), snap(principal("svc", kind=PrincipalKind.LOGIN), gaps=(gap,),
                                               engine=DbEngine.SQLSERVER), AccountFilter(engine=DbEngine.SQLSERVER))
    (entry,) = result.entries
    assert [i.object for i in entry.diff.revoked] == [("crm",)]


_names = st.sampled_from(["alice", "bob", "app_ro", "pg_monitor", "x y"])
_grants = st.tuples(st.sampled_from(["SELECT", "INSERT", "CONNECT"]),
                    st.sampled_from([Scope.DATABASE, Scope.TABLE]),
                    st.lists(st.sampled_from(["crm", "s", "t.1"]), min_size=1, max_size=3).map(tuple))


@given(st.dictionaries(_names, st.tuples(st.lists(_grants, max_size=6), st.lists(_names, max_size=3),
                                         st.booleans()), max_size=5))
def test_diff_against_itself_is_empty(spec: dict[str, tuple[list[tuple[str, Scope, tuple[str, ...]]],
                                                           list[str], bool]]) -> None:
    states = [principal(name, *grants, roles=tuple(roles), option=option)
              for name, (grants, roles, option) in spec.items()]
    snapshot = snap(*states)
    result = diff_snapshot(stored(*diff_snapshot([], snapshot, NO_FILTER).snapshot.principals), snapshot,
                           NO_FILTER)
    assert result.entries == ()
    assert result.plan.writes == ()


def test_stale_principals_hold_items_of_an_unread_segment() -> None:
    in_gap = ("SELECT", Scope.TABLE, ("FinanceDW", "rpt", "Invoices"))
    login = principal("svc", in_gap, CONNECT, kind=PrincipalKind.LOGIN)
    mapped = principal("etl", CONNECT, kind=PrincipalKind.LOGIN, db_user_mappings={"FinanceDW": "etl"})
    member = replace(principal("rep", kind=PrincipalKind.LOGIN), memberships=(RoleMembership(
        member=ref("rep", PrincipalKind.LOGIN), role=ref("rpt", PrincipalKind.DB_ROLE, "FinanceDW")),))
    contained = principal("c_user", kind=PrincipalKind.DB_USER, namespace="FinanceDW")
    clean = principal("app", CONNECT, kind=PrincipalKind.LOGIN)
    gap = CoverageGap(scope=Scope.DATABASE, database="FinanceDW", reason=GapReason.NOT_ACCESSIBLE)
    fresh = [principal("svc", CONNECT, kind=PrincipalKind.LOGIN),
             principal("etl", CONNECT, kind=PrincipalKind.LOGIN), principal("rep", kind=PrincipalKind.LOGIN), clean]
    result = diff_snapshot(stored(login, mapped, member, contained, clean),
                           snap(*fresh, engine=DbEngine.SQLSERVER, gaps=(gap,)),
                           AccountFilter(engine=DbEngine.SQLSERVER))

    assert stale_principals(result.snapshot) == {login.ref, mapped.ref, member.ref, contained.ref}
    readable = diff_snapshot(stored(login, clean), snap(login, clean, engine=DbEngine.SQLSERVER),
                             AccountFilter(engine=DbEngine.SQLSERVER))
    assert stale_principals(readable.snapshot) == frozenset()
