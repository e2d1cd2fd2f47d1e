"""execute_many: one large executemany with every value bound by the dialect's own processors, in a tight loop.

SQLAlchemy's executemany builds each row's parameters through the compiled statement's generic path (per row: key
checks, default look-ups, one processor call per value through several indirections). For a 5,000-account first
sync (~45k ledger rows) that was the largest single CPU cost. Here the statement is compiled once, scalar column
defaults are bound once, and the DBAPI's `executemany` does the rest (sqlite3 in C) — the same SQL and the same
bound values as `connection.execute(statement, rows)`. PostgreSQL INSERTs go through COPY (see `_copy`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Update
from sqlalchemy.ext.asyncio import AsyncConnection

_MISSING = object()


async def execute_many(connection: AsyncConnection, statement: Insert | Update,
                       rows: Sequence[Mapping[str, object]]) -> None:
    """Run `statement` once per row. Every row has the keys of the first one (a missing key raises KeyError, an
    extra one ValueError); INSERT columns absent from the rows take their scalar Python default (any other kind of
    default raises ValueError rather than being silently skipped)."""
    if not rows:
        return
    keys = list(rows[0])
    if isinstance(statement, Insert):
        statement = statement.inline()  # no implicit RETURNING: nothing is read back
    compiled = statement.compile(dialect=connection.dialect, column_keys=keys)
    if compiled.escaped_bind_names:
        raise ValueError(f"bind names need escaping: {sorted(compiled.escaped_bind_names)}")
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    spec: list[tuple[str, Callable[[Any], Any] | None, object]] = []
    for name in names:
        processor = compiled._bind_processors.get(name)
        if processor is not None and not callable(processor):
            raise ValueError(f"tuple-typed bind {name!r} is not supported")
        constant = _MISSING if name in keys else _default(statement, name)
        if constant is not _MISSING and processor is not None:
            constant, processor = processor(constant), None
        spec.append((name, processor, constant))
    width = len(keys)
    copy = isinstance(statement, Insert) and connection.dialect.name == "postgresql"
    values: list[Any] = []
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row keys {sorted(row)} differ from {sorted(keys)}")
        bound = [constant if constant is not _MISSING else processor(row[name]) if processor else row[name]
                 for name, processor, constant in spec]
        values.append(tuple(bound) if compiled.positional or copy else dict(zip(names, bound, strict=True)))
    if copy and isinstance(statement, Insert):
        await _copy(connection, statement, names, values)
    else:
        await connection.exec_driver_sql(str(compiled), values)


async def _copy(connection: AsyncConnection, statement: Insert, names: Sequence[str],
                values: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: the rows through `COPY … FROM STDIN` on the same connection, hence in the same transaction
    (no per-row Bind/Execute on the server: about a third of a first sync's server time went to 45k single-row
    INSERT executions). The values are the dialect-processed ones, which psycopg's COPY dumps like parameters.
    COPY bypasses SQLAlchemy's cursor events: statement listeners do not see these rows' writes."""
    quote = connection.dialect.identifier_preparer.quote
    table = statement.table
    columns = ", ".join(quote(table.c[name].name) for name in names)
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cursor, cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as copy:
        for row in values:
            await copy.write_row(row)


def _default(statement: Insert | Update, name: str) -> object:
    column = statement.table.c.get(name) if isinstance(statement, Insert) else None
    default = getattr(column, "default", None)
    if default is None or not default.is_scalar:
        raise ValueError(f"no value for {name!r} and no scalar default")
    return default.arg
