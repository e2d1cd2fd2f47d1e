"""Every SQL statement of the connectors parses in its engine's dialect (sqlglot), and every read is a SELECT."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
import sqlglot
from sqlglot import exp

from whalefall.adapters.connectors.mysql import queries as mysql_queries
from whalefall.adapters.connectors.oracle import queries as oracle_queries
from whalefall.adapters.connectors.postgresql import queries as pg_queries
from whalefall.adapters.connectors.sqlserver import queries as mssql_queries

_STATEMENT = re.compile(r"^\s*(SELECT|SET|START|COMMIT|SHOW)\b", re.IGNORECASE)


def constants(module: ModuleType) -> dict[str, str]:
    """Module-level SQL constants (upper-case names whose value is a statement)."""
    return {name: value for name, value in vars(module).items()
            if name.isupper() and not name.startswith("_") and isinstance(value, str) and _STATEMENT.match(value)}


def generated() -> list[tuple[str, str, str]]:
    statements = [("mysql", f"probe {table}", mysql_queries.probe(table))
                  for table in ("mysql.user", "information_schema.INNODB_SYS_TABLESPACES")]
    for strict in (False, True):
        for columns in (mysql_queries.MYSQL_USER_PRIV_COLUMNS_57, mysql_queries.MYSQL_USER_PRIV_COLUMNS_80):
            statements.append(("mysql", f"Q1 strict={strict} columns={len(columns)}", mysql_queries.mysql_q1(
                priv_columns=columns, strict=strict, restrictions=not strict, mfa=not strict)))
    for kind in mssql_queries.PER_DATABASE:
        names = ["O'Brien]Data", "50%off", *(f"db{i}" for i in range(18))]
        statements.append(("tsql", f"{kind} batch", mssql_queries.per_database(kind, names)[0]))
    statements.extend(("oracle", f"probe {view}", oracle_queries.probe(view)) for view in oracle_queries.ACCOUNT_VIEWS)
    return statements


CASES = [
    *((dialect, f"{module.__name__.rsplit('.', 2)[-2]}.{name}", sql)
      for dialect, module in (("mysql", mysql_queries), ("postgres", pg_queries), ("tsql", mssql_queries),
                              ("oracle", oracle_queries))
      for name, sql in constants(module).items()),
    *generated(),
]


#: Valid clauses sqlglot's dialects do not know; the statements run live in the MariaDB suite.
SQLGLOT_GAPS = {"WITH CONSISTENT SNAPSHOT, ": ""}


def bind_placeholders(sql: str) -> str:
    """Driver parameter markers → literals sqlglot can parse (`%s`, `%d`, pymssql's doubled `%%`, Oracle `:1`)."""
    for clause, replacement in SQLGLOT_GAPS.items():
        sql = sql.replace(clause, replacement)
    sql = re.sub(r":\d+\b", "10", sql)
    return sql.replace("%s", "'x'").replace("%d", "10").replace("%%", "%")


@pytest.mark.parametrize(("dialect", "name", "sql"), CASES, ids=[case[1] for case in CASES])
def test_statement_parses(dialect: str, name: str, sql: str) -> None:
    parsed = sqlglot.parse(bind_placeholders(sql), read=dialect)
    assert len(parsed) == 1 and parsed[0] is not None
    if sql.lstrip().upper().startswith("SELECT"):
        assert isinstance(parsed[0], exp.Select | exp.Union), f"{name} did not parse as a query"


def test_every_engine_contributes_statements() -> None:
    dialects = {case[0] for case in CASES}
    assert dialects == {"mysql", "postgres", "tsql", "oracle"}
    assert len(CASES) > 60


def test_sqlserver_batches_quote_names_and_bind_values() -> None:
    sql, params = mssql_queries.per_database("D1", ["O'Brien]Data", "master"])
    assert "[O'Brien]]Data].sys.database_principals" in sql
    assert "'O''Brien" not in sql and params == ("O'Brien]Data", "master")
    assert sql.count("UNION ALL") == 1 and sql.count("%s") == 2
    with pytest.raises(ValueError, match="1–20"):
        mssql_queries.per_database("D1", [f"db{i}" for i in range(21)])
