"""Broker construction: taskiq's InMemoryBroker (embedded, tests) or taskiq-redis' RedisStreamBroker (production).

RedisStreamBroker: stream `whalefall:tasks`, one consumer group for every worker, a message acknowledged after the
task function returned (the receiver's `when_executed`), unacknowledged messages of a dead consumer re-claimed
after `broker.idle_timeout_ms`. A new group starts at the beginning of the stream, so messages enqueued before
the first worker started are not lost.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from taskiq import AsyncBroker, InMemoryBroker
from taskiq_redis import RedisStreamBroker

STREAM: Final = "whalefall:tasks"
CONSUMER_GROUP: Final = "whalefall-workers"


def in_memory_broker() -> AsyncBroker:
    """Executes kicked tasks in this process's event loop (no persistence: the reaper re-dispatches on restart)."""
    return InMemoryBroker(max_stored_results=100, propagate_exceptions=False)


def redis_stream_broker(url: str, *, idle_timeout_ms: int, consumer_name: str, stream: str = STREAM,
                        max_connections: int = 50) -> AsyncBroker:
    return RedisStreamBroker(url, queue_name=stream, consumer_group_name=CONSUMER_GROUP, consumer_name=consumer_name,
                             consumer_id="0", idle_timeout=idle_timeout_ms, max_connection_pool_size=max_connections,
                             xread_block=1000)


def is_in_memory(broker: AsyncBroker) -> bool:
    return isinstance(broker, InMemoryBroker)


async def ping_broker(broker: AsyncBroker, *, timeout_s: float = 2.0) -> bool:
    """True when the broker answers: always for the in-memory broker, a Redis PING otherwise."""
    pool: Any = getattr(broker, "connection_pool", None)
    if pool is None:
        return True
    try:
        async with asyncio.timeout(timeout_s):
            connection = await pool.get_connection()
            try:
                await connection.send_command("PING")
                reply = await connection.read_response()
            finally:
                await pool.release(connection)
    except Exception:  # redis-py's own errors cannot be named outside the redis adapter
        return False
    return reply in (b"PONG", "PONG", True)


async def broker_queue_depth(broker: AsyncBroker, *, timeout_s: float = 1.0) -> int | None:
    """Backlog of the stream's consumer group: entries not yet delivered (`lag`) plus delivered but unacknowledged
    ones (`pending`). 0 for the in-memory broker (it executes at once); None when Redis does not answer."""
    pool: Any = getattr(broker, "connection_pool", None)
    if pool is None:
        return 0
    try:
        async with asyncio.timeout(timeout_s):
            connection = await pool.get_connection()
            try:
                await connection.send_command("XINFO", "GROUPS", STREAM)
                groups = await connection.read_response()
            finally:
                await pool.release(connection)
    except Exception:  # no stream yet, or Redis down: the depth is unknown, never an error of the caller
        return None
    for group in groups or []:
        fields = dict(zip(group[::2], group[1::2], strict=False))
        name = fields.get(b"name", fields.get("name"))
        if name in (CONSUMER_GROUP, CONSUMER_GROUP.encode()):
            lag = fields.get(b"lag", fields.get("lag")) or 0
            pending = fields.get(b"pending", fields.get("pending")) or 0
            return int(lag) + int(pending)
    return None
