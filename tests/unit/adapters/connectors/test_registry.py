"""The typed engine registry covers every DbEngine and refuses what an engine's driver cannot do."""

from __future__ import annotations

import pytest

from tests.fakes.sessions import SettableClock
from whalefall.adapters.connectors._threads import DriverThreads
from whalefall.adapters.connectors.registry import _ENGINES, ConnectorRegistry
from whalefall.application.ports.connectors import Capability, ConnectorError, ConnectorTimeouts
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, SecretText
from whalefall.domain.sessions.backoff import ErrorClass


def test_every_engine_has_an_entry_with_account_and_size_capabilities() -> None:
    assert set(_ENGINES) == set(DbEngine)
    registry = ConnectorRegistry(clock=SettableClock(), threads=DriverThreads(1))
    for engine in DbEngine:
        capabilities = registry.capabilities(engine)
        assert {Capability.ACCOUNTS, Capability.ROLE_GRAPH, Capability.DATABASE_SIZES} <= capabilities
    assert Capability.LOG_SIZES in registry.capabilities(DbEngine.SQLSERVER)
    assert Capability.LOG_SIZES not in registry.capabilities(DbEngine.POSTGRESQL)


@pytest.mark.parametrize("engine", [DbEngine.MYSQL, DbEngine.POSTGRESQL, DbEngine.ORACLE])
async def test_windows_credentials_are_refused_before_any_contact(engine: DbEngine) -> None:
    registry = ConnectorRegistry(clock=SettableClock(), threads=DriverThreads(1))
    target = ConnectionTarget(InstanceId(1), engine, "192.0.2.1", 1, "db", "CORP\\svc", SecretText("pw"),
                              auth_method="windows")
    with pytest.raises(ConnectorError) as caught:
        async with registry.open(target, ConnectorTimeouts(connect_s=0.1)):
            pytest.fail("must not connect")
    assert caught.value.error_class is ErrorClass.CONFIG_ERROR and not caught.value.retryable
