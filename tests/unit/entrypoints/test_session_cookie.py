"""Session cookie settings (api.md §4.7): the loopback exception, SameSite=None needs Secure (start-up fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from litestar.connection import ASGIConnection
from litestar.types import HTTPScope

from whalefall.entrypoints.http.session_cookie import SessionCookiePolicy
from whalefall.entrypoints.settings import Settings, SettingsError


def _settings(tmp_path: Path, **extra: str) -> Settings:
    return Settings.from_environ({"WHALEFALL_DATA_DIR": str(tmp_path), **extra})


def _connection(url: str) -> ASGIConnection[Any, Any, Any, Any]:
    scheme, _, rest = url.partition("://")
    host = rest.split("/")[0]
    scope: dict[str, Any] = {"type": "http", "scheme": scheme, "path": "/api/v1/auth/session", "query_string": b"",
                             "headers": [(b"host", host.encode())], "server": None, "root_path": ""}
    return ASGIConnection(cast(HTTPScope, scope))


@pytest.mark.parametrize(("url", "secure"), [
    ("http://127.0.0.1:8080", False), ("http://localhost:8080", False), ("http://[::1]:8080", False),
    ("https://127.0.0.1:8080", True), ("http://10.0.0.5:8080", True), ("http://whalefall.example.com", True),
])
def test_embedded_mode_on_loopback_http_defaults_to_not_secure(tmp_path: Path, url: str, secure: bool) -> None:
    policy = SessionCookiePolicy.from_settings(_settings(tmp_path))
    assert policy.embedded and policy.secure is None
    assert policy.secure_for(_connection(url)) is secure


def test_production_mode_is_secure_even_on_loopback(tmp_path: Path) -> None:
    policy = SessionCookiePolicy.from_settings(_settings(tmp_path, WHALEFALL_DATABASE_URL="postgresql+psycopg://x/y"))
    assert policy.secure_for(_connection("http://127.0.0.1:8080")) is True
    assert (policy.httponly, policy.samesite) == (True, "strict")


def test_samesite_none_without_secure_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        SessionCookiePolicy.from_settings(_settings(tmp_path, WHALEFALL_SESSION_COOKIE_SAMESITE="none",
                                                    WHALEFALL_SESSION_COOKIE_SECURE="false"))
    assert raised.value.problems[0].field == "session.cookie_samesite"
    with pytest.raises(SettingsError):
        SessionCookiePolicy.from_settings(_settings(tmp_path, WHALEFALL_SESSION_COOKIE_SAMESITE="sometimes"))
    policy = SessionCookiePolicy.from_settings(_settings(tmp_path, WHALEFALL_SESSION_COOKIE_SAMESITE="none"))
    assert policy.secure is True and policy.secure_for(_connection("http://127.0.0.1")) is True
