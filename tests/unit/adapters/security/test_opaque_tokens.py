"""SecretsTokenGenerator: token formats, digests and constant-time comparison."""

from __future__ import annotations

import hashlib
import re

from whalefall.adapters.security.opaque_tokens import SecretsTokenGenerator, split_api_token

BASE64URL_43 = r"[A-Za-z0-9_-]{43}"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_api_token_format_and_digest_of_the_secret_part() -> None:
    generator = SecretsTokenGenerator()
    token = generator.api_token()
    assert re.fullmatch(rf"wf_[a-z0-9]{{8}}_{BASE64URL_43}", token.plaintext)
    assert token.public_id == token.plaintext[3:11]
    secret = token.plaintext[12:]
    assert token.digest == sha256(secret)
    assert generator.digest(token.plaintext) == token.digest
    assert split_api_token(token.plaintext) == (token.public_id, secret)
    assert split_api_token("wf_short_x") is None


def test_refresh_token_format() -> None:
    generator = SecretsTokenGenerator()
    token = generator.refresh_token()
    assert re.fullmatch(rf"wfr_{BASE64URL_43}", token.plaintext)
    assert token.public_id is None
    assert token.digest == sha256(token.plaintext) == generator.digest(token.plaintext)


def test_session_ids_and_random_ids() -> None:
    generator = SecretsTokenGenerator()
    session = generator.session_id()
    assert re.fullmatch(BASE64URL_43, session.plaintext)
    assert session.digest == generator.digest(session.plaintext)
    ids = {generator.random_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22,}", value) for value in ids)


def test_tokens_are_unique_and_digests_stable() -> None:
    generator = SecretsTokenGenerator()
    tokens = [generator.api_token() for _ in range(50)]
    assert len({t.plaintext for t in tokens}) == 50
    assert generator.digest("anything") == generator.digest("anything") == sha256("anything")


def test_digests_equal() -> None:
    generator = SecretsTokenGenerator()
    digest = generator.digest("x")
    assert generator.digests_equal(digest, sha256("x"))
    assert not generator.digests_equal(digest, generator.digest("y"))
    assert not generator.digests_equal(digest, "")
