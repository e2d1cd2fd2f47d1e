"""The outbound allow-list check every connector open goes through (api.md §4.11): resolve, decide, never contact
a denied target."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Final

from whalefall.application.ports.connectors import ConnectorError
from whalefall.domain.instances import ConnectionTarget, OutboundAllowList
from whalefall.domain.sessions.backoff import ErrorClass

#: The specific code of a refused target; its class is CONFIG_ERROR (not retryable: only a settings change helps).
OUTBOUND_NOT_ALLOWED: Final = "OUTBOUND_NOT_ALLOWED"

Resolver = Callable[[str, int], Awaitable[tuple[str, ...]]]
"""(host, port) → the addresses the drivers would try; raises OSError when the name cannot be resolved."""


async def system_resolver(host: str, port: int) -> tuple[str, ...]:
    """getaddrinfo through the event loop's executor (the same lookup the drivers make)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal(host: str) -> str | None:
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(candidate).compressed
    except ValueError:
        return None


class OutboundGuard:
    """Decides whether a target may be contacted. An address literal is checked against the networks; a host name
    that matches a glob is allowed without a lookup; any other name is resolved first and allowed only when every
    address it resolves to is inside the networks (the driver may pick any of them).

    Known limit: the driver resolves the name again when it connects, so a DNS answer that changes between the
    check and the connect (rebinding) is not caught; restrict by address (CIDRs of literal hosts) where that
    matters. A name that cannot be resolved is UNREACHABLE (retryable), as the driver would have reported it."""

    def __init__(self, allow: OutboundAllowList | None, *, resolver: Resolver = system_resolver) -> None:
        self._allow = allow
        self._resolver = resolver

    @property
    def allow(self) -> OutboundAllowList | None:
        return self._allow

    async def check(self, target: ConnectionTarget, *, resolve_timeout_s: float) -> None:
        """Return when the target may be contacted; raise ConnectorError (CONFIG_ERROR, code
        OUTBOUND_NOT_ALLOWED) when it may not. A lookup is bounded by `resolve_timeout_s` (TIMEOUT)."""
        allow = self._allow
        if allow is None or allow.matches_glob(target.host):
            return
        literal = _literal(target.host)
        if literal is not None:
            if allow.contains(literal):
                return
            raise self._denied(target, f"address {literal}")
        if not allow.networks:
            raise self._denied(target, "the host name matches no allowed glob")
        addresses = await self._resolve(target, resolve_timeout_s)
        if not allow.allows_resolved(addresses):
            outside = sorted(a for a in addresses if not allow.contains(a))
            raise self._denied(target, f"it resolves to {', '.join(outside[:5])}")

    async def _resolve(self, target: ConnectionTarget, timeout_s: float) -> tuple[str, ...]:
        try:
            async with asyncio.timeout(timeout_s):
                return await self._resolver(target.host, target.port)
        except TimeoutError as exc:
            raise ConnectorError(ErrorClass.TIMEOUT, f"resolving {target.host} did not finish within "
                                                     f"{timeout_s:g} s") from exc
        except OSError as exc:
            raise ConnectorError(ErrorClass.UNREACHABLE, f"{target.host} could not be resolved") from exc

    @staticmethod
    def _denied(target: ConnectionTarget, why: str) -> ConnectorError:
        return ConnectorError(ErrorClass.CONFIG_ERROR,
                              f"{target.host}:{target.port} is not allowed by WHALEFALL_OUTBOUND_ALLOW ({why})",
                              error_code=OUTBOUND_NOT_ALLOWED)
