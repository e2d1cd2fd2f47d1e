"""Browser sessions and CSRF (api.md §4.7; defects 9, 10, 11, 16): server-side sessions in a hardened cookie, a
synchronizer token on unsafe methods, idle and absolute expiry, logout and disabling end them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.access.conftest import AccessApi, AccessFactory, cookie_header, session_cookie_of
from tests.support.http_client import PASSWORD, bearer, data_of, error_of
from whalefall.domain.identity.roles import Role

SESSION = "/api/v1/auth/session"
ME = "/api/v1/auth/me"


async def _browser_login(api: AccessApi, username: str, **headers: str) -> tuple[dict[str, str], dict[str, Any]]:
    response = await api.client.post(SESSION, json={"username": username, "password": PASSWORD}, headers=headers)
    data = data_of(response)
    api.client.cookies.clear()  # the cookie is sent by hand (test clients keep Secure cookies off http)
    return cookie_header(session_cookie_of(response)), data


async def test_session_cookie_is_hardened_and_the_id_stored_hashed(access_api: AccessApi) -> None:
    """Defect 11 (first half): default settings give HttpOnly, Secure, SameSite=Strict, Path=/api/v1."""
    api = access_api
    await api.create_user("browser-user", Role.VIEWER)
    response = await api.client.post(SESSION, json={"username": "browser-user", "password": PASSWORD})
    data = data_of(response)
    [set_cookie] = [h for h in response.headers.get_list("set-cookie") if h.startswith("whalefall_session=")]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in set_cookie.split(";")[1:]}
    assert attributes["path"] == "Path=/api/v1"
    assert "httponly" in attributes and "secure" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["max-age"] == "Max-Age=43200"
    token = session_cookie_of(response)
    assert set(data) == {"user", "csrf_token", "idle_expires_at", "expires_at"}
    assert token not in response.text
    [row] = await api.rows("SELECT session_digest, csrf_token FROM browser_sessions")
    assert row["session_digest"] != token and row["csrf_token"] == data["csrf_token"]
    api.client.cookies.clear()
    me = data_of(await api.client.get(ME, headers=cookie_header(token)))
    assert me["auth"]["method"] == "session" and me["csrf_token"] == data["csrf_token"]
    events = await api.rows("SELECT action, details FROM audit_events WHERE action = 'auth.login.success'")
    assert len(events) == 1


async def test_cookie_writes_need_the_csrf_token(access_api: AccessApi) -> None:
    """Defect 16: missing → 403 CSRF_MISSING, wrong → 403 CSRF_INVALID, foreign Origin → CSRF_INVALID; the token
    still works 11 hours into the session."""
    api = access_api
    await api.create_user("csrf-user", Role.VIEWER)
    cookie, data = await _browser_login(api, "csrf-user")
    body = {"display_name": "Changed"}
    error_of(await api.client.patch(ME, headers=cookie, json=body), 403, "CSRF_MISSING")
    error_of(await api.client.patch(ME, headers={**cookie, "X-CSRF-Token": "nope"}, json=body), 403, "CSRF_INVALID")
    good = {**cookie, "X-CSRF-Token": data["csrf_token"]}
    error_of(await api.client.patch(ME, headers={**good, "Origin": "https://evil.example"}, json=body), 403,
             "CSRF_INVALID")
    [row] = await api.rows("SELECT display_name FROM users WHERE username = 'csrf-user'")
    assert row["display_name"] is None
    assert data_of(await api.client.patch(ME, headers=good, json=body))["display_name"] == "Changed"
    assert data_of(await api.client.patch(ME, headers={**good, "Origin": "http://testserver.local"},
                                          json=body))["display_name"] == "Changed"
    for _ in range(11 * 3):
        api.clock.advance(minutes=20)
        assert (await api.client.get(ME, headers=cookie)).status_code == 200
    assert data_of(await api.client.patch(ME, headers=good, json={"display_name": "Later"}))["display_name"] == "Later"


async def test_a_session_ends_after_12_hours_even_when_used(access_api: AccessApi) -> None:
    """Defect 11 (second half): the absolute lifetime holds however active the session is."""
    api = access_api
    await api.create_user("busy-user", Role.VIEWER)
    cookie, _ = await _browser_login(api, "busy-user")
    for _ in range(12 * 6 - 1):
        api.clock.advance(minutes=10)
        assert (await api.client.get(ME, headers=cookie)).status_code == 200
    api.clock.advance(minutes=10)
    error_of(await api.client.get(ME, headers=cookie), 401, "SESSION_EXPIRED")


async def test_a_session_ends_after_30_idle_minutes(access_api: AccessApi) -> None:
    api = access_api
    await api.create_user("idle-user", Role.VIEWER)
    cookie, _ = await _browser_login(api, "idle-user")
    api.clock.advance(minutes=29)
    assert (await api.client.get(ME, headers=cookie)).status_code == 200
    api.clock.advance(minutes=29)
    assert (await api.client.get(ME, headers=cookie)).status_code == 200
    api.clock.advance(minutes=30, seconds=1)
    error_of(await api.client.get(ME, headers=cookie), 401, "SESSION_EXPIRED")


async def test_browser_logout_ends_the_session_server_side(access_api: AccessApi) -> None:
    """Defect 10: after DELETE /auth/session the old cookie answers 401."""
    api = access_api
    await api.create_user("leaving-user", Role.VIEWER)
    cookie, data = await _browser_login(api, "leaving-user")
    error_of(await api.client.delete(SESSION, headers=cookie), 403, "CSRF_MISSING")
    response = await api.client.delete(SESSION, headers={**cookie, "X-CSRF-Token": data["csrf_token"]})
    assert data_of(response) is None
    assert any(h.startswith("whalefall_session=") and "Max-Age=0" in h for h in response.headers.get_list("set-cookie"))
    error_of(await api.client.get(ME, headers=cookie), 401, "SESSION_EXPIRED")
    [row] = await api.rows("SELECT ended_at FROM browser_sessions")
    assert row["ended_at"] is not None


async def test_disabling_a_user_ends_every_kind_of_session(access_api: AccessApi) -> None:
    """Defect 9: the old access token, session cookie, refresh token and API token all answer 401."""
    api = access_api
    target = await api.create_user("doomed-user", Role.OPERATOR)
    tokens = await api.login("doomed-user")
    api_token = data_of(await api.client.post("/api/v1/api-tokens", headers=bearer(tokens["access_token"]),
                                              json={"name": "t", "scopes": ["instances:read"]}))["token"]
    cookie, _ = await _browser_login(api, "doomed-user")
    data_of(await api.client.patch(f"/api/v1/users/{target.id}", headers=await api.headers(Role.ADMIN),
                                   json={"is_active": False}))
    error_of(await api.client.get(ME, headers=bearer(tokens["access_token"])), 401, "TOKEN_REVOKED")
    error_of(await api.client.get(ME, headers=cookie), 401, "TOKEN_REVOKED")
    refresh = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    error_of(await api.client.get("/api/v1/instances", headers=bearer(api_token)), 401, "TOKEN_REVOKED")


async def test_a_new_login_gets_a_new_session_id(access_api: AccessApi) -> None:
    api = access_api
    await api.create_user("twice-user", Role.VIEWER)
    old_cookie, _ = await _browser_login(api, "twice-user")
    new_cookie, _ = await _browser_login(api, "twice-user", Cookie=old_cookie["Cookie"])
    assert new_cookie != old_cookie
    error_of(await api.client.get(ME, headers=old_cookie), 401, "SESSION_EXPIRED")
    assert (await api.client.get(ME, headers=new_cookie)).status_code == 200


async def test_authorization_header_wins_and_cookies_are_ignored(access_api: AccessApi) -> None:
    api = access_api
    await api.create_user("both-user", Role.VIEWER)
    cookie, _ = await _browser_login(api, "both-user")
    error_of(await api.client.get(ME, headers={**cookie, "Authorization": "Bearer not-a-token"}), 401,
             "TOKEN_INVALID")
    tokens = await api.login("both-user")
    patched = await api.client.patch(ME, headers={**cookie, **bearer(tokens["access_token"])},
                                     json={"display_name": "Bearer"})
    assert data_of(patched)["display_name"] == "Bearer"  # no CSRF for bearer requests
    error_of(await api.client.get(ME), 401, "AUTHENTICATION_REQUIRED")
    error_of(await api.client.get(ME, headers=cookie_header("unknown-session")), 401, "SESSION_EXPIRED")


async def test_browser_login_checks_the_origin(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_PUBLIC_ORIGIN="https://whalefall.example.com") as api:
        await api.create_user("origin-user", Role.VIEWER)
        login = {"username": "origin-user", "password": PASSWORD}
        error_of(await api.client.post(SESSION, json=login, headers={"Origin": "https://evil.example"}), 403,
                 "CSRF_INVALID")
        error_of(await api.client.post(SESSION, json=login, headers={"Origin": "http://testserver.local"}), 403,
                 "CSRF_INVALID")
        response = await api.client.post(SESSION, json=login, headers={"Origin": "https://whalefall.example.com"})
        data = data_of(response)
        api.client.cookies.clear()
        cookie = cookie_header(session_cookie_of(response))
        headers = {**cookie, "X-CSRF-Token": data["csrf_token"], "Origin": "https://whalefall.example.com"}
        assert data_of(await api.client.patch(ME, headers=headers, json={"display_name": "x"}))["display_name"] == "x"


async def test_cookie_attributes_follow_the_settings(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_SESSION_COOKIE_SECURE="false", WHALEFALL_SESSION_COOKIE_SAMESITE="lax",
                              WHALEFALL_SESSION_COOKIE_HTTPONLY="false",
                              WHALEFALL_SESSION_ABSOLUTE_TIMEOUT_S="3600") as api:
        await api.create_user("lax-user", Role.VIEWER)
        response = await api.client.post(SESSION, json={"username": "lax-user", "password": PASSWORD})
        data = data_of(response)
        [set_cookie] = [h for h in response.headers.get_list("set-cookie") if h.startswith("whalefall_session=")]
        lowered = set_cookie.lower()
        assert "secure" not in lowered and "httponly" not in lowered and "samesite=lax" in lowered
        assert "max-age=3600" in lowered
        assert data["expires_at"] == (api.clock.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
