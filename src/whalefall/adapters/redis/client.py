"""The one way to open a redis-py asyncio client from a URL (short timeouts: coordination must fail fast)."""

from __future__ import annotations

from redis.asyncio import Redis


def connect_redis(url: str, *, timeout_s: float = 2.0) -> Redis:
    """A client for `redis://` / `rediss://` URLs; connections open lazily on the first command."""
    client: Redis = Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                   decode_responses=False)
    return client
