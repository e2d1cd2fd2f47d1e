"""Scratch metadata stores for integration tests: a migrated SQLite file per test, one PostgreSQL database per
session (truncated before each test). `store` fixtures parametrise over both (STYLE.md §11)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.migrations.runner import upgrade

DEFAULT_PG_DSN: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
StoreKind = Literal["sqlite", "postgresql"]


@dataclass(frozen=True, slots=True)
class Store:
    """A migrated, empty metadata store: its SQLAlchemy URL and which dialect it is."""

    kind: StoreKind
    url: str


def pg_admin_dsn() -> str:
    return os.environ.get("WHALEFALL_TEST_PG_DSN", DEFAULT_PG_DSN)


def _libpq(url: str) -> str:
    """SQLAlchemy URL → a libpq conninfo psycopg accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def unreachable(reason: str) -> None:
    """Fail loudly in CI, skip with the reason elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable ({reason}); set WHALEFALL_TEST_PG_DSN")


def migrate(url: str) -> None:
    """Upgrade a store to the head revision (called outside any running event loop)."""

    async def run() -> None:
        database = Database(url)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    asyncio.run(run())


def create_scratch_pg() -> tuple[str, str]:
    """Create a uniquely named database on the test server; returns (its URL, the admin conninfo)."""
    admin_url = pg_admin_dsn()
    name = f"whalefall_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        unreachable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), _libpq(admin_url)


def drop_scratch_pg(url: str, admin: str) -> None:
    name = make_url(url).database
    assert name and name.startswith("whalefall_test_")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


_SEEDED: dict[str, frozenset[str]] = {}
_SEQUENCES: dict[str, dict[str, int | None]] = {}
_SEQUENCE_STATE = "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"


def _non_empty_tables(conn: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    tables = [row[0] for row in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND c.relname <> 'alembic_version'")]
    return {str(t) for t in tables if conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(str(t)))).fetchone() == (True,)}


_SNAPSHOT: Final = "whalefall_test_seed"


def remember_seeded(url: str) -> None:
    """Snapshot the tables the migrations fill (built-in jobs, pipelines, classifications…): each test starts from
    exactly the migrated rows; every other table starts empty."""
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        _SEEDED[url] = frozenset(_non_empty_tables(conn))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(_SNAPSHOT)))
        for table in _SEEDED[url]:
            conn.execute(sql.SQL("CREATE TABLE {}.{} AS TABLE public.{}").format(
                sql.Identifier(_SNAPSHOT), sql.Identifier(table), sql.Identifier(table)))
        _SEQUENCES[url] = {str(name): value for name, value in conn.execute(_SEQUENCE_STATE)}


def truncate_pg(url: str) -> None:
    """Back to the state right after migration: tables a test wrote to are emptied, seeded tables get their
    migrated rows back, identities restart.

    `TRUNCATE … CASCADE` over the whole schema costs seconds once partitioned tables exist, so only non-empty
    tables are touched, with foreign-key triggers off (session_replication_role) so the order does not matter."""
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        seeded = _SEEDED.get(url, frozenset())
        dirty = sorted(_non_empty_tables(conn) - seeded)
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in dirty:
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            for table in sorted(seeded):
                conn.execute(sql.SQL("DELETE FROM public.{}").format(sql.Identifier(table)))
                conn.execute(sql.SQL("INSERT INTO public.{} OVERRIDING SYSTEM VALUE SELECT * FROM {}.{}").format(
                    sql.Identifier(table), sql.Identifier(_SNAPSHOT), sql.Identifier(table)))
        # Identities restart even when the rows are gone already (purged rows, failed inserts).
        baseline = _SEQUENCES.get(url, {})
        for name, value in conn.execute(_SEQUENCE_STATE).fetchall():
            if value != baseline.get(str(name)):
                start = baseline.get(str(name))
                conn.execute("SELECT setval(%s, %s, %s)", (name, start or 1, start is not None))


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def copy_sqlite(template: Path, target: Path) -> None:
    shutil.copyfile(template, target)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; tests get copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def pg_scratch_url() -> Iterator[str]:
    """One migrated scratch PostgreSQL database per session, dropped at the end."""
    url, admin = create_scratch_pg()
    try:
        migrate(url)
        remember_seeded(url)
        yield url
    finally:
        drop_scratch_pg(url, admin)


STORE_PARAMS: Final = [pytest.param("sqlite", id="sqlite"),
                       pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORE_PARAMS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A migrated, empty store of each kind."""
    if request.param == "sqlite":
        target = tmp_path / "whalefall.db"
        copy_sqlite(request.getfixturevalue("sqlite_template"), target)
        return Store("sqlite", sqlite_url(target))
    url = request.getfixturevalue("pg_scratch_url")
    truncate_pg(url)
    return Store("postgresql", url)
