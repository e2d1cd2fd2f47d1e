"""MariaDB connector against the real server: catalog parity with SHOW GRANTS for grants at every level, the
least-privileged collector of accounts.md §2.6, sizes and name decoding (capacity.md §3.3), the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.contracts.connectors import ConnectorContract, Normalize
from tests.integration.connectors.conftest import TIMEOUTS, mariadb_target
from tests.integration.connectors.mariadb_world import (
    COLLECTOR_PASSWORD,
    MariaDbWorld,
    account,
    build,
    quote,
    show_grants,
)
from whalefall.adapters.connectors.mysql.filenames import decode_filename
from whalefall.adapters.connectors.registry import ConnectorRegistry
from whalefall.application.ports.connectors import Connector, ConnectorError
from whalefall.domain.accounts.model import InstanceSnapshot, PrincipalKind, PrincipalRef, PrincipalState
from whalefall.domain.accounts.normalize import normalize_mariadb
from whalefall.domain.accounts.rows.mysql import MariaDbCatalogRows
from whalefall.domain.privileges.names import Scope
from whalefall.domain.sessions.backoff import ErrorClass

pytestmark = pytest.mark.mariadb


@pytest.fixture
def world(mariadb_admin: Any, prefix: str) -> Iterator[MariaDbWorld]:
    yield from build(mariadb_admin, prefix)


@pytest.fixture
async def connector(world: MariaDbWorld, registry: ConnectorRegistry) -> AsyncIterator[Connector]:
    async with registry.open(mariadb_target(world.collector, COLLECTOR_PASSWORD), TIMEOUTS) as opened:
        yield opened


@pytest.fixture
def normalize() -> Normalize:
    return normalize_mariadb


@pytest.fixture
def engine_databases(world: MariaDbWorld) -> list[str]:
    return [world.shop, world.encoded_db, "mysql"]


class TestMariaDbConnector(ConnectorContract):
    pass


async def snapshot(connector: Connector) -> InstanceSnapshot:
    rows = await connector.read_account_catalog(instance_id=1)
    assert isinstance(rows, MariaDbCatalogRows)
    return normalize_mariadb(rows)


def principal(snap: InstanceSnapshot, kind: PrincipalKind, key: str) -> PrincipalState:
    return next(p for p in snap.principals if p.ref == PrincipalRef.of(kind, key))


async def test_catalog_matches_show_grants_for_every_account_and_role(
        world: MariaDbWorld, connector: Connector, mariadb_admin: Any) -> None:
    snap = await snapshot(connector)
    grantees = [(PrincipalKind.USER, f"{u}@{h}", account(u, h), f"{quote(u)}@{quote(h)}") for u, h in world.users]
    grantees += [(PrincipalKind.ROLE, role, quote(role), quote(role)) for role in world.roles]
    for kind, key, grantee, shown_as in grantees:
        truth = show_grants(mariadb_admin, grantee, shown_as)
        state = principal(snap, kind, key)
        assert {(g.privilege, g.scope, g.object) for g in state.grants} == truth.grants, key
        assert {m.role.key: m.admin_option for m in state.memberships} == truth.roles, key
        defaults = [m.role.key for m in state.memberships if m.default]
        assert defaults == ([truth.default_role] if truth.default_role else []), key
        for grant in state.grants:
            if grant.privilege == "PROXY":
                assert grant.grant_option is truth.proxy_grant_option[grant.object[0]]
    assert len(grantees) == 5


async def test_names_patterns_and_attributes_are_kept(world: MariaDbWorld, connector: Connector) -> None:
    """Defects 11 and 24: database names keep their case and backslashes, patterns are flagged, the anonymous
    account is collected, a locked account is locked, roles are roles (never users)."""
    snap = await snapshot(connector)
    other = principal(snap, PrincipalKind.USER, f"{world.prefix}_other@%")
    [pattern] = [g for g in other.grants if g.scope is Scope.DATABASE]
    assert pattern.object == (world.pattern,) and pattern.pattern
    assert other.attributes["locked"] is True
    anonymous = principal(snap, PrincipalKind.USER, "@192.0.2.1")
    assert anonymous.is_account and {g.object for g in anonymous.grants} == {(world.shop,)}
    reader = principal(snap, PrincipalKind.ROLE, f"{world.prefix}_reader")
    assert reader.attributes["login_capable"] is False


async def test_query_count_and_live_flavor(connector: Connector) -> None:
    """Defects 14 and 15: a constant number of statements, the MariaDB path chosen from the live version."""
    rows = await connector.read_account_catalog(instance_id=1)
    assert isinstance(rows, MariaDbCatalogRows) and rows.meta.query_count == 9
    assert rows.meta.collector.endswith("_collector@127.0.0.1")
    assert await connector.missing_collector_privileges() == ()


async def test_a_revoked_grant_table_fails_instead_of_returning_empty_data(
        world: MariaDbWorld, registry: ConnectorRegistry) -> None:
    """Defect 4: without SELECT on mysql.db the catalog read fails (PERMISSION_DENIED), and the preflight names
    the missing grant."""
    async with registry.open(mariadb_target(world.collector_without_db, COLLECTOR_PASSWORD), TIMEOUTS) as opened:
        with pytest.raises(ConnectorError) as caught:
            await opened.read_account_catalog(instance_id=1)
        assert caught.value.error_code == "CATALOG_READ_FAILED"
        assert caught.value.error_class is ErrorClass.PERMISSION_DENIED
        assert await opened.missing_collector_privileges() == ("SELECT ON mysql.db",)


async def test_a_wrong_password_is_auth_failed(world: MariaDbWorld, registry: ConnectorRegistry) -> None:
    with pytest.raises(ConnectorError) as caught:
        async with registry.open(mariadb_target(world.collector, "wrong-password"), TIMEOUTS):
            pytest.fail("must not connect")
    assert caught.value.error_class is ErrorClass.AUTH_FAILED and not caught.value.retryable
    assert "wrong-password" not in caught.value.message


async def test_sizes_match_the_server_and_encoded_names_are_attributed(
        world: MariaDbWorld, connector: Connector, mariadb_admin: Any) -> None:
    with mariadb_admin.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(world.shop)}.orders SELECT seq, 'new', seq, REPEAT('x', 500) "
                       "FROM mysql.seq_1_to_3000")
        cursor.execute(f"INSERT INTO {quote(world.shop)}.audit_log SELECT seq, REPEAT('y', 150) "
                       "FROM mysql.seq_1_to_500")
        cursor.execute(f"INSERT INTO {quote(world.encoded_db)}.daily VALUES (1, 'a')")
        cursor.execute(f"ANALYZE TABLE {quote(world.shop)}.orders")     # InnoDB statistics for table sizes
        cursor.fetchall()
        cursor.execute("SELECT NAME, FILE_SIZE FROM information_schema.INNODB_SYS_TABLESPACES")
        tablespaces = cursor.fetchall()
        cursor.execute("SELECT TABLE_SCHEMA, SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES "
                       "WHERE ENGINE <> 'InnoDB' AND TABLE_TYPE = 'BASE TABLE' GROUP BY TABLE_SCHEMA")
        non_innodb = {schema: int(size) for schema, size in cursor.fetchall()}
    expected = {
        name: sum(size for ts, size in tablespaces if "/" in ts and decode_filename(ts.split("/")[0]) == name)
        + non_innodb.get(name, 0)
        for name in (world.shop, world.encoded_db)}
    assert expected[world.shop] > non_innodb[world.shop] > 0 and expected[world.encoded_db] > 0
    result = await connector.database_sizes([world.shop, world.encoded_db])
    assert {row.name: row.size_bytes for row in result.sizes} == expected
    assert not any(world.prefix in warning for warning in result.warnings)
    tables = await connector.table_sizes(world.shop, max_tables=1)
    assert [(t.schema_name, t.table_name) for t in tables] == [(world.shop, "orders")]
    assert tables[0].total_bytes == (tables[0].data_bytes or 0) + (tables[0].index_bytes or 0) > 0


def test_the_shipped_code_table_round_trips_through_the_server(mariadb_admin: Any) -> None:
    """Every code point of the five blocks: the server's file-name encoding decodes back to the character."""
    blocks = ((0x00C0, 0x05FF), (0x1E00, 0x1FFF), (0x2160, 0x217F), (0x24B0, 0x24EF), (0xFF20, 0xFF5F))
    checked = 0
    with mariadb_admin.cursor() as cursor:
        for low, high in blocks:
            cursor.execute("SELECT seq, CONVERT(CONVERT(CHAR(seq USING utf32) USING filename) USING binary) "
                           f"FROM mysql.seq_{low}_to_{high}")
            for code_point, encoded in cursor.fetchall():
                assert decode_filename(encoded.decode("ascii")) == chr(code_point), hex(code_point)
                checked += 1
    assert checked == 2016
