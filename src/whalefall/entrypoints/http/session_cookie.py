"""The `whalefall_session` cookie (api.md §4.7): attributes from settings, validated at start-up."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from whalefall.domain.errors import Problem
from whalefall.entrypoints.settings import Settings, SettingsError

COOKIE_NAME: Final = "whalefall_session"
COOKIE_PATH: Final = "/api/v1"
SameSite = Literal["strict", "lax", "none"]


def _loopback(host: str) -> bool:
    """`127.0.0.1:8080`, `[::1]:8080`, `localhost` …"""
    name = (urlsplit(f"//{host}").hostname or "").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCookiePolicy:
    """`secure=None` is the default: Secure, except embedded mode serving plain http on a loopback address."""

    secure: bool | None
    httponly: bool
    samesite: SameSite
    embedded: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionCookiePolicy:
        """Raises SettingsError for an unknown SameSite value or `none` without Secure (start-up fails)."""
        secure = settings.get("session.cookie_secure", True) if "session.cookie_secure" in settings.raw else None
        samesite = settings.get("session.cookie_samesite", "strict").lower()
        if samesite not in ("strict", "lax", "none"):
            raise SettingsError([Problem("session.cookie_samesite", "invalid_choice", "must be strict, lax or none")])
        if samesite == "none" and secure is False:
            raise SettingsError([Problem("session.cookie_samesite", "policy",
                                         "SameSite=None requires WHALEFALL_SESSION_COOKIE_SECURE=true")])
        if samesite == "none":
            secure = True
        return cls(secure=secure, httponly=settings.get("session.cookie_httponly", True),
                   samesite=cast(SameSite, samesite), embedded=settings.embedded)

    def secure_for(self, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        if self.secure is not None:
            return self.secure
        host = connection.headers.get("host") or connection.url.netloc
        return not (self.embedded and connection.scope.get("scheme", "http") == "http" and _loopback(host))

    def cookie(self, connection: ASGIConnection[Any, Any, Any, Any], value: str, *, max_age: int) -> Cookie:
        return Cookie(key=COOKIE_NAME, value=value, path=COOKIE_PATH, max_age=max_age,
                      secure=self.secure_for(connection), httponly=self.httponly, samesite=self.samesite)

    def expired(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Cookie:
        return Cookie(key=COOKIE_NAME, value="", path=COOKIE_PATH, max_age=0, secure=self.secure_for(connection),
                      httponly=self.httponly, samesite=self.samesite)
