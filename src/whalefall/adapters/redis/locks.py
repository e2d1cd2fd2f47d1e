"""RedisLockManager: SET NX PX to acquire, Lua compare-and-extend / compare-and-delete (operations.md §3.4)."""

from __future__ import annotations

import uuid
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from whalefall.application.ports.locks import Lease, LockBackendUnavailableError, LockManager

# Both scripts act only when the key still holds this lease's token, so a lease that expired and was taken
# over by another owner can neither prolong nor delete the new holder's lock.
_EXTEND: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _ms(ttl_s: float) -> int:
    return max(1, round(ttl_s * 1000))


class RedisLockManager(LockManager):
    """Keys are `<prefix><name>` (`whalefall:lock:scheduler:leader`); the value is the lease token."""

    def __init__(self, client: Redis, *, prefix: str = "whalefall:lock:") -> None:
        self._client = client
        self._prefix = prefix
        self._extend = client.register_script(_EXTEND)
        self._release = client.register_script(_RELEASE)

    def _key(self, name: str) -> str:
        return self._prefix + name

    async def try_acquire(self, name: str, *, owner: str, ttl_s: float) -> Lease | None:
        lease = Lease(name=name, owner=owner, token=f"{owner}#{uuid.uuid4().hex}")
        try:
            acquired = await self._client.set(self._key(name), lease.token, nx=True, px=_ms(ttl_s))
        except (RedisError, OSError) as exc:
            raise LockBackendUnavailableError() from exc
        return lease if acquired else None

    async def extend(self, lease: Lease, *, ttl_s: float) -> bool:
        try:
            result = await self._extend(keys=[self._key(lease.name)], args=[lease.token, _ms(ttl_s)])
        except (RedisError, OSError) as exc:
            raise LockBackendUnavailableError() from exc
        return bool(result)

    async def release(self, lease: Lease) -> bool:
        try:
            result = await self._release(keys=[self._key(lease.name)], args=[lease.token])
        except (RedisError, OSError) as exc:
            raise LockBackendUnavailableError() from exc
        return bool(result)

    async def holder(self, name: str) -> str | None:
        try:
            value = await self._client.get(self._key(name))
        except (RedisError, OSError) as exc:
            raise LockBackendUnavailableError() from exc
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return text.rsplit("#", 1)[0]
