"""Permission facts v3 (§2): JSON round trip, legacy v2 input, errors and time-dependent capabilities."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from tests.unit.domain.classification.fixtures import FACTS, FF, FH
from whalefall.domain.classification import PermissionFacts
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import AccountRef, FactsError, GrantFact, RoleFact
from whalefall.domain.privileges.names import Scope

AS_OF = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize("facts_id", sorted(FACTS))
def test_json_round_trip(facts_id: str) -> None:
    facts = FACTS[facts_id]
    assert PermissionFacts.from_json(facts.to_json()) == facts


def test_to_json_shape() -> None:
    document = FH.to_json()
    assert document["version"] == 3 and document["engine"] == "sqlserver"
    assert document["as_of"] == "2026-05-01T00:00:00Z"
    grants = document["grants"]
    assert isinstance(grants, list)
    assert grants[1] == {"privilege": "UPDATE", "scope": "schema", "database": "FinanceDW", "object": ["rpt"],
                         "grant_option": False, "effect": "deny", "source": "direct", "via": None, "path": [],
                         "mode": None, "implicit": False, "pattern": False, "stale": False}
    assert FF.to_json()["coverage"] == {"complete": False, "gaps": [
        {"database": "dw_archive", "reason": "connect_failed", "stale_since": None}]}


def test_capabilities_are_sorted_canonical_and_disjoint() -> None:
    facts = PermissionFacts(engine=DbEngine.MYSQL, account=AccountRef("", "a@%", "user"), as_of=AS_OF,
                            capabilities=("LOGIN", "GRANT_ADMIN", "LOGIN"), capabilities_via_roles=("SUPERUSER",
                                                                                                    "LOGIN"))
    assert facts.capabilities == ("GRANT_ADMIN", "LOGIN") and facts.capabilities_via_roles == ("SUPERUSER",)
    document = facts.to_json() | {"capabilities": ["can_login"]}
    assert PermissionFacts.from_json(document).capabilities == ("LOGIN",)


@pytest.mark.parametrize(("document", "code"), [
    ({"version": 1, "engine": "mysql"}, "facts_version_unsupported"),
    ({"version": 4}, "facts_version_unsupported"),
    ({"engine": "mysql"}, "facts_invalid"),
    ({"version": "3"}, "facts_invalid"),
    ({"version": 3, "engine": "db2", "account": {"key": "a"}, "as_of": "2026-05-01T00:00:00Z"}, "facts_invalid"),
    ({"version": 3, "engine": "mysql", "account": {"key": "a"}, "as_of": "2026-05-01T00:00:00"}, "facts_invalid"),
    ({"version": 3, "engine": "mysql", "account": {"key": "a"}, "as_of": "2026-05-01T00:00:00Z",
      "grants": [{"privilege": "X", "scope": "planet"}]}, "facts_invalid"),
    ({"version": 3, "engine": "mysql", "account": {"key": "a"}, "as_of": "2026-05-01T00:00:00Z",
      "capabilities": ["FLY"]}, "facts_invalid"),
    ({"version": 2, "db_type": "mysql"}, "facts_invalid"),
])
def test_from_json_errors(document: dict[str, object], code: str) -> None:
    with pytest.raises(FactsError) as caught:
        PermissionFacts.from_json(document)
    assert caught.value.facts_code == code


def test_legacy_v2_is_mapped_without_recasing() -> None:
    legacy = {
        "version": 2, "db_type": "mysql", "username": "app@%",
        "capabilities": ["can_super", "can_login", "LOCKED", "GRANT_ADMIN"],
        "roles": ["reporting@%"],
        "privileges": {"global": ["select", "super"], "database": {"INVENTORY": ["SELECT", "table"],
                                                                    "database": ["SELECT"]}},
    }
    facts = PermissionFacts.from_json(legacy, as_of=AS_OF)
    assert facts.version == 2 and facts.as_of == AS_OF and facts.coverage.complete
    assert facts.capabilities == ("GRANT_ADMIN", "LOCKED", "LOGIN", "SUPERUSER")
    assert facts.roles == (RoleFact(name="reporting@%"),)
    assert facts.grants == (
        GrantFact(privilege="SELECT", scope=Scope.GLOBAL), GrantFact(privilege="SUPER", scope=Scope.GLOBAL),
        GrantFact(privilege="SELECT", scope=Scope.DATABASE, database="INVENTORY"),
    )
    assert [w.code for w in facts.warnings] == ["legacy_category_key", "legacy_category_key"]


def test_legacy_v2_sqlserver_database_permissions() -> None:
    legacy = {"version": 2, "db_type": "sqlserver", "privileges": {
        "server": ["VIEW ANY DEFINITION"], "database_permissions": {"FinanceDW": ["alter any user", "database"]}}}
    facts = PermissionFacts.from_json(legacy, as_of=AS_OF)
    assert [(g.privilege, g.scope, g.database) for g in facts.grants] == [
        ("VIEW ANY DEFINITION", Scope.GLOBAL, None), ("ALTER ANY USER", Scope.DATABASE, "FinanceDW")]


def _mysql(**attributes: object) -> PermissionFacts:
    return PermissionFacts(engine=DbEngine.MYSQL, account=AccountRef("", "a@%", "user"), as_of=AS_OF,
                           capabilities=("LOGIN",), attributes=MappingProxyType(attributes))


@pytest.mark.parametrize(("attributes", "expired"), [
    ({"password_changed_at": "2026-01-01T00:00:00Z", "password_lifetime_days": 90}, True),
    ({"password_changed_at": "2026-03-01T00:00:00Z", "password_lifetime_days": 90}, False),
    ({"password_changed_at": "2026-01-01T00:00:00Z", "password_lifetime_days": None,
      "default_password_lifetime_days": 30}, True),
    ({"password_changed_at": "2026-01-01T00:00:00Z", "password_lifetime_days": 0,
      "default_password_lifetime_days": 30}, False),
    ({"password_changed_at": datetime(2020, 1, 1, tzinfo=UTC)}, False),
    ({"password_expired": True}, True),
])
def test_mysql_password_expiry_is_computed_at_as_of(attributes: dict[str, object], expired: bool) -> None:
    facts = _mysql(**attributes).at(AS_OF)
    assert ("PASSWORD_EXPIRED" in facts.capabilities) is expired
    assert ("PASSWORD_EXPIRED" in facts.capability_reasons) is expired


def test_pg_valid_until_and_round_trip_through_at() -> None:
    assert "PASSWORD_EXPIRED" in FF.capabilities
    before = FF.at(datetime(2026, 2, 1, tzinfo=UTC))
    assert "PASSWORD_EXPIRED" not in before.capabilities and before.as_of == datetime(2026, 2, 1, tzinfo=UTC)
    assert before.at(AS_OF).capabilities == FF.capabilities
    assert PermissionFacts.from_json(FF.to_json(), as_of=datetime(2026, 2, 1, tzinfo=UTC)) == before


def test_facts_without_raw_inputs_keep_their_verdict() -> None:
    facts = PermissionFacts(engine=DbEngine.ORACLE, account=AccountRef("", "X", "user"), as_of=AS_OF,
                            capabilities=("PASSWORD_EXPIRED",))
    assert facts.at(datetime(2000, 1, 1, tzinfo=UTC)).capabilities == ("PASSWORD_EXPIRED",)


def test_type_errors_for_naive_instants_and_engines() -> None:
    with pytest.raises(TypeError):
        FF.at(datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        PermissionFacts(engine="mysql", account=AccountRef("", "a", "user"), as_of=AS_OF)  # type: ignore[arg-type]


def test_grant_lookup_helpers() -> None:
    assert [g.object for g in FH.grants_for("UPDATE", Scope.TABLE)] == [("rpt", "Invoices")]
    assert [g.scope for g in FH.denies_for("UPDATE")] == [Scope.SCHEMA]
    assert FF.blind_databases() == ("dw_archive",)
