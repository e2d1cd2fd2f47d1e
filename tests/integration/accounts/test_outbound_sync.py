"""An account sync of an instance outside WHALEFALL_OUTBOUND_ALLOW fails with CONFIG_ERROR (so its record fails
with that class), never contacts the target and writes nothing (api.md §4.11)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.listeners import Listener, counting_listener
from tests.unit.application.accounts.harness import SyncHarness
from whalefall.adapters.clock import SystemClock
from whalefall.adapters.connectors.outbound import OUTBOUND_NOT_ALLOWED
from whalefall.adapters.connectors.registry import ConnectorRegistry, DriverThreads
from whalefall.application.ports.connectors import ConnectorError
from whalefall.domain.instances import DbEngine, OutboundAllowList
from whalefall.domain.sessions.backoff import ErrorClass


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    async with counting_listener() as state:
        yield state


@pytest.fixture
def guarded(ledger: SyncHarness) -> Iterator[SyncHarness]:
    threads = DriverThreads(2)
    ledger.real_connectors = ConnectorRegistry(clock=SystemClock(), threads=threads,
                                               outbound=OutboundAllowList.parse("10.0.0.0/8, *.corp.internal"))
    try:
        yield ledger
    finally:
        threads.close()


@pytest.mark.parametrize("engine", [DbEngine.MYSQL, DbEngine.POSTGRESQL])
async def test_a_sync_outside_the_allow_list_fails_config_error_without_contact(
        guarded: SyncHarness, listener: Listener, engine: DbEngine) -> None:
    instance = await guarded.add_instance("outside", db_type=engine, host="127.0.0.1", port=listener.port,
                                          database_name="postgres" if engine is DbEngine.POSTGRESQL else None)
    before = await guarded.dump()
    with pytest.raises(ConnectorError) as caught:
        await guarded.sync(instance)
    assert (caught.value.error_class, caught.value.error_code) == (ErrorClass.CONFIG_ERROR, OUTBOUND_NOT_ALLOWED)
    assert not caught.value.retryable
    assert listener.accepted == []
    assert await guarded.dump() == before
