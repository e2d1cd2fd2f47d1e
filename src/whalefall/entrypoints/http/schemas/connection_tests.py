"""Response body of the connection-test route (api.md §2 ConnectionTestResult, capacity.md §2.4)."""

from __future__ import annotations

import msgspec

from whalefall.application.instances.test_connection import ConnectionTestResult
from whalefall.application.ports.connectors import ServerInfo


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
