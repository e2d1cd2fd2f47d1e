"""Per-instance account filter overrides (accounts.md §3): read, set and clear, each write an audit event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from whalefall.application.accounts.run_instance_sync import AccountFilterSettings
from whalefall.application.ports.accounts import AccountFilterOverride, AccountFilterOverrides
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import InstanceRecord, InstanceRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.accounts.filters import AccountFilter
from whalefall.domain.errors import NotFoundError, Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine, Flavor, InstanceId

MAX_PATTERNS: Final = 200
MAX_PATTERN_LENGTH: Final = 512


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectiveAccountFilter:
    """What the next sync of the instance applies, and the stored override it comes from (None: settings)."""

    instance_id: InstanceId
    filter: AccountFilter
    override: AccountFilterOverride | None


def _engine(instance: InstanceRecord) -> DbEngine:
    # MariaDB uses the MySQL entry of `accounts.filters` (RunInstanceSync does the same).
    return DbEngine.MYSQL if instance.flavor == Flavor.MARIADB else instance.db_type


def check_patterns(exclude: tuple[str, ...], *, prefix: str = "body.") -> None:
    """≤ 200 patterns of 1–512 characters each; 400 with `<prefix>exclude[i]` paths otherwise."""
    problems: list[Problem] = []
    if len(exclude) > MAX_PATTERNS:
        problems.append(Problem(f"{prefix}exclude", "too_long", f"at most {MAX_PATTERNS} patterns",
                                {"max": MAX_PATTERNS}))
    for index, pattern in enumerate(exclude):
        # Every text is a valid pattern (`[` without its closing pair is literal); only blank or huge ones are not.
        if not pattern.strip() or len(pattern) > MAX_PATTERN_LENGTH:
            problems.append(Problem(f"{prefix}exclude[{index}]", "invalid_pattern",
                                    f"a pattern has 1 to {MAX_PATTERN_LENGTH} non-blank characters"))
    if problems:
        raise ValidationProblemsError(problems)


async def _instance(instances: InstanceRepository, instance_id: InstanceId) -> InstanceRecord:
    instance = await instances.get(instance_id)
    if instance is None or instance.deleted_at is not None:
        raise NotFoundError("instance", instance_id)
    return instance


@dataclass(frozen=True, slots=True)
class GetAccountFilter:
    """The filter the next accounts sync of the instance applies: its override, else `accounts.filters.<engine>`,
    else the engine defaults. 404 for an unknown or deleted instance."""

    instances: InstanceRepository
    overrides: AccountFilterOverrides
    settings: AccountFilterSettings

    async def execute(self, actor: Actor, instance_id: InstanceId) -> EffectiveAccountFilter:
        actor.require(Permission.INSTANCES_READ)
        instance = await _instance(self.instances, instance_id)
        override = await self.overrides.get(instance_id)
        base = self.settings.for_engine(_engine(instance))
        return EffectiveAccountFilter(instance_id=instance_id, filter=self.settings.overridden(base, override),
                                      override=override)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAccountFilterInput:
    actor: Actor
    instance_id: InstanceId
    exclude: tuple[str, ...]
    exclude_oracle_maintained: bool | None = None
    field_prefix: str = "body."


@dataclass(frozen=True, slots=True)
class SetAccountFilter:
    """Store the instance's override (instances:write): `exclude` replaces the engine's list for this instance
    (an empty list excludes nothing). Takes effect at the next sync: accounts it now excludes are removed with
    reason `filtered`. One `instance.update` audit event with `account_filters` [before, after]."""

    instances: InstanceRepository
    overrides: AccountFilterOverrides
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: SetAccountFilterInput) -> AccountFilterOverride:
        data.actor.require(Permission.INSTANCES_WRITE)
        check_patterns(data.exclude, prefix=data.field_prefix)
        await _instance(self.instances, data.instance_id)
        before = await self.overrides.get(data.instance_id)
        override = AccountFilterOverride(exclude=data.exclude,
                                         exclude_oracle_maintained=data.exclude_oracle_maintained,
                                         updated_at=self.clock.now(), updated_by_name=data.actor.name)
        await self.overrides.put(data.instance_id, override)
        await self.audit.record(AuditEntry(
            actor=data.actor, action="instance.update", target_type="instance", target_id=str(data.instance_id),
            changes={"account_filters": (_summary(before), _summary(override))}))
        await self.uow.commit()
        return override


@dataclass(frozen=True, slots=True)
class ClearAccountFilter:
    """Remove the instance's override (instances:write); the settings apply again from the next sync. Clearing
    an instance without an override is a no-op (no audit event)."""

    instances: InstanceRepository
    overrides: AccountFilterOverrides
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, instance_id: InstanceId) -> bool:
        actor.require(Permission.INSTANCES_WRITE)
        await _instance(self.instances, instance_id)
        before = await self.overrides.get(instance_id)
        if before is None or not await self.overrides.delete(instance_id):
            await self.uow.rollback()
            return False
        await self.audit.record(AuditEntry(
            actor=actor, action="instance.update", target_type="instance", target_id=str(instance_id),
            changes={"account_filters": (_summary(before), None)}))
        await self.uow.commit()
        return True


def _summary(override: AccountFilterOverride | None) -> dict[str, object] | None:
    if override is None:
        return None
    return {"exclude": list(override.exclude), "exclude_oracle_maintained": override.exclude_oracle_maintained}
