"""Readiness: required components of operations.md §8 (store, migrations, keys, not draining)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.ports.health import StoreProbe
from whalefall.application.ports.security import AccessTokenCodec, SecretCipher


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    name: str
    ok: bool
    required: bool = True


@dataclass(frozen=True, slots=True)
class CheckReadiness:
    """The store must answer within 2 s and be at the migration head; both key rings must be loaded; a draining
    process (SIGTERM received) is not ready. Probes carry names and statuses only."""

    store: StoreProbe
    cipher: SecretCipher
    codec: AccessTokenCodec

    async def execute(self, *, draining: bool) -> list[ComponentStatus]:
        reachable = await self.store.reachable(2.0)
        at_head = reachable and await self.store.at_migration_head()
        return [
            ComponentStatus("metadata_store", reachable),
            ComponentStatus("migrations", at_head),
            ComponentStatus("credential_keys", bool(self.cipher.active_key_id)),
            ComponentStatus("signing_keys", self.codec.has_active_key),
            ComponentStatus("process", not draining),
        ]
