"""Providers of the connector registry (with the outbound allow-list), its driver thread pool and the connector
timeouts (APP scope), and of the connection-test use cases that need them (REQUEST scope)."""

from __future__ import annotations

from collections.abc import Iterator

from dishka import Provider, Scope, provide

from whalefall.adapters.connectors.registry import ConnectorOptions, ConnectorRegistry, DriverThreads
from whalefall.adapters.observability.metrics import MetricsRegistry, RegistryConnectorMetrics
from whalefall.application.instances.run_connection_test import RunConnectionTest
from whalefall.application.instances.start_connection_tests import StartConnectionTests
from whalefall.application.instances.test_connection import TestInstanceConnection
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import ConnectorFactory, ConnectorTimeouts
from whalefall.entrypoints.settings import Settings


class ConnectorsProvider(Provider):
    scope = Scope.APP

    test_connection = provide(TestInstanceConnection, scope=Scope.REQUEST)
    start_connection_tests = provide(StartConnectionTests, scope=Scope.REQUEST)
    run_connection_test = provide(RunConnectionTest, scope=Scope.REQUEST)

    @provide
    def driver_threads(self, settings: Settings) -> Iterator[DriverThreads]:
        """One bounded pool per process for pymysql and pymssql (`worker.driver_threads`, default 40)."""
        threads = DriverThreads(settings.get("worker.driver_threads", 40))
        try:
            yield threads
        finally:
            threads.close()

    @provide
    def connectors(self, clock: Clock, threads: DriverThreads, settings: Settings,
                   registry: MetricsRegistry) -> ConnectorFactory:
        options = ConnectorOptions(
            pg_object_grants=settings.get("postgresql.object_grants", "schemas"),
            mysql_include_non_innodb=settings.get("capacity.mysql.include_non_innodb", True),
        )
        return ConnectorRegistry(clock=clock, threads=threads, options=options, outbound=settings.outbound_allow,
                                 metrics=RegistryConnectorMetrics(registry))

    @provide
    def timeouts(self, settings: Settings) -> ConnectorTimeouts:
        """Settings `connector.*` (seconds)."""
        return ConnectorTimeouts(
            connect_s=settings.get("connector.connect_timeout_s", 10.0),
            statement_s=settings.get("connector.statement_timeout_s", 300.0),
            test_statement_s=settings.get("connector.test_statement_timeout_s", 15.0),
            instance_deadline_s=settings.get("connector.instance_deadline_s", 900.0),
        )
