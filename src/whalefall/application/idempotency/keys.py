"""Claiming an idempotency key for a request and recording its outcome (api.md §1.14).

Decisions where the spec is silent: the principal is the user (`user:<id>`, whichever way they authenticated:
access token or browser session) or the API token (`api_token:<id>`), so a client that refreshed its access token
still gets its replay; an unfinished claim blocks the key for `lock_s` (300 s) and is then taken over, so a
process that died mid-request does not hold the key for the whole retention.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.idempotency import (
    KEY_FIELD,
    ClaimResult,
    IdempotencyClaim,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    IdempotencyStore,
    StoredResponse,
)
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.domain.errors import Problem

KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
#: Answers that are not stored, so the client may retry with the same key (§1.14); 5xx are never stored either.
_NOT_STORED: Final = frozenset({401, 403, 429})
#: Headers of an answer replayed with it; the rest (request id, cache and CORS headers) belong to each request.
REPLAYED_HEADERS: Final = frozenset({"content-type", "location", "content-disposition"})


def key_problems(value: str | None) -> list[Problem]:
    """The problems of an `Idempotency-Key` header value (none when absent or valid)."""
    if value is None:
        return []
    if not value:
        return [Problem(KEY_FIELD, "too_short", "must be at least 1 character", {"min": 1})]
    if len(value) > 128:
        return [Problem(KEY_FIELD, "too_long", "must be at most 128 characters", {"max": 128})]
    if KEY_PATTERN.fullmatch(value) is None:
        return [Problem(KEY_FIELD, "invalid_format", "only letters, digits and _ . : - are allowed")]
    return []


def principal_of(actor: Actor) -> str:
    if actor.actor_type is ActorType.API_TOKEN:
        return f"api_token:{actor.token_id}"
    if actor.user_id is not None:
        return f"user:{actor.user_id}"
    return f"{actor.actor_type.value}:{actor.name}"


def _digest(parts: Iterable[str | bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        # Length-prefixed, so no two different part lists hash the same bytes.
        sha.update(len(data).to_bytes(8, "big"))
        sha.update(data)
    return sha.hexdigest()


def scope_digest(*, principal: str, method: str, route: str, path_params: Mapping[str, object], key: str) -> str:
    """SHA-256 of the key's scope: principal, method, route template, path parameters and the key."""
    params = "&".join(f"{name}={path_params[name]}" for name in sorted(path_params))
    return _digest((principal, method.upper(), route, params, key))


def fingerprint(*, method: str, path: str, query_string: str, body: bytes) -> str:
    """SHA-256 of method, path, the query string with its pairs sorted, and the raw body bytes."""
    query = "&".join(sorted(pair for pair in query_string.split("&") if pair))
    return _digest((method.upper(), path, query, body))


def is_stored(status: int) -> bool:
    """2xx and 4xx answers are stored, except 401, 403 and 429 (and 409 IDEMPOTENCY_IN_PROGRESS, which never
    runs under a claim); 5xx are not, so the client may retry."""
    return 200 <= status < 300 or (400 <= status < 500 and status not in _NOT_STORED)


@dataclass(frozen=True, slots=True, kw_only=True)
class IdempotentRequest:
    actor: Actor
    key: str
    method: str
    route: str
    path: str
    path_params: Mapping[str, object]
    query_string: str
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedKey:
    """Proof that this request owns its key: pass it to FinishIdempotentRequest once the answer is known."""

    scope_digest: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class BeginIdempotentRequest:
    """Claims the request's key before the route runs. Returns the ClaimedKey, or the stored answer to replay
    unchanged (nothing runs again). Same key with another request → IdempotencyKeyReusedError (422); same key
    while the first request runs → IdempotencyInProgressError (409). Keys live `ttl_s` (24 h) from the claim."""

    store: IdempotencyStore
    clock: Clock
    ttl_s: int = 86_400
    lock_s: int = 300

    async def execute(self, data: IdempotentRequest) -> ClaimedKey | StoredResponse:
        now = self.clock.now()
        principal = principal_of(data.actor)
        claim = IdempotencyClaim(
            scope_digest=scope_digest(principal=principal, method=data.method, route=data.route,
                                      path_params=data.path_params, key=data.key),
            fingerprint=fingerprint(method=data.method, path=data.path, query_string=data.query_string,
                                    body=data.body),
            principal=principal, method=data.method.upper(), route=data.route, now=now,
            locked_until=now + timedelta(seconds=self.lock_s), expires_at=now + timedelta(seconds=self.ttl_s))
        outcome = await self.store.claim(claim)
        if outcome.result is ClaimResult.MISMATCH:
            raise IdempotencyKeyReusedError()
        if outcome.result is ClaimResult.IN_PROGRESS:
            raise IdempotencyInProgressError()
        if outcome.result is ClaimResult.REPLAY:
            assert outcome.replay is not None
            return outcome.replay
        return ClaimedKey(scope_digest=claim.scope_digest, fingerprint=claim.fingerprint)


@dataclass(frozen=True, slots=True)
class FinishIdempotentRequest:
    """Stores the answer of a claimed request when its status is one that is stored (`is_stored`), else frees
    the key. Only the REPLAYED_HEADERS are kept."""

    store: IdempotencyStore
    clock: Clock

    async def execute(self, claimed: ClaimedKey, status: int, headers: Mapping[str, str], body: bytes) -> None:
        if not is_stored(status):
            await self.store.release(claimed.scope_digest, claimed.fingerprint)
            return
        kept = {name.lower(): value for name, value in headers.items() if name.lower() in REPLAYED_HEADERS}
        await self.store.complete(claimed.scope_digest, claimed.fingerprint,
                                  StoredResponse(status=status, headers=kept, body=body), at=self.clock.now())
