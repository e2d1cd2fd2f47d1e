"""A MariaDB world of users, roles and grants at every level, created for one test and dropped after it, plus a
parser of `SHOW GRANTS` (the engine's own truth) into canonical grant keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from whalefall.domain.privileges.names import Scope

COLLECTOR_PASSWORD: Final = "Collector-Pw-1'\"@%"
COLLECTOR_TABLES: Final = ("mysql.global_priv", "mysql.db", "mysql.tables_priv", "mysql.columns_priv",
                           "mysql.procs_priv", "mysql.proxies_priv", "mysql.roles_mapping")

GrantKey = tuple[str, Scope, tuple[str, ...]]


@dataclass
class MariaDbWorld:
    prefix: str
    shop: str
    pattern: str
    encoded_db: str
    users: list[tuple[str, str]]
    roles: list[str]
    collector: str
    collector_without_db: str
    statements: list[str] = field(default_factory=list)


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def account(user: str, host: str) -> str:
    return f"{literal(user)}@{literal(host)}"


def build(admin: Any, prefix: str) -> Iterator[MariaDbWorld]:
    shop, pattern, encoded = f"{prefix}_shop", f"{prefix}\\_rep%", f"{prefix}-ⓐＡ销售"
    # The anonymous account's host is an address (TEST-NET-1): with --skip-name-resolve the server drops accounts
    # with host names when it reloads the grant tables.
    app, other, anon_host = f"{prefix}_app", f"{prefix}_other", "192.0.2.1"
    reader, boss = f"{prefix}_reader", f"{prefix}_admin"
    world = MariaDbWorld(prefix=prefix, shop=shop, pattern=pattern, encoded_db=encoded,
                         users=[(app, "%"), (other, "%"), ("", anon_host)], roles=[reader, boss],
                         collector=f"{prefix}_collector", collector_without_db=f"{prefix}_nodb")
    statements = [
        f"CREATE DATABASE {quote(shop)}",
        f"CREATE DATABASE {quote(encoded)}",
        f"CREATE TABLE {quote(shop)}.orders (id INT PRIMARY KEY, status VARCHAR(20), amount DECIMAL(10, 2),"
        " note TEXT) ENGINE=InnoDB",
        f"CREATE TABLE {quote(shop)}.audit_log (id INT PRIMARY KEY, line VARCHAR(200)) ENGINE=Aria",
        f"CREATE TABLE {quote(encoded)}.daily (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB",
        f"CREATE PROCEDURE {quote(shop)}.p_refresh() SELECT 1",
        f"CREATE FUNCTION {quote(shop)}.f_total(x INT) RETURNS INT DETERMINISTIC RETURN x + 1",
        f"CREATE USER {account(app, '%')} IDENTIFIED BY 'App-pw-1'",
        f"CREATE USER {account(other, '%')} IDENTIFIED BY 'Other-pw-1' ACCOUNT LOCK",
        f"CREATE USER {account('', anon_host)}",
        f"CREATE ROLE {quote(reader)}",
        f"CREATE ROLE {quote(boss)}",
        f"GRANT PROCESS, RELOAD ON *.* TO {account(app, '%')}",
        f"GRANT SELECT, INSERT ON {quote(shop)}.* TO {account(app, '%')} WITH GRANT OPTION",
        f"GRANT UPDATE ON {quote(shop)}.orders TO {account(app, '%')}",
        f"GRANT SELECT (status), UPDATE (amount) ON {quote(shop)}.orders TO {account(app, '%')}",
        f"GRANT EXECUTE ON PROCEDURE {quote(shop)}.p_refresh TO {account(app, '%')}",
        f"GRANT ALTER ROUTINE ON FUNCTION {quote(shop)}.f_total TO {account(app, '%')}",
        # The services script's root@127.0.0.1 holds no PROXY ... WITH GRANT OPTION (only root@localhost does),
        # so the test writes the row `GRANT PROXY ON other TO app WITH GRANT OPTION` would write.
        "INSERT INTO mysql.proxies_priv (Host, User, Proxied_host, Proxied_user, With_grant)"
        f" VALUES ('%', {literal(app)}, '%', {literal(other)}, 1)",
        "FLUSH PRIVILEGES",
        f"GRANT SELECT ON {quote(pattern)}.* TO {account(other, '%')}",
        f"GRANT SELECT ON {quote(shop)}.* TO {account('', anon_host)}",
        f"GRANT SELECT, SHOW VIEW ON {quote(shop)}.* TO {quote(reader)}",
        f"GRANT DELETE ON {quote(shop)}.orders TO {quote(boss)}",
        f"GRANT {quote(reader)} TO {quote(boss)}",
        f"GRANT {quote(reader)} TO {account(app, '%')} WITH ADMIN OPTION",
        f"GRANT {quote(boss)} TO {account(other, '%')}",
        f"SET DEFAULT ROLE {quote(boss)} FOR {account(other, '%')}",
    ]
    for collector, tables in ((world.collector, COLLECTOR_TABLES),
                              (world.collector_without_db, tuple(t for t in COLLECTOR_TABLES if t != "mysql.db"))):
        statements.append(f"CREATE USER {account(collector, '127.0.0.1')} IDENTIFIED BY %s")
        statements.extend(f"GRANT SELECT ON {table} TO {account(collector, '127.0.0.1')}" for table in tables)
        statements.append(f"GRANT PROCESS, SHOW DATABASES, SHOW VIEW ON *.* TO {account(collector, '127.0.0.1')}")
    try:
        with admin.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement, (COLLECTOR_PASSWORD,) if "%s" in statement else None)
                world.statements.append(statement)
        yield world
    finally:
        drop(admin, world)


def drop(admin: Any, world: MariaDbWorld) -> None:
    with admin.cursor() as cursor:
        for user, host in [*world.users, (world.collector, "127.0.0.1"), (world.collector_without_db, "127.0.0.1")]:
            cursor.execute(f"DROP USER IF EXISTS {account(user, host)}")
        for role in world.roles:
            cursor.execute(f"DROP ROLE IF EXISTS {quote(role)}")
        for database in (world.shop, world.encoded_db):
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(database)}")
        # DROP USER/ROLE leave no grant rows behind; a pattern grant has no database to drop.


_IDENT: Final = r"`((?:[^`]|``)*)`"
_GRANT_ROLE: Final = re.compile(rf"^GRANT {_IDENT} TO (.+?)( WITH ADMIN OPTION)?$")
_GRANT: Final = re.compile(r"^GRANT (.+?) ON (.+?) TO (`(?:[^`]|``)*`(?:@`(?:[^`]|``)*`)?)(.*)$")
_DEFAULT_ROLE: Final = re.compile(rf"^SET DEFAULT ROLE {_IDENT} FOR ")


@dataclass
class ShownGrants:
    """What SHOW GRANTS says about one principal."""

    grants: set[GrantKey] = field(default_factory=set)
    proxy_grant_option: dict[str, bool] = field(default_factory=dict)
    roles: dict[str, bool] = field(default_factory=dict)
    default_role: str | None = None


def _unquote(text: str) -> str:
    return text.replace("``", "`")


def _split_privileges(text: str) -> list[tuple[str, list[str]]]:
    """`SELECT (`a`, `b`), UPDATE, INSERT (`c`)` → [(SELECT, [a, b]), (UPDATE, []), (INSERT, [c])]."""
    out: list[tuple[str, list[str]]] = []
    for match in re.finditer(r"\s*([A-Z][A-Z _]*?)\s*(?:\(([^)]*)\))?\s*(?:,|$)", text):
        if not match.group(1):
            continue
        columns = [_unquote(c) for c in re.findall(_IDENT, match.group(2) or "")]
        out.append((match.group(1).strip(), columns))
    return out


def _object(text: str) -> tuple[Scope, tuple[str, ...], bool]:
    routine = text.startswith(("PROCEDURE ", "FUNCTION ", "PACKAGE "))
    if routine:
        text = text.split(" ", 1)[1]
    if text == "*.*":
        return Scope.GLOBAL, (), False
    parts = [_unquote(p) for p in re.findall(_IDENT, text)]
    if text.endswith(".*"):
        return Scope.DATABASE, (parts[0],), False
    return (Scope.ROUTINE if routine else Scope.TABLE), (parts[0], parts[1]), routine


def show_grants(admin: Any, grantee: str, shown_as: str) -> ShownGrants:
    """`SHOW GRANTS FOR grantee`, keeping only the lines granted TO it (`shown_as`, the server's backtick form):
    for a role the server also lists the grants of the roles it holds."""
    shown = ShownGrants()
    with admin.cursor() as cursor:
        cursor.execute(f"SHOW GRANTS FOR {grantee}")
        lines = [row[0] for row in cursor.fetchall()]
    for line in lines:
        if m := _DEFAULT_ROLE.match(line):
            shown.default_role = _unquote(m.group(1))
            continue
        if m := _GRANT_ROLE.match(line):
            if m.group(2) == shown_as:
                shown.roles[_unquote(m.group(1))] = bool(m.group(3))
            continue
        m = _GRANT.match(line)
        assert m, line
        if m.group(3) != shown_as:
            continue
        privileges, target, tail = m.group(1), m.group(2), m.group(4)
        with_grant = "WITH GRANT OPTION" in tail
        if privileges == "PROXY":
            user, host = (_unquote(p) for p in re.findall(_IDENT, target))
            shown.grants.add(("PROXY", Scope.GLOBAL, (f"{user}@{host}",)))
            shown.proxy_grant_option[f"{user}@{host}"] = with_grant
            continue
        scope, obj, _ = _object(target)
        for privilege, columns in _split_privileges(privileges):
            if privilege == "USAGE":
                continue
            if columns:
                shown.grants.update((privilege, Scope.COLUMN, (*obj, c)) for c in columns)
            else:
                shown.grants.add((privilege, scope, obj))
        if with_grant:
            shown.grants.add(("GRANT OPTION", scope, obj))
    return shown
