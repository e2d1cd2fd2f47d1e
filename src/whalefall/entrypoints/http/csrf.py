"""CSRF for cookie sessions (api.md §4.7): synchronizer token on unsafe methods and the `Origin` check."""

from __future__ import annotations

import hmac
from typing import Any, Final

from litestar.connection import ASGIConnection

from whalefall.application.identity.browser_sessions import CsrfInvalidError, CsrfMissingError
from whalefall.entrypoints.settings import Settings

CSRF_HEADER: Final = "x-csrf-token"
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def allowed_origin(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> str:
    """`WHALEFALL_PUBLIC_ORIGIN` (`https://whalefall.example.com`), else the request's own origin."""
    configured = settings.get("public.origin", "").strip().rstrip("/")
    if configured:
        return configured.lower()
    host = connection.headers.get("host") or connection.url.netloc
    return f"{connection.scope.get('scheme', 'http')}://{host}".lower()


def check_origin(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> None:
    """An `Origin` header, when present, must be the public origin (else 403 CSRF_INVALID)."""
    origin = connection.headers.get("origin")
    if origin is not None and origin.strip().rstrip("/").lower() != allowed_origin(connection, settings):
        raise CsrfInvalidError("header.Origin")


def check_csrf(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings, expected: str) -> None:
    """For POST, PUT, PATCH and DELETE authenticated by the session cookie: `X-CSRF-Token` must equal the
    session's token (compared in constant time; missing → CSRF_MISSING, wrong → CSRF_INVALID) and the Origin
    must be allowed."""
    if connection.scope.get("method") not in UNSAFE_METHODS:
        return
    sent = connection.headers.get(CSRF_HEADER)
    if not sent:
        raise CsrfMissingError()
    if not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8")):
        raise CsrfInvalidError()
    check_origin(connection, settings)
