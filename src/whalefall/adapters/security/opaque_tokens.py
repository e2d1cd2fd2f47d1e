"""Opaque tokens from `secrets`: refresh tokens, API tokens, session ids and their SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from typing import Final

from whalefall.application.ports.security import OpaqueToken, TokenGenerator

REFRESH_PREFIX: Final = "wfr_"
API_PREFIX: Final = "wf_"
PUBLIC_ID_LENGTH: Final = 8
_SECRET_BYTES: Final = 32
# No `_` or `-` in public ids, so `wf_<id>_<secret>` splits unambiguously at the second underscore.
_PUBLIC_ID_ALPHABET: Final = string.ascii_lowercase + string.digits
_API_TOKEN: Final = re.compile(r"wf_([a-z0-9]{8})_([A-Za-z0-9_-]{43})")


class SecretsTokenGenerator(TokenGenerator):
    """32 random bytes per secret (base64url, 43 characters); digests are SHA-256 hex."""

    def refresh_token(self) -> OpaqueToken:
        plaintext = REFRESH_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
        return OpaqueToken(plaintext=plaintext, digest=_sha256(plaintext))

    def api_token(self) -> OpaqueToken:
        public_id = "".join(secrets.choice(_PUBLIC_ID_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        return OpaqueToken(plaintext=f"{API_PREFIX}{public_id}_{secret}", digest=_sha256(secret), public_id=public_id)

    def session_id(self) -> OpaqueToken:
        plaintext = secrets.token_urlsafe(_SECRET_BYTES)
        return OpaqueToken(plaintext=plaintext, digest=_sha256(plaintext))

    def random_id(self) -> str:
        return secrets.token_urlsafe(16)

    def digest(self, token: str) -> str:
        match = _API_TOKEN.fullmatch(token)
        return _sha256(match.group(2) if match else token)

    def digests_equal(self, left: str, right: str) -> bool:
        return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))


def split_api_token(token: str) -> tuple[str, str] | None:
    """(public id, secret) of a well-formed API token, else None."""
    match = _API_TOKEN.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
