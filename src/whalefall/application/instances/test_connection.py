"""Test one registered instance's connection with its stored credential (api.md §3.5, capacity.md §2.4)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Final

from whalefall.application.instances.create_instance import load_instance
from whalefall.application.instances.credentials import associated_data
from whalefall.application.ports.audit import AuditEntry, AuditLog, AuditOutcome
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import (
    Connector,
    ConnectorError,
    ConnectorFactory,
    ConnectorTimeouts,
    ServerInfo,
)
from whalefall.application.ports.instances import CredentialRepository, InstanceRecord, InstanceRepository
from whalefall.application.ports.security import CredentialKeyMissingError, CredentialUnreadableError, SecretCipher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import ConnectionTarget, CredentialMissingError, InstanceId
from whalefall.domain.logs.redaction import Redactor
from whalefall.domain.sessions.backoff import ErrorClass, is_retryable

logger = logging.getLogger(__name__)

#: Oldest supported release per flavor (capacity.md §2.3); older servers work best effort with a warning.
MINIMUM_VERSIONS: Final = MappingProxyType({"mysql": (5, 7), "mariadb": (10, 4), "postgresql": (12, 0),
                                            "sqlserver": (11, 0), "oracle": (12, 0)})
VERSION_UNSUPPORTED: Final = "VERSION_UNSUPPORTED"
MAX_VERSION_RAW: Final = 2000
#: Margin of the outer deadline over connect + test statement timeouts (capacity.md §2.1).
OUTER_MARGIN_S: Final = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionTestError:
    code: str
    error_class: str
    retryable: bool
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionTestResult:
    """`ok` = connected and read the version; missing privileges and warnings do not make a test fail."""

    ok: bool
    latency_ms: int | None
    server: ServerInfo | None
    warnings: tuple[str, ...] = ()
    missing_privileges: tuple[str, ...] = ()
    error: ConnectionTestError | None = None


def version_warnings(server: ServerInfo) -> tuple[str, ...]:
    minimum = MINIMUM_VERSIONS.get(server.flavor)
    if minimum is None or server.version_major is None:
        return ()
    if (server.version_major, server.version_minor or 0) < minimum:
        return (f"{VERSION_UNSUPPORTED}: {server.flavor} {server.version} is older than "
                f"{minimum[0]}.{minimum[1]}; collection is best effort",)
    return ()


def _failure(exc: ConnectorError) -> ConnectionTestError:
    return ConnectionTestError(code=exc.error_code, error_class=exc.error_class.value, retryable=exc.retryable,
                               message=exc.message)


def _setup_failure(code: str, message: str) -> ConnectionTestError:
    return ConnectionTestError(code=code, error_class=ErrorClass.CONFIG_ERROR.value, retryable=False, message=message)


@dataclass(frozen=True, slots=True)
class ConnectionProber:
    """The steps one connection test takes, shared by the synchronous route and the `connection_test` record work:
    build the target from the stored endpoint and credential, probe it under the test deadline, write the contact
    fields. Never commits; reads of the metadata store happen before any remote I/O."""

    instances: InstanceRepository
    credentials: CredentialRepository
    cipher: SecretCipher
    connectors: ConnectorFactory
    timeouts: ConnectorTimeouts
    redactor: Redactor
    clock: Clock

    async def target(self, instance: InstanceRecord) -> ConnectionTarget | ConnectionTestError:
        """The target, or a CONFIG_ERROR result for a missing or undecryptable credential."""
        if instance.credential is None:
            return _setup_failure(CredentialMissingError.code, CredentialMissingError.default_message)
        credential = await self.credentials.get(instance.credential.id)
        encrypted = await self.credentials.get_secret(instance.credential.id)
        if credential is None or encrypted is None:
            return _setup_failure(CredentialMissingError.code, CredentialMissingError.default_message)
        try:
            secret = self.cipher.decrypt(encrypted, associated_data=associated_data(credential.id))
        except (CredentialKeyMissingError, CredentialUnreadableError) as exc:
            return _setup_failure(exc.code, exc.message)
        return ConnectionTarget(instance_id=instance.id, db_type=instance.db_type, host=instance.host,
                                port=instance.port, database_name=instance.database_name,
                                username=credential.username, secret=secret, auth_method=credential.auth_method)

    async def test(self, target_or_error: ConnectionTarget | ConnectionTestError) -> ConnectionTestResult:
        """Probe the target (the secret registered with the log redactor meanwhile); a setup error is the result."""
        if isinstance(target_or_error, ConnectionTestError):
            return ConnectionTestResult(ok=False, latency_ms=None, server=None, error=target_or_error)
        with self.redactor.live_secret(target_or_error.secret.reveal()):
            return await self._probe(target_or_error)

    async def _probe(self, target: ConnectionTarget) -> ConnectionTestResult:
        timeouts = replace(self.timeouts, statement_s=self.timeouts.test_statement_s)
        deadline = timeouts.connect_s + timeouts.test_statement_s + OUTER_MARGIN_S
        started = self.clock.now()
        probe = _Probe(started)
        try:
            async with asyncio.timeout(deadline):
                async with self.connectors.open(target, timeouts) as connector:
                    await probe.run(connector, self.clock)
        except ConnectorError as exc:
            return probe.result(error=_failure(exc))
        except TimeoutError:
            return probe.result(error=ConnectionTestError(
                code=ErrorClass.TIMEOUT.value, error_class=ErrorClass.TIMEOUT.value,
                retryable=is_retryable(ErrorClass.TIMEOUT),
                message=f"the connection test did not finish within {deadline:g} s"))
        except Exception:       # a test always answers; the traceback goes to the log, not to the caller
            logger.exception("connection test of instance %s failed unexpectedly", target.instance_id)
            return probe.result(error=ConnectionTestError(
                code=ErrorClass.INTERNAL.value, error_class=ErrorClass.INTERNAL.value, retryable=False,
                message="unexpected error during the connection test"))
        return probe.result(error=None)

    async def record_contact(self, instance: InstanceRecord, result: ConnectionTestResult, *,
                             by: int | None) -> None:
        """Contact fields always; version fields and `last_success_at` only on success."""
        now = self.clock.now()
        values: dict[str, object] = {"last_contact_at": now, "last_contact_ok": result.ok,
                                     "last_contact_error_code": result.error.code if result.error else None}
        if result.ok and result.server is not None:
            server = result.server
            values.update({"flavor": server.flavor, "version": server.version,
                           "version_major": server.version_major, "version_minor": server.version_minor,
                           "edition": server.edition, "version_raw": server.raw[:MAX_VERSION_RAW],
                           "last_success_at": now})
        await self.instances.update(instance.id, values, at=now, by=by)


@dataclass(frozen=True, slots=True)
class TestInstanceConnection:
    """Connect to a registered instance (active or inactive; soft-deleted → 404) with its stored endpoint and
    credential, read the version live, run the capability probe (inventory and one size read, results discarded)
    and list the collector privileges it lacks. Needs `instances:write`.

    The outcome is data, never an HTTP error: a failed connect, a missing credential (CREDENTIAL_MISSING), an
    undecryptable one (CREDENTIAL_KEY_MISSING, CREDENTIAL_UNREADABLE) or an endpoint outside
    `WHALEFALL_OUTBOUND_ALLOW` (OUTBOUND_NOT_ALLOWED, never contacted) are results with `ok=false` and an error of
    class CONFIG_ERROR or the connector's class. Contact fields are written by every test (a test that could not
    start is a failed contact); version fields and `last_success_at` only on success. Each statement is bounded
    by the test statement timeout and the whole test by connect + test statement + 5 s. One audit event
    `instance.test_connection` with host and port; the plaintext secret is registered with the log redactor
    while the connection is open. The per-instance rate limit (api.md §4.8) is the HTTP entrypoint's.
    """

    __test__ = False    # not a pytest class despite its name

    instances: InstanceRepository
    credentials: CredentialRepository
    cipher: SecretCipher
    connectors: ConnectorFactory
    timeouts: ConnectorTimeouts
    redactor: Redactor
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, instance_id: InstanceId) -> ConnectionTestResult:
        actor.require(Permission.INSTANCES_WRITE)
        prober = ConnectionProber(self.instances, self.credentials, self.cipher, self.connectors, self.timeouts,
                                  self.redactor, self.clock)
        instance = await load_instance(self.instances, instance_id)
        result = await prober.test(await prober.target(instance))
        await prober.record_contact(instance, result, by=actor.user_id)
        details: dict[str, object] = {"host": instance.host, "port": instance.port, "ok": result.ok}
        if result.error is not None:
            details.update({"error_code": result.error.code, "error_class": result.error.error_class})
        await self.audit.record(AuditEntry(
            actor=actor, action="instance.test_connection", target_type="instance", target_id=str(instance.id),
            outcome=AuditOutcome.SUCCESS if result.ok else AuditOutcome.FAILURE, details=details))
        await self.uow.commit()
        return result


class _Probe:
    """What a test learned so far, so a failure after the version read still reports the server."""

    def __init__(self, started: datetime) -> None:
        self.started = started
        self.latency_ms: int | None = None
        self.server: ServerInfo | None = None
        self.warnings: list[str] = []
        self.missing: tuple[str, ...] = ()

    async def run(self, connector: Connector, clock: Clock) -> None:
        self.server = await connector.server_info()
        self.latency_ms = max(0, round((clock.now() - self.started).total_seconds() * 1000))
        self.warnings.extend((*self.server.warnings, *version_warnings(self.server)))
        try:
            names = await connector.list_databases()
            await connector.database_sizes(names[:1])
        except ConnectorError as exc:
            if exc.error_class is not ErrorClass.PERMISSION_DENIED:
                raise
            self.warnings.append(f"CAPABILITY_PROBE_FAILED: {exc.message}")
        self.missing = await connector.missing_collector_privileges()

    def result(self, *, error: ConnectionTestError | None) -> ConnectionTestResult:
        ok = error is None and self.server is not None
        return ConnectionTestResult(ok=ok, latency_ms=self.latency_ms, server=self.server,
                                    warnings=tuple(self.warnings), missing_privileges=self.missing, error=error)
