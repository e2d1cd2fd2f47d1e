"""RunConnectionTest: the `connection_test` record work — test one instance as the synchronous route does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from whalefall.application.instances.test_connection import ConnectionProber, ConnectionTestResult
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import ConnectorError, ConnectorFactory, ConnectorTimeouts
from whalefall.application.ports.instances import CredentialRepository, InstanceRepository
from whalefall.application.ports.security import SecretCipher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.domain.instances import InstanceId
from whalefall.domain.logs.redaction import Redactor
from whalefall.domain.sessions.backoff import ErrorClass
from whalefall.domain.sessions.records import RecordErrorCode


def _details(result: ConnectionTestResult) -> dict[str, object]:
    server: Mapping[str, object] | None = None
    if result.server is not None:
        server = {"flavor": result.server.flavor, "version": result.server.version,
                  "version_major": result.server.version_major, "version_minor": result.server.version_minor,
                  "edition": result.server.edition, "product": result.server.product}
    return {"ok": result.ok, "latency_ms": result.latency_ms, "server": server,
            "missing_privileges": list(result.missing_privileges)}


@dataclass(frozen=True, slots=True)
class RunConnectionTest(RecordWork):
    """One record of a batch connection test (capacity.md §2.4): the claim does not skip inactive instances (they
    are tested); an instance deleted since the claim → `skipped` INSTANCE_DELETED. The test reads the stored
    endpoint and credential, commits that read, probes under the test deadline (outbound allow-list included),
    then — after the fence, in one transaction — writes the contact fields like the synchronous route (version
    fields only on success). A successful test completes the record with `details` {ok, latency_ms, server,
    missing_privileges} and its warnings; a failed one fails the record with the test's error code and class
    (CONFIG_ERROR for a missing credential or a target outside the allow-list). Never retried (operations §1.1);
    no audit event per record (the request that queued the batch is audited)."""

    instances: InstanceRepository
    credentials: CredentialRepository
    cipher: SecretCipher
    connectors: ConnectorFactory
    timeouts: ConnectorTimeouts
    redactor: Redactor
    clock: Clock
    uow: UnitOfWork

    async def run(self, context: RecordContext) -> RecordResult:
        prober = ConnectionProber(self.instances, self.credentials, self.cipher, self.connectors, self.timeouts,
                                  self.redactor, self.clock)
        instance_id = context.record.instance_id
        instance = await self.instances.get(InstanceId(instance_id)) if instance_id is not None else None
        if instance is None or instance.deleted_at is not None:
            await self.uow.rollback()
            return RecordResult(skipped_code=RecordErrorCode.INSTANCE_DELETED.value)
        target = await prober.target(instance)
        await self.uow.rollback()       # no store transaction stays open across the remote test
        await context.check_cancel()
        result = await prober.test(target)
        await context.fence()
        await prober.record_contact(instance, result, by=context.session.created_by)
        await self.uow.commit()
        if result.error is not None:
            raise ConnectorError(ErrorClass(result.error.error_class), result.error.message,
                                 error_code=result.error.code)
        return RecordResult(details=_details(result),
                            warnings=[{"code": w.split(":", 1)[0], "message": w} for w in result.warnings])
