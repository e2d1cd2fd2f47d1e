"""Real-driver failure paths of all four connectors, against loopback sockets only (no database server needed):
a closed port is UNREACHABLE, a listener that accepts and never answers is TIMEOUT within connect timeout + 5 s."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from whalefall.adapters.connectors.registry import ConnectorRegistry
from whalefall.application.ports.connectors import ConnectorError, ConnectorTimeouts
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, SecretText
from whalefall.domain.sessions.backoff import ErrorClass

CONNECT_S = 1.0
TIMEOUTS = ConnectorTimeouts(connect_s=CONNECT_S, statement_s=2, test_statement_s=2, instance_deadline_s=10)
DATABASES = {DbEngine.MYSQL: None, DbEngine.POSTGRESQL: "postgres", DbEngine.SQLSERVER: "master",
             DbEngine.ORACLE: "orclpdb1"}
PASSWORD = "Never-Logged-pw-9"


def target(engine: DbEngine, port: int) -> ConnectionTarget:
    return ConnectionTarget(InstanceId(1), engine, "127.0.0.1", port, DATABASES[engine], "whalefall",
                            SecretText(PASSWORD))


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """The kernel completes the handshake for the backlog; nothing is ever read or written."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


async def connect_error(registry: ConnectorRegistry, engine: DbEngine, port: int) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        async with registry.open(target(engine, port), TIMEOUTS):
            pytest.fail("must not connect")
    assert PASSWORD not in caught.value.message
    return caught.value


@pytest.mark.parametrize("engine", list(DbEngine))
async def test_closed_port_is_unreachable(registry: ConnectorRegistry, engine: DbEngine, closed_port: int) -> None:
    error = await connect_error(registry, engine, closed_port)
    assert error.error_class is ErrorClass.UNREACHABLE and error.retryable


@pytest.mark.parametrize("engine", list(DbEngine))
async def test_silent_listener_times_out_within_the_outer_deadline(registry: ConnectorRegistry, engine: DbEngine,
                                                                   silent_listener: int) -> None:
    started = time.monotonic()
    error = await connect_error(registry, engine, silent_listener)
    elapsed = time.monotonic() - started
    assert error.error_class is ErrorClass.TIMEOUT and error.retryable
    # PostgreSQL's libpq rounds connect_timeout up to 2 s; every engine stays inside connect + 5 s.
    assert elapsed < max(CONNECT_S, 2) + 5 + 1, elapsed
