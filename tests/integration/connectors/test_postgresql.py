"""PostgreSQL connector against the real server: effective privileges computed from the collected catalog match
has_*_privilege and pg_has_role for roles with INHERIT/NOINHERIT, ADMIN memberships and grants at every level,
PUBLIC included; a database without CONNECT is a gap and an unread size; the connector contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.contracts.connectors import ConnectorContract, Normalize
from tests.integration.connectors.conftest import TIMEOUTS, pg_server, pg_target
from whalefall.adapters.connectors.registry import ConnectorRegistry
from whalefall.application.ports.connectors import Connector, ConnectorError
from whalefall.domain.accounts.effective import PathMode, resolve_effective
from whalefall.domain.accounts.model import InstanceSnapshot, PrincipalKind, PrincipalRef
from whalefall.domain.accounts.normalize import normalize_postgresql
from whalefall.domain.accounts.rows.postgresql import PgCatalogRows
from whalefall.domain.privileges.names import Scope
from whalefall.domain.sessions.backoff import ErrorClass

pytestmark = pytest.mark.postgres

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
COLUMN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "REFERENCES")


@dataclass(frozen=True)
class PgWorld:
    prefix: str
    main: str
    locked_out: str
    parent: str
    child: str
    noinherit: str
    collector: str

    @property
    def roles(self) -> tuple[str, ...]:
        return (self.parent, self.child, self.noinherit, self.collector)


def connect(database: str) -> psycopg.Connection[tuple[Any, ...]]:
    server = pg_server()
    return psycopg.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                           dbname=database, autocommit=True)


@pytest.fixture
def world(pg_admin: psycopg.Connection[tuple[Any, ...]], prefix: str) -> Iterator[PgWorld]:
    w = PgWorld(prefix, f"{prefix}_main", f"{prefix}_noconn", f"{prefix}_parent", f"{prefix}_child",
                f"{prefix}_noinh", f"{prefix}_collector")
    ident = sql.Identifier
    try:
        pg_admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident(w.parent)))
        pg_admin.execute(sql.SQL("CREATE ROLE {} LOGIN INHERIT CONNECTION LIMIT 3 VALID UNTIL 'infinity'")
                         .format(ident(w.child)))
        pg_admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(ident(w.noinherit)))
        pg_admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident(w.collector)))
        pg_admin.execute(sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(ident(w.parent), ident(w.child)))
        pg_admin.execute(sql.SQL("GRANT {} TO {}").format(ident(w.parent), ident(w.noinherit)))
        pg_admin.execute(sql.SQL("CREATE DATABASE {}").format(ident(w.main)))
        pg_admin.execute(sql.SQL("CREATE DATABASE {}").format(ident(w.locked_out)))
        pg_admin.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(ident(w.locked_out)))
        pg_admin.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(ident(w.main), ident(w.parent)))
        pg_admin.execute(sql.SQL("GRANT CREATE ON TABLESPACE pg_default TO {}").format(ident(w.child)))
        with connect(w.main) as db:
            for statement in (
                "CREATE SCHEMA s1",
                "CREATE TABLE s1.t (a int, b text)",
                "INSERT INTO s1.t SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g",
                "CREATE INDEX ON s1.t (a)",
                "ANALYZE s1.t",
                "CREATE FUNCTION s1.f(x int, y text) RETURNS int LANGUAGE sql AS 'SELECT x'",
                "REVOKE EXECUTE ON FUNCTION s1.f(int, text) FROM PUBLIC",
                "GRANT INSERT ON s1.t TO PUBLIC",
            ):
                db.execute(statement)
            db.execute(sql.SQL("GRANT USAGE ON SCHEMA s1 TO {}").format(ident(w.parent)))
            db.execute(sql.SQL("GRANT CREATE ON SCHEMA s1 TO {} WITH GRANT OPTION").format(ident(w.child)))
            db.execute(sql.SQL("GRANT SELECT ON s1.t TO {}").format(ident(w.parent)))
            db.execute(sql.SQL("GRANT UPDATE (b), REFERENCES (a) ON s1.t TO {}").format(ident(w.noinherit)))
            db.execute(sql.SQL("GRANT EXECUTE ON FUNCTION s1.f(int, text) TO {}").format(ident(w.parent)))
        yield w
    finally:
        for database in (w.main, w.locked_out):
            pg_admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident(database)))
        for role in w.roles:
            exists = pg_admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if exists:
                pg_admin.execute(sql.SQL("REVOKE ALL ON TABLESPACE pg_default FROM {}").format(ident(role)))
                pg_admin.execute(sql.SQL("DROP ROLE {}").format(ident(role)))


@pytest.fixture
async def connector(world: PgWorld, registry: ConnectorRegistry) -> AsyncIterator[Connector]:
    async with registry.open(pg_target(world.collector), TIMEOUTS) as opened:
        yield opened


@pytest.fixture
def normalize() -> Normalize:
    return normalize_postgresql


@pytest.fixture
def engine_databases(world: PgWorld) -> list[str]:
    return [world.main, world.locked_out, "template1"]


class TestPostgresConnector(ConnectorContract):
    pass


async def snapshot(connector: Connector) -> tuple[PgCatalogRows, InstanceSnapshot]:
    rows = await connector.read_account_catalog(instance_id=1)
    assert isinstance(rows, PgCatalogRows)
    return rows, normalize_postgresql(rows)


def effective(snap: InstanceSnapshot, role: str) -> set[tuple[str, Scope, tuple[str, ...]]]:
    """Privileges usable without SET ROLE (what has_*_privilege reports)."""
    result = resolve_effective(snap, PrincipalRef.of(PrincipalKind.ROLE, role))
    return {(g.privilege, g.scope, g.object) for g in result.grants
            if any(p.mode is PathMode.INHERIT for p in g.paths)}


async def test_effective_privileges_match_the_engine(world: PgWorld, connector: Connector,
                                                     pg_admin: psycopg.Connection[tuple[Any, ...]]) -> None:
    rows, snap = await snapshot(connector)
    assert world.main in {d.datname for d in rows.databases}
    checked = 0
    with connect(world.main) as db:
        for role in world.roles:
            held = effective(snap, role)
            for privilege in ("CONNECT", "CREATE", "TEMPORARY"):
                truth = db.execute("SELECT has_database_privilege(%s, %s, %s)",
                                   (role, world.main, privilege)).fetchone()
                assert (("TEMPORARY" if privilege == "TEMPORARY" else privilege, Scope.DATABASE, (world.main,))
                        in held) is truth[0], (role, privilege)  # type: ignore[index]
                checked += 1
            for privilege in ("USAGE", "CREATE"):
                [truth] = db.execute("SELECT has_schema_privilege(%s, 's1', %s)", (role, privilege)).fetchone() or ()
                assert ((privilege, Scope.SCHEMA, (world.main, "s1")) in held) is truth, (role, privilege)
                checked += 1
            table = (world.main, "s1", "t")
            for privilege in TABLE_PRIVILEGES:
                [truth] = db.execute("SELECT has_table_privilege(%s, 's1.t', %s)", (role, privilege)).fetchone() or ()
                assert ((privilege, Scope.TABLE, table) in held) is truth, (role, privilege)
                checked += 1
            for column in ("a", "b"):
                for privilege in COLUMN_PRIVILEGES:
                    [truth] = db.execute("SELECT has_column_privilege(%s, 's1.t', %s, %s)",
                                         (role, column, privilege)).fetchone() or ()
                    expected = ((privilege, Scope.COLUMN, (*table, column)) in held
                                or (privilege, Scope.TABLE, table) in held)
                    assert expected is truth, (role, column, privilege)
                    checked += 1
            [truth] = db.execute("SELECT has_function_privilege(%s, 's1.f(int, text)', 'EXECUTE')",
                                 (role,)).fetchone() or ()
            assert (("EXECUTE", Scope.ROUTINE, (world.main, "s1", "f(integer,text)")) in held) is truth, role
            [truth] = db.execute("SELECT has_tablespace_privilege(%s, 'pg_default', 'CREATE')",
                                 (role,)).fetchone() or ()
            assert (("CREATE", Scope.TABLESPACE, ("pg_default",)) in held) is truth, role
            checked += 2
    assert checked == 4 * 22


async def test_memberships_match_pg_has_role(world: PgWorld, connector: Connector,
                                             pg_admin: psycopg.Connection[tuple[Any, ...]]) -> None:
    _, snap = await snapshot(connector)
    for role in world.roles:
        state = next(p for p in snap.principals if p.ref == PrincipalRef.of(PrincipalKind.ROLE, role))
        edges = {m.role.key: m for m in state.memberships}
        for mode in ("MEMBER", "USAGE"):
            [truth] = pg_admin.execute("SELECT pg_has_role(%s, %s, %s)", (role, world.parent, mode)).fetchone() or ()
            edge = edges.get(world.parent)
            expected = role == world.parent or (edge is not None and (mode == "MEMBER" or edge.inherit))
            assert expected is truth, (role, mode)
    child = next(p for p in snap.principals if p.ref.key == world.child)
    [edge] = child.memberships
    assert edge.admin_option and edge.inherit
    assert child.attributes["connection_limit"] == 3 and child.attributes["valid_until"] is None


async def test_a_database_without_connect_is_a_gap_and_an_unread_size(
        world: PgWorld, connector: Connector, pg_admin: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Capacity defect 25 and accounts defect 3: the other databases are still read and sized."""
    rows, snap = await snapshot(connector)
    [failure] = [f for f in rows.failed_databases if f.database == world.locked_out]
    assert failure.connect_failed and "permission denied" in (failure.detail or "")
    assert world.locked_out in {g.database for g in snap.coverage.gaps}
    assert world.main not in {g.database for g in snap.coverage.gaps}
    sizes = {r.name: r.size_bytes for r in (await connector.database_sizes([world.main, world.locked_out])).sizes}
    [truth] = pg_admin.execute("SELECT pg_database_size(%s)", (world.main,)).fetchone() or ()
    assert sizes == {world.main: truth, world.locked_out: None}
    assert f'CONNECT ON DATABASE "{world.locked_out}"' in await connector.missing_collector_privileges()


async def test_table_sizes_and_query_count(world: PgWorld, connector: Connector) -> None:
    tables = await connector.table_sizes(world.main, max_tables=5)
    with connect(world.main) as db:
        [truth] = db.execute("SELECT pg_total_relation_size('s1.t')").fetchone() or ()
    [t] = [t for t in tables if (t.schema_name, t.table_name) == ("s1", "t")]
    assert t.total_bytes == truth and t.row_estimate == 2000 and (t.index_bytes or 0) > 0
    rows, _ = await snapshot(connector)
    scanned = len(rows.databases) + len(rows.failed_databases) - sum(
        1 for f in rows.failed_databases if f.connect_failed)
    assert rows.meta.query_count == 5 + 4 * scanned      # Q0–Q4, then D1, D2 and two D3 per database


async def test_a_missing_role_is_auth_failed(world: PgWorld, registry: ConnectorRegistry) -> None:
    """The test server trusts every local connection, so a wrong password cannot fail; an unknown role does."""
    with pytest.raises(ConnectorError) as caught:
        async with registry.open(pg_target(f"{world.prefix}_nobody", "pw"), TIMEOUTS):
            pytest.fail("must not connect")
    assert caught.value.error_class is ErrorClass.AUTH_FAILED
