"""Cache contract: what every cache backend does, stated once (STYLE.md §11)."""

from __future__ import annotations

import asyncio

from whalefall.application.ports.cache import Cache


class CacheContract:
    """Behaviour every Cache shows. Subclasses provide the `cache` fixture."""

    async def test_a_value_is_read_back_until_it_expires(self, cache: Cache) -> None:
        assert await cache.get("dashboard:v1:instances") is None
        await cache.set("dashboard:v1:instances", '{"total": 0}', ttl_s=1)
        assert await cache.get("dashboard:v1:instances") == '{"total": 0}'
        await asyncio.sleep(1.2)
        assert await cache.get("dashboard:v1:instances") is None

    async def test_an_empty_text_is_a_value_not_a_miss(self, cache: Cache) -> None:
        await cache.set("empty", "", ttl_s=60)
        assert await cache.get("empty") == ""

    async def test_set_replaces_and_delete_removes(self, cache: Cache) -> None:
        await cache.set("k", "one", ttl_s=60)
        await cache.set("k", "two – ünïcode", ttl_s=60)
        assert await cache.get("k") == "two – ünïcode"
        await cache.delete("k", "unknown")
        await cache.delete()
        assert await cache.get("k") is None
