"""Bodies of the connection-test routes (api.md §2 ConnectionTestResult, capacity.md §2.4; the batch request)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from whalefall.application.instances.test_connection import ConnectionTestResult
from whalefall.application.ports.connectors import ServerInfo
from whalefall.domain.sessions.sessions import MAX_CONNECTION_TEST_TARGETS

InstanceIdIn = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class ConnectionTestsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /instances/actions/test-connections`: only registered instances, by id (no endpoint, no secret)."""

    instance_ids: Annotated[list[InstanceIdIn], Meta(min_length=1, max_length=MAX_CONNECTION_TEST_TARGETS)]


class ServerOut(msgspec.Struct, kw_only=True):
    flavor: str
    version: str | None
    version_major: int | None
    version_minor: int | None
    edition: str | None
    product: str | None
    raw: str

    @classmethod
    def of(cls, server: ServerInfo) -> ServerOut:
        return cls(flavor=server.flavor, version=server.version, version_major=server.version_major,
                   version_minor=server.version_minor, edition=server.edition, product=server.product,
                   raw=server.raw)


class ConnectionTestErrorOut(msgspec.Struct, kw_only=True, rename={"error_class": "class"}):
    code: str
    error_class: str
    retryable: bool
    message: str


class ConnectionTestResultOut(msgspec.Struct, kw_only=True):
    ok: bool
    latency_ms: int | None
    server: ServerOut | None
    warnings: list[str]
    missing_privileges: list[str]
    error: ConnectionTestErrorOut | None

    @classmethod
    def of(cls, result: ConnectionTestResult) -> ConnectionTestResultOut:
        error = result.error
        return cls(ok=result.ok, latency_ms=result.latency_ms,
                   server=ServerOut.of(result.server) if result.server is not None else None,
                   warnings=list(result.warnings), missing_privileges=list(result.missing_privileges),
                   error=None if error is None else ConnectionTestErrorOut(
                       code=error.code, error_class=error.error_class, retryable=error.retryable,
                       message=error.message))
