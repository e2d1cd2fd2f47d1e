"""Canonical model: refs, object paths, canonical merging, state document and hash."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalefall.domain.accounts.model import (
    GrantEffect,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    RoleMembership,
    canonical_grants,
    canonical_memberships,
    object_path,
    state_document,
    state_from_document,
    state_hash,
)
from whalefall.domain.privileges.names import Scope

ALICE = PrincipalRef.of(PrincipalKind.USER, "alice@%")


def test_object_path_quotes_parts_with_dots_or_quotes() -> None:
    assert object_path(("FinanceDW", "rpt", "Q1.Invoices")) == 'FinanceDW.rpt."Q1.Invoices"'
    assert object_path(("db", 'we"ird')) == 'db."we""ird"'
    assert object_path(()) == ""
    assert object_path(("O'Brien]Data",)) == "O'Brien]Data"


def test_public_pseudo_principal_never_equals_a_user_named_public() -> None:
    assert PrincipalRef.public() != PrincipalRef.of(PrincipalKind.USER, "PUBLIC")
    assert PrincipalRef.of(PrincipalKind.ROLE, "r@%") == PrincipalRef.of(PrincipalKind.USER, "r@%")


def test_canonical_grants_merge_duplicate_keys() -> None:
    a = PrivilegeGrant(principal=ALICE, privilege="SELECT", scope=Scope.DATABASE, object=("db",), implicit=True)
    b = PrivilegeGrant(principal=ALICE, privilege="SELECT", scope=Scope.DATABASE, object=("db",), grant_option=True)
    (merged,) = canonical_grants([a, b])
    assert merged.grant_option is True
    assert merged.implicit is False


def test_canonical_memberships_or_flags() -> None:
    role = PrincipalRef.of(PrincipalKind.ROLE, "r")
    e1 = RoleMembership(member=ALICE, role=role, inherit=False, set=True)
    e2 = RoleMembership(member=ALICE, role=role, inherit=True, set=False, admin_option=True)
    (merged,) = canonical_memberships([e1, e2])
    assert (merged.inherit, merged.set, merged.admin_option) == (True, True, True)


def _state() -> PrincipalState:
    grants = [
        PrivilegeGrant(principal=ALICE, privilege="SELECT", scope=Scope.TABLE, object=("db", "t"),
                       object_kind="table", grantor="root@localhost"),
        PrivilegeGrant(principal=ALICE, privilege="RELOAD", scope=Scope.GLOBAL),
        PrivilegeGrant(principal=ALICE, privilege="INSERT", scope=Scope.DATABASE, object=("db",), pattern=False,
                       effect=GrantEffect.DENY),
    ]
    edges = [RoleMembership(member=ALICE, role=PrincipalRef.of(PrincipalKind.ROLE, name), default=True)
             for name in ("b@%", "a@%")]
    return PrincipalState(
        ref=ALICE, is_account=True,
        attributes={"locked": False, "password_changed_at": datetime(2024, 5, 1, 12, tzinfo=UTC),
                    "lock_reasons": (), "db_user_mappings": {"Z": "z", "A": "a"}},
        grants=canonical_grants(grants), memberships=canonical_memberships(edges),
    )


def test_state_document_is_sorted_and_drops_informational_fields() -> None:
    doc = state_document(_state())
    assert doc["schema"] == 1
    grants = doc["grants"]
    assert isinstance(grants, list)
    assert [g["scope"] for g in grants if isinstance(g, dict)] == ["global", "database", "table"]
    assert all("grantor" not in g and "object_kind" not in g for g in grants if isinstance(g, dict))
    attributes = doc["attributes"]
    assert isinstance(attributes, dict)
    assert attributes["password_changed_at"] == "2024-05-01T12:00:00Z"


def test_state_hash_survives_a_stored_round_trip_in_both_forms() -> None:
    state = _state()
    for informational in (False, True):
        rebuilt = state_from_document(ALICE, state_document(state, informational=informational), is_account=True)
        assert state_hash(rebuilt) == state_hash(state)
    rebuilt = state_from_document(ALICE, state_document(state, informational=True), is_account=True)
    assert rebuilt.grants[2].grantor == "root@localhost"


def test_state_hash_changes_with_a_flag() -> None:
    state = _state()
    changed = PrincipalState(ref=ALICE, is_account=True, attributes=state.attributes,
                             grants=(state.grants[0],), memberships=state.memberships)
    assert state_hash(changed) != state_hash(state)


@given(st.randoms(use_true_random=False))
def test_state_hash_is_independent_of_input_order(rnd: random.Random) -> None:
    base = _state()
    grants = list(base.grants)
    edges = list(base.memberships)
    attributes = list(base.attributes.items())
    rnd.shuffle(grants)
    rnd.shuffle(edges)
    rnd.shuffle(attributes)
    shuffled = PrincipalState(ref=ALICE, is_account=True, attributes=dict(attributes), grants=tuple(grants),
                              memberships=tuple(edges))
    assert state_hash(shuffled) == state_hash(base)


def test_documents_of_another_schema_are_refused() -> None:
    doc = state_document(_state())
    doc["schema"] = 0
    with pytest.raises(ValueError, match="schema"):
        state_from_document(ALICE, doc, is_account=True)
