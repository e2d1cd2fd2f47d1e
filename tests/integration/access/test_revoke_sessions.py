"""`POST /users/{id}/actions/revoke-sessions` (api.md §3.3, §4.3 rule 5): it reports how many live browser sessions
and refresh families it ended, and each of them answers 401 TOKEN_REVOKED afterwards (§1.4)."""

from __future__ import annotations

from tests.integration.access.conftest import AccessApi, cookie_header, session_cookie_of
from tests.support.http_client import PASSWORD, bearer, data_of, error_of
from whalefall.domain.identity.roles import Role

ME = "/api/v1/auth/me"


async def _cookie(api: AccessApi, username: str) -> dict[str, str]:
    response = await api.client.post("/api/v1/auth/session", json={"username": username, "password": PASSWORD})
    data_of(response)
    api.client.cookies.clear()  # sent by hand: test clients keep Secure cookies off http
    return cookie_header(session_cookie_of(response))


async def test_revoke_sessions_counts_the_browser_sessions_it_ended(access_api: AccessApi) -> None:
    api = access_api
    target = await api.create_user("many-sessions", Role.OPERATOR)
    first, second = await _cookie(api, "many-sessions"), await _cookie(api, "many-sessions")
    tokens = await api.login("many-sessions")
    admin = await api.headers(Role.ADMIN)
    response = await api.client.post(f"/api/v1/users/{target.id}/actions/revoke-sessions", headers=admin)
    assert data_of(response) == {"revoked_sessions": 2, "revoked_refresh_families": 1}
    for cookie in (first, second):
        error_of(await api.client.get(ME, headers=cookie), 401, "TOKEN_REVOKED")
    error_of(await api.client.get(ME, headers=bearer(tokens["access_token"])), 401, "TOKEN_REVOKED")
    [event] = await api.rows("SELECT details FROM audit_events WHERE action = 'user.revoke_sessions'")
    assert '"revoked_sessions": 2' in str(event["details"]).replace("'", '"')
    again = await api.client.post(f"/api/v1/users/{target.id}/actions/revoke-sessions", headers=admin)
    assert data_of(again) == {"revoked_sessions": 0, "revoked_refresh_families": 0}


async def test_expired_ended_and_already_revoked_sessions_are_not_counted(access_api: AccessApi) -> None:
    """A session idle for more than 30 minutes, one already logged out, or one from before an earlier stamp
    rotation was not working any more: none is reported."""
    api = access_api
    target = await api.create_user("stale-sessions", Role.VIEWER)
    revoke = f"/api/v1/users/{target.id}/actions/revoke-sessions"
    await _cookie(api, "stale-sessions")
    api.clock.advance(minutes=31)
    admin = await api.headers(Role.ADMIN)
    earlier = await _cookie(api, "stale-sessions")
    assert data_of(await api.client.post(revoke, headers=admin))["revoked_sessions"] == 1
    logged_out = await _cookie(api, "stale-sessions")
    csrf = data_of(await api.client.get(ME, headers=logged_out))["csrf_token"]
    data_of(await api.client.delete("/api/v1/auth/session", headers={**logged_out, "X-CSRF-Token": csrf}))
    live = await _cookie(api, "stale-sessions")
    assert data_of(await api.client.post(revoke, headers=admin))["revoked_sessions"] == 1
    error_of(await api.client.get(ME, headers=live), 401, "TOKEN_REVOKED")
    error_of(await api.client.get(ME, headers=earlier), 401, "TOKEN_REVOKED")
