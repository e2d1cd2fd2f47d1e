"""Fixtures of the connector unit tests: a driver pool, a fixed clock and connectors over recorded catalogs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.sessions import SettableClock
from whalefall.adapters.connectors._shared import ConnectorContext
from whalefall.adapters.connectors._threads import DriverThreads


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def threads() -> Iterator[DriverThreads]:
    pool = DriverThreads(4)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def context(threads: DriverThreads, clock: SettableClock) -> ConnectorContext:
    return ConnectorContext(threads=threads, clock=clock)
