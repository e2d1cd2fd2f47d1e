"""The MySQL/MariaDB connector's tablespace view choice (capacity.md §3.3, capacity defect 24): the legacy code
took the "first view with rows", so an existing but empty view sent it to the other one. Here an empty preferred
view is the answer; only a missing view (error 1109) falls back, once; any other error propagates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from tests.fakes.sessions import SettableClock
from whalefall.adapters.connectors._shared import ConnectorContext, ConnectorOptions, DriverError, Executor, ResultSet
from whalefall.adapters.connectors._threads import DriverThreads
from whalefall.adapters.connectors.mysql import MySqlConnector, queries
from whalefall.application.ports.connectors import ConnectorError, ConnectorTimeouts
from whalefall.domain.sessions.backoff import ErrorClass

MYSQL_80 = "8.0.36"
MARIADB = "10.11.6-MariaDB"
TABLESPACES = ("NAME", "FILE_SIZE")


@dataclass
class ScriptedExecutor(Executor):
    """Answers by SQL text: a ResultSet, or a DriverError to raise; keeps every statement it received."""

    version: str
    answers: Mapping[str, ResultSet | DriverError]
    statements: list[str] = field(default_factory=list)

    async def fetch(self, name: str, sql: str, params: Sequence[object] = ()) -> ResultSet:
        self.statements.append(sql)
        if name == "VERSION":
            return ResultSet(("version", "version_comment"), ((self.version, None),))
        if name == "INVENTORY":
            return ResultSet(("SCHEMA_NAME",), (("shop",),))
        if name == "STATS_EXPIRY":
            return ResultSet(())
        answer = self.answers[sql]
        if isinstance(answer, DriverError):
            raise answer
        return answer


@pytest.fixture
def context() -> Iterator[ConnectorContext]:
    threads = DriverThreads(1)
    try:
        yield ConnectorContext(threads=threads, clock=SettableClock(),
                               options=ConnectorOptions(mysql_include_non_innodb=False))
    finally:
        threads.close()


def _missing_view() -> DriverError:
    return DriverError(ErrorClass.PERMISSION_DENIED, "Unknown table 'INNODB_TABLESPACES' in information_schema",
                       driver_code=1109)


async def _sizes(executor: ScriptedExecutor, context: ConnectorContext) -> dict[str, int | None]:
    connector = MySqlConnector(executor, context=context, timeouts=ConnectorTimeouts())
    result = await connector.database_sizes(["shop"])
    return {row.name: row.size_bytes for row in result.sizes}


@pytest.mark.parametrize(("version", "preferred", "other"), [
    (MYSQL_80, queries.TABLESPACES_80, queries.TABLESPACES_SYS),
    (MARIADB, queries.TABLESPACES_SYS, queries.TABLESPACES_80),
])
async def test_an_existing_empty_view_is_the_answer(context: ConnectorContext, version: str, preferred: str,
                                                    other: str) -> None:
    """The preferred view exists and is empty: sizes are 0, the other view (which has rows) is never read."""
    executor = ScriptedExecutor(version, {preferred: ResultSet(TABLESPACES),
                                          other: ResultSet(TABLESPACES, (("shop/orders", 4096),))})
    assert await _sizes(executor, context) == {"shop": 0}
    assert preferred in executor.statements and other not in executor.statements


async def test_a_missing_view_falls_back_once(context: ConnectorContext) -> None:
    executor = ScriptedExecutor(MYSQL_80, {
        queries.TABLESPACES_80: _missing_view(),
        queries.TABLESPACES_SYS: ResultSet(TABLESPACES, (("shop/orders", 4096), ("shop/items", 1024)))})
    assert await _sizes(executor, context) == {"shop": 5120}
    assert executor.statements.count(queries.TABLESPACES_SYS) == 1


async def test_other_errors_do_not_fall_back(context: ConnectorContext) -> None:
    """A permission problem on the preferred view is reported, not hidden behind the other view's rows."""
    denied = DriverError(ErrorClass.PERMISSION_DENIED, "PROCESS privilege required", driver_code=1227)
    executor = ScriptedExecutor(MYSQL_80, {queries.TABLESPACES_80: denied,
                                           queries.TABLESPACES_SYS: ResultSet(TABLESPACES, (("shop/t", 1),))})
    with pytest.raises(ConnectorError) as caught:
        await _sizes(executor, context)
    assert caught.value.error_class is ErrorClass.PERMISSION_DENIED
    assert queries.TABLESPACES_SYS not in executor.statements
