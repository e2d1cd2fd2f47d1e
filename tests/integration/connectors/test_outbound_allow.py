"""The outbound allow-list in the connector registry (api.md §4.11): a denied target is refused with CONFIG_ERROR
before any contact — a loopback listener counts the connections it accepts — names are resolved before the CIDRs
are checked, and an allowed target is contacted as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from tests.fakes.sessions import SettableClock
from tests.support.listeners import Listener, counting_listener
from whalefall.adapters.connectors.outbound import OUTBOUND_NOT_ALLOWED, system_resolver
from whalefall.adapters.connectors.registry import ConnectorRegistry, DriverThreads
from whalefall.application.ports.connectors import ConnectorError, ConnectorTimeouts
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, OutboundAllowList, SecretText
from whalefall.domain.sessions.backoff import ErrorClass

TIMEOUTS = ConnectorTimeouts(connect_s=2, statement_s=2, test_statement_s=2, instance_deadline_s=10)


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    async with counting_listener() as state:
        yield state


@dataclass
class FakeResolver:
    """Scripted DNS: name → addresses; unknown names fail like getaddrinfo; every lookup is recorded."""

    answers: dict[str, tuple[str, ...]]
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> tuple[str, ...]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"Name or service not known: {host}")
        return self.answers[host]


@pytest.fixture
def threads() -> Iterator[DriverThreads]:
    pool = DriverThreads(2)
    try:
        yield pool
    finally:
        pool.close()


def registry(threads: DriverThreads, allow: str, resolver: FakeResolver | None = None) -> ConnectorRegistry:
    return ConnectorRegistry(clock=SettableClock(), threads=threads, outbound=OutboundAllowList.parse(allow),
                             resolver=resolver or FakeResolver({}))


def target(host: str, port: int, engine: DbEngine = DbEngine.POSTGRESQL) -> ConnectionTarget:
    return ConnectionTarget(InstanceId(7), engine, host, port, "postgres", "collector", SecretText("Never-Sent-9"))


async def open_error(factory: ConnectorRegistry, where: ConnectionTarget) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        async with factory.open(where, TIMEOUTS):
            pytest.fail("must not connect")
    return caught.value


@pytest.mark.parametrize("engine", list(DbEngine))
async def test_a_denied_address_is_never_contacted(threads: DriverThreads, listener: Listener,
                                                   engine: DbEngine) -> None:
    error = await open_error(registry(threads, "10.0.0.0/8, *.db.internal"), target("127.0.0.1", listener.port, engine))
    assert (error.error_class, error.error_code, error.retryable) == (ErrorClass.CONFIG_ERROR, OUTBOUND_NOT_ALLOWED,
                                                                      False)
    assert "127.0.0.1" in error.message and "Never-Sent-9" not in error.message
    await asyncio.sleep(0.05)
    assert listener.accepted == []


async def test_an_allowed_address_is_contacted(threads: DriverThreads, listener: Listener) -> None:
    """The control for the test above: the same listener does see a connection when the target is allowed."""
    error = await open_error(registry(threads, "127.0.0.0/8"), target("127.0.0.1", listener.port))
    assert error.error_code != OUTBOUND_NOT_ALLOWED
    assert listener.accepted


async def test_a_name_is_resolved_before_the_cidrs_are_checked(threads: DriverThreads, listener: Listener) -> None:
    resolver = FakeResolver({"pg.example.test": ("127.0.0.1", "192.0.2.9")})
    error = await open_error(registry(threads, "127.0.0.0/8", resolver), target("pg.example.test", listener.port))
    assert error.error_code == OUTBOUND_NOT_ALLOWED and "192.0.2.9" in error.message
    assert resolver.asked == ["pg.example.test"] and listener.accepted == []


async def test_a_name_inside_the_networks_is_allowed(threads: DriverThreads, listener: Listener) -> None:
    resolver = FakeResolver({"localhost": ("127.0.0.1",)})
    error = await open_error(registry(threads, "127.0.0.0/8", resolver), target("localhost", listener.port))
    assert error.error_code != OUTBOUND_NOT_ALLOWED and resolver.asked == ["localhost"]


async def test_a_glob_match_needs_no_lookup_and_a_miss_without_networks_is_denied(threads: DriverThreads,
                                                                                  listener: Listener) -> None:
    resolver = FakeResolver({})
    factory = registry(threads, "*.db.internal, local*", resolver)
    error = await open_error(factory, target("pg.evil.example", 5432))
    assert error.error_code == OUTBOUND_NOT_ALLOWED and resolver.asked == []
    allowed = await open_error(factory, target("localhost", listener.port))
    assert allowed.error_code != OUTBOUND_NOT_ALLOWED and resolver.asked == [] and listener.accepted


async def test_an_unresolvable_name_is_unreachable_and_not_contacted(threads: DriverThreads) -> None:
    error = await open_error(registry(threads, "10.0.0.0/8"), target("nowhere.invalid", 5432))
    assert (error.error_class, error.retryable) == (ErrorClass.UNREACHABLE, True)


async def test_a_lookup_that_hangs_is_a_timeout_within_the_connect_timeout(threads: DriverThreads) -> None:
    async def hanging(host: str, port: int) -> tuple[str, ...]:
        await asyncio.sleep(60)
        return ()

    factory = ConnectorRegistry(clock=SettableClock(), threads=threads,
                                outbound=OutboundAllowList.parse("10.0.0.0/8"), resolver=hanging)
    quick = ConnectorTimeouts(connect_s=0.2, statement_s=1, test_statement_s=1, instance_deadline_s=5)
    with pytest.raises(ConnectorError) as caught:
        async with factory.open(target("slow.example.test", 5432), quick):
            pytest.fail("must not connect")
    assert caught.value.error_class is ErrorClass.TIMEOUT and "slow.example.test" in caught.value.message


async def test_the_system_resolver_answers_what_getaddrinfo_does() -> None:
    assert "127.0.0.1" in await system_resolver("127.0.0.1", 5432)
    with pytest.raises(OSError):
        await system_resolver("nowhere.invalid", 5432)

