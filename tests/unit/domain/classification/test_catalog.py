"""The privilege catalog (accounts.md §8): data, look-ups, flavors, versions, implicit role grants."""

from __future__ import annotations

import pytest

from whalefall.domain.classification import CAPABILITIES, PrivilegeCatalog, catalog_for
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import parse_version
from whalefall.domain.privileges.names import Scope


@pytest.mark.parametrize("engine", list(DbEngine))
def test_every_engine_has_a_catalog_with_unique_keys_and_the_editor_vocabulary(engine: DbEngine) -> None:
    catalog = catalog_for(engine)
    assert isinstance(catalog, PrivilegeCatalog) and catalog.engine is engine
    keys = [(e.category, e.name) for e in catalog.entries]
    assert len(keys) == len(set(keys))
    assert {"SUPERUSER", "GRANT_ADMIN", "LOCKED", "LOGIN"} <= set(catalog.capabilities) <= CAPABILITIES
    assert "db_type_in" in catalog.functions
    assert catalog.catalog_version and catalog_for(engine) is catalog
    assert all(e.scopes and e.description for e in catalog.entries)


def test_category_names_are_unprefixed_and_shared() -> None:
    categories = {c for engine in DbEngine for c in catalog_for(engine).categories()}
    assert not any(c.startswith(("mysql_", "postgresql_", "sqlserver_", "oracle_")) for c in categories)
    assert "database" in catalog_for(DbEngine.MYSQL).categories()
    assert "database" in catalog_for(DbEngine.POSTGRESQL).categories()


def test_lookup_normalises_and_resolves_aliases() -> None:
    mysql, pg = catalog_for(DbEngine.MYSQL), catalog_for(DbEngine.POSTGRESQL)
    assert mysql.scopes_for(" super ") == frozenset({Scope.GLOBAL})
    assert [e.name for e in mysql.lookup("replication  replica")] == ["REPLICATION SLAVE"]
    assert pg.is_known("temp") and pg.entry("database", "TEMP") is not None
    assert mysql.scopes_for("SELECT") == frozenset({Scope.GLOBAL, Scope.DATABASE, Scope.TABLE, Scope.COLUMN})
    assert not mysql.is_known("ALL PRIVILEGES")


def test_flavors_and_versions() -> None:
    mysql = catalog_for(DbEngine.MYSQL)
    assert mysql.is_known("BACKUP_ADMIN", flavor="mysql") and not mysql.is_known("BACKUP_ADMIN", flavor="mariadb")
    assert mysql.is_known("BINLOG MONITOR", flavor="mariadb") and not mysql.is_known("BINLOG MONITOR", flavor="mysql")
    set_user_id = mysql.entry("global_dynamic", "SET_USER_ID")
    assert set_user_id is not None and set_user_id.removed_in == (8, 4)
    assert set_user_id.available(flavor="mysql", version=(8, 0, 36))
    assert not set_user_id.available(flavor="mysql", version=(8, 4, 0))
    system_user = mysql.entry("global_dynamic", "SYSTEM_USER")
    assert system_user is not None and not system_user.available(flavor="mysql", version=(8, 0, 15))
    assert parse_version("10.11.6-MariaDB-log") == (10, 11, 6) and parse_version("") is None


def test_oracle_has_no_fake_tablespace_privileges() -> None:
    oracle = catalog_for(DbEngine.ORACLE)
    tablespace = {e.name for e in oracle.entries if Scope.TABLESPACE in e.scopes}
    assert tablespace == {"QUOTA", "QUOTA UNLIMITED"}
    assert not oracle.is_known("SELECT ANY TABLESPACE") and not oracle.is_known("WRITE TABLESPACE")
    assert Scope.SCHEMA in oracle.scopes_for("SELECT ANY TABLE")
    assert Scope.SCHEMA not in oracle.scopes_for("GRANT ANY PRIVILEGE")


def test_sqlserver_backup_permissions_are_database_permissions() -> None:
    sqlserver = catalog_for(DbEngine.SQLSERVER)
    for name in ("BACKUP DATABASE", "BACKUP LOG", "CHECKPOINT"):
        assert sqlserver.scopes_for(name) == frozenset({Scope.DATABASE})
    assert not sqlserver.is_known("DATABASE") and not sqlserver.is_known("TABLE")


def test_sqlserver_fixed_role_implicit_grants_are_versioned_data() -> None:
    sqlserver = catalog_for(DbEngine.SQLSERVER)
    assert [(g.privilege, g.scope, g.effect) for g in sqlserver.implicit_grants_for("sysadmin")] == [
        ("CONTROL SERVER", Scope.GLOBAL, "grant")]
    assert {g.effect for g in sqlserver.implicit_grants_for("db_denydatawriter")} == {"deny"}
    assert sqlserver.implicit_grants_for("##MS_DefinitionReader##", server_version="15.0.2000")  == ()
    assert len(sqlserver.implicit_grants_for("##MS_DefinitionReader##", server_version="16.0.1000")) == 1
    assert catalog_for(DbEngine.ORACLE).implicit_role_grants == ()


def test_role_case_variant() -> None:
    sqlserver = catalog_for(DbEngine.SQLSERVER)
    assert sqlserver.role_case_variant("DB_OWNER") == "db_owner"
    assert sqlserver.role_case_variant("db_owner") is None
    assert sqlserver.role_case_variant("unrelated") is None
    assert catalog_for(DbEngine.POSTGRESQL).role_case_variant("PG_MONITOR") == "pg_monitor"


def test_api_shape() -> None:
    document = catalog_for(DbEngine.POSTGRESQL).to_json()
    assert document["db_type"] == "postgresql"
    assert {"name": "TEMPORARY", "scopes": ["database"], "aliases": ["TEMP"]} in document["privileges"]  # type: ignore[operator]
    assert "implicit_role_grants" in document and "capabilities" in document
    mysql_for_mariadb = catalog_for(DbEngine.MYSQL).to_json(flavor="mariadb")
    names = {p["name"] for p in mysql_for_mariadb["privileges"]}  # type: ignore[attr-defined]
    assert "BINLOG MONITOR" in names and "BACKUP_ADMIN" not in names


def test_catalog_for_rejects_non_engines() -> None:
    with pytest.raises(TypeError):
        catalog_for("mysql")  # type: ignore[arg-type]
