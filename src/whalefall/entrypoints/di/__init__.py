"""The only composition root: builds the dishka container from Settings (STYLE.md §7)."""

from __future__ import annotations

from dishka import STRICT_VALIDATION, AsyncContainer, Provider, Scope, from_context, make_async_container

from whalefall.entrypoints.di.access import AccessProvider
from whalefall.entrypoints.di.accounts import AccountsProvider
from whalefall.entrypoints.di.capacity import CapacityProvider
from whalefall.entrypoints.di.classification import ClassificationProvider
from whalefall.entrypoints.di.connectors import ConnectorsProvider
from whalefall.entrypoints.di.coordination import CoordinationProvider
from whalefall.entrypoints.di.dashboard import DashboardProvider
from whalefall.entrypoints.di.idempotency import IdempotencyProvider
from whalefall.entrypoints.di.messaging import MessagingProvider
from whalefall.entrypoints.di.observability import ObservabilityProvider
from whalefall.entrypoints.di.operations import OperationsProvider
from whalefall.entrypoints.di.persistence import PersistenceProvider
from whalefall.entrypoints.di.security import SecurityProvider
from whalefall.entrypoints.di.sessions import SessionsProvider
from whalefall.entrypoints.di.use_cases import UseCasesProvider
from whalefall.entrypoints.settings import Settings


class SettingsProvider(Provider):
    settings = from_context(provides=Settings, scope=Scope.APP)


def make_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    """APP scope: engines, keyrings, codecs; REQUEST scope: unit of work, repositories, use cases."""
    return make_async_container(
        SettingsProvider(), PersistenceProvider(), SecurityProvider(), UseCasesProvider(), ObservabilityProvider(),
        MessagingProvider(), SessionsProvider(), AccountsProvider(), ClassificationProvider(),
        CoordinationProvider(), OperationsProvider(), ConnectorsProvider(), CapacityProvider(), AccessProvider(),
        IdempotencyProvider(), DashboardProvider(),
        *overrides,
        context={Settings: settings}, validation_settings=STRICT_VALIDATION,
    )
