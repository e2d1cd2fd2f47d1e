"""JwtAccessTokenCodec: claims, key ids, expiry against the caller's clock, and every kind of invalid token."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from whalefall.adapters.security.jwt_tokens import JwtAccessTokenCodec
from whalefall.adapters.security.key_files import Keyring
from whalefall.application.errors import TokenExpiredError, TokenInvalidError
from whalefall.application.ports.security import AccessClaims

T0 = datetime(2027, 5, 19, 3, 0, tzinfo=UTC)
OLD, NEW = secrets.token_bytes(32), secrets.token_bytes(48)


def claims(**changes: Any) -> AccessClaims:
    values: dict[str, Any] = {"user_id": 42, "issued_at": T0, "expires_at": T0 + timedelta(minutes=10),
                              "token_id": "jti-1", "security_stamp_hash": "sst-hash", "family_id": "fam-1"}
    return AccessClaims(**(values | changes))


def codec(active: str = "old", **keys: bytes) -> JwtAccessTokenCodec:
    return JwtAccessTokenCodec(Keyring(active, keys or {"old": OLD}))


def forge(payload: dict[str, Any], key: bytes = OLD, kid: str | None = "old", algorithm: str = "HS256") -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def valid_payload(**changes: Any) -> dict[str, Any]:
    payload = {"iss": "whalefall", "aud": "whalefall-api", "sub": "42", "iat": int(T0.timestamp()),
               "nbf": int(T0.timestamp()), "exp": int((T0 + timedelta(minutes=10)).timestamp()), "jti": "j",
               "typ": "access", "sst": "s"}
    return {key: value for key, value in (payload | changes).items() if value is not None}


def test_issue_and_decode() -> None:
    token = codec().issue(claims())
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "old", "typ": "JWT"}
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw == {"iss": "whalefall", "aud": "whalefall-api", "sub": "42", "iat": int(T0.timestamp()),
                   "nbf": int(T0.timestamp()), "exp": int(T0.timestamp()) + 600, "jti": "jti-1", "typ": "access",
                   "sst": "sst-hash", "fam": "fam-1"}
    assert codec().decode(token, now=T0 + timedelta(minutes=5)) == claims()
    assert codec().has_active_key


def test_family_is_optional() -> None:
    token = codec().issue(claims(family_id=None))
    assert "fam" not in jwt.decode(token, options={"verify_signature": False})
    assert codec().decode(token, now=T0).family_id is None


def test_expiry_is_checked_against_now_with_30_seconds_of_skew() -> None:
    token = codec().issue(claims())
    exp = T0 + timedelta(minutes=10)
    assert codec().decode(token, now=exp + timedelta(seconds=29)).user_id == 42
    with pytest.raises(TokenExpiredError):
        codec().decode(token, now=exp + timedelta(seconds=30))
    # A token long expired by the wall clock is still judged by the `now` it is given.
    old = codec().issue(claims(issued_at=T0 - timedelta(days=3000), expires_at=T0 - timedelta(days=2999)))
    with pytest.raises(TokenExpiredError):
        codec().decode(old, now=T0)


def test_not_yet_valid_tokens_are_invalid_beyond_the_skew() -> None:
    token = codec().issue(claims())
    assert codec().decode(token, now=T0 - timedelta(seconds=29)).user_id == 42
    with pytest.raises(TokenInvalidError):
        codec().decode(token, now=T0 - timedelta(seconds=31))


def test_previous_key_keeps_verifying_after_rotation() -> None:
    old_token = codec().issue(claims())
    rotated = codec("new", old=OLD, new=NEW)
    new_token = rotated.issue(claims())
    assert jwt.get_unverified_header(new_token)["kid"] == "new"
    assert rotated.decode(old_token, now=T0) == rotated.decode(new_token, now=T0) == claims()
    with pytest.raises(TokenInvalidError):
        codec().decode(new_token, now=T0)


@pytest.mark.parametrize("token", [
    "",
    "garbage",
    "a.b.c",
    forge(valid_payload(), key=secrets.token_bytes(32)),
    forge(valid_payload(aud="someone-else")),
    forge(valid_payload(iss="not-whalefall")),
    forge(valid_payload(typ="refresh")),
    forge(valid_payload(typ=None)),
    forge(valid_payload(sst=None)),
    forge(valid_payload(jti=None)),
    forge(valid_payload(sub="admin")),
    forge(valid_payload(sub="-1")),
    forge(valid_payload(fam=7)),
    forge(valid_payload(exp=None)),
    forge(valid_payload(), kid="unknown"),
    forge(valid_payload(), kid=None),
    forge(valid_payload(), key=OLD + OLD, algorithm="HS512"),
])
def test_invalid_tokens(token: str) -> None:
    with pytest.raises(TokenInvalidError):
        codec().decode(token, now=T0)


def test_alg_none_is_invalid() -> None:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    token = f"{part({'alg': 'none', 'kid': 'old'})}.{part(valid_payload())}."
    with pytest.raises(TokenInvalidError):
        codec().decode(token, now=T0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        codec().issue(claims(issued_at=datetime(2027, 5, 19)))
    with pytest.raises(ValueError):
        codec().decode(codec().issue(claims()), now=datetime(2027, 5, 19))
