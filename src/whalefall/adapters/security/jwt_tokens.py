"""HS256 JWT access tokens with key ids through PyJWT (api.md §4.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt

from whalefall.adapters.security.key_files import SIGNING_KEY_MIN_BYTES, KeyFileError, Keyring
from whalefall.application.errors import TokenExpiredError, TokenInvalidError
from whalefall.application.ports.security import AccessClaims, AccessTokenCodec

ISSUER: Final = "whalefall"
AUDIENCE: Final = "whalefall-api"
TOKEN_TYPE: Final = "access"
ALGORITHM: Final = "HS256"
DEFAULT_LEEWAY: Final = timedelta(seconds=30)
_REQUIRED: Final = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "typ", "sst"]


class JwtAccessTokenCodec(AccessTokenCodec):
    """Signs with the active key (its id in the `kid` header); every loaded key keeps verifying until removed."""

    def __init__(self, keyring: Keyring, *, leeway: timedelta = DEFAULT_LEEWAY) -> None:
        for key_id, key in keyring.keys.items():
            if len(key) < SIGNING_KEY_MIN_BYTES:
                raise KeyFileError(f"Signing key {key_id!r} has {len(key)} bytes; at least 32 are required")
        self._keyring = keyring
        self._leeway = leeway.total_seconds()

    @property
    def has_active_key(self) -> bool:
        return self._keyring.active_id in self._keyring.keys

    def issue(self, claims: AccessClaims) -> str:
        """Raises ValueError for naive datetimes (their epoch would depend on the host's time zone)."""
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(claims.user_id),
            "iat": _epoch(claims.issued_at),
            "nbf": _epoch(claims.issued_at),
            "exp": _epoch(claims.expires_at),
            "jti": claims.token_id,
            "typ": TOKEN_TYPE,
            "sst": claims.security_stamp_hash,
        }
        if claims.family_id is not None:
            payload["fam"] = claims.family_id
        return jwt.encode(payload, self._keyring.active_key, algorithm=ALGORITHM,
                          headers={"kid": self._keyring.active_id})

    def decode(self, token: str, *, now: datetime) -> AccessClaims:
        """Signature, iss, aud and typ first (TokenInvalidError), then the times against `now` ± leeway."""
        payload = self._verified_payload(token)
        if payload.get("typ") != TOKEN_TYPE:
            raise TokenInvalidError("The token is not an access token")
        iat, nbf, exp = (_int_claim(payload, name) for name in ("iat", "nbf", "exp"))
        instant = _epoch_float(now)
        if instant + self._leeway < nbf or instant + self._leeway < iat:
            raise TokenInvalidError("The token is not valid yet")
        if instant - self._leeway >= exp:
            raise TokenExpiredError()
        sub, jti, sst, fam = payload["sub"], payload["jti"], payload["sst"], payload.get("fam")
        if not (isinstance(sub, str) and sub.isascii() and sub.isdigit()):
            raise TokenInvalidError("The token subject is not a user id")
        if not isinstance(jti, str) or not isinstance(sst, str) or not (fam is None or isinstance(fam, str)):
            raise TokenInvalidError("The token claims have the wrong types")
        return AccessClaims(
            user_id=int(sub),
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(exp, UTC),
            token_id=jti,
            security_stamp_hash=sst,
            family_id=fam,
        )

    def _verified_payload(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            key_id = header.get("kid")
            key = self._keyring.keys.get(key_id) if isinstance(key_id, str) else None
            if key is None:
                raise TokenInvalidError("The token was signed with an unknown key")
            # PyJWT checks times against its own clock; they are checked against the caller's `now` instead.
            return jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": _REQUIRED},
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalidError() from exc


def _epoch(moment: datetime) -> int:
    return int(_epoch_float(moment))


def _epoch_float(moment: datetime) -> float:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is required")
    return moment.timestamp()


def _int_claim(payload: dict[str, Any], name: str) -> int:
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenInvalidError(f"The {name} claim is not an integer")
    return value
