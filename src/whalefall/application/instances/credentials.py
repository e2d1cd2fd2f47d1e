"""Credential use cases: create, update metadata, replace the secret, delete, read, rotate keys (capacity §1.2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from whalefall.application.ports.audit import AuditEntry, AuditLog, field_changes
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import CredentialQuery, CredentialRecord, CredentialRepository
from whalefall.application.ports.security import SecretCipher, credential_associated_data
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.application.shared.unset import UNSET, Unset
from whalefall.domain.errors import (
    AlreadyExistsError,
    NotFoundError,
    Problem,
    ValidationProblemsError,
    VersionConflictError,
)
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import (
    CredentialId,
    CredentialInUseError,
    DbEngine,
    SecretText,
    has_surrounding_space_or_control,
)

ROTATION_BATCH = 200


associated_data = credential_associated_data


def check_secret(secret: str, field_path: str) -> SecretText:
    """1–1024 bytes of UTF-8 without NUL."""
    size = len(secret.encode())
    if not 1 <= size <= 1024 or "\x00" in secret:
        raise ValidationProblemsError([Problem(field_path, "invalid_format",
                                               "must be 1–1024 bytes of UTF-8 without NUL")])
    return SecretText(secret)


def _check_names(name: str | Unset, username: str | Unset) -> None:
    problems: list[Problem] = []
    if name is not UNSET and (not name or len(name) > 128 or has_surrounding_space_or_control(name)):
        problems.append(Problem("body.name", "invalid_format",
                                "1–128 characters without surrounding whitespace or control characters"))
    if username is not UNSET and (not username or len(username) > 256 or not username.isprintable()):
        problems.append(Problem("body.username", "invalid_format", "1–256 printable characters"))
    if problems:
        raise ValidationProblemsError(problems)


async def load_credential(credentials: CredentialRepository, credential_id: CredentialId) -> CredentialRecord:
    record = await credentials.get(credential_id)
    if record is None:
        raise NotFoundError("credential", credential_id)
    return record


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateCredentialInput:
    actor: Actor
    name: str
    username: str
    secret: str
    db_type: DbEngine | None = None
    auth_method: str = "password"
    description: str | None = None


@dataclass(frozen=True, slots=True)
class CreateCredential:
    """The row is inserted first to obtain its id, then the secret is encrypted with associated data naming that
    id, in the same transaction. Name unique case-insensitively → 409 ALREADY_EXISTS."""

    credentials: CredentialRepository
    cipher: SecretCipher
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: CreateCredentialInput) -> CredentialRecord:
        data.actor.require(Permission.CREDENTIALS_WRITE)
        _check_names(data.name, data.username)
        secret = check_secret(data.secret, "body.secret")
        if await self.credentials.name_taken(data.name):
            raise AlreadyExistsError("body.name", "a credential with this name already exists")
        now = self.clock.now()
        credential_id = await self.credentials.add({
            "name": data.name, "username": data.username, "db_type": data.db_type.value if data.db_type else None,
            "auth_method": data.auth_method, "description": data.description,
        }, at=now, by=data.actor.user_id)
        encrypted = self.cipher.encrypt(secret, associated_data=associated_data(credential_id))
        await self.credentials.set_secret(credential_id, encrypted, at=now)
        await self.audit.record(AuditEntry(actor=data.actor, action="credential.create", target_type="credential",
                                           target_id=str(credential_id),
                                           details={"name": data.name, "username": data.username,
                                                    "secret": "<changed>"}))
        await self.uow.commit()
        return await load_credential(self.credentials, credential_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateCredentialInput:
    actor: Actor
    credential_id: CredentialId
    name: str | Unset = UNSET
    username: str | Unset = UNSET
    db_type: DbEngine | None | Unset = UNSET
    description: str | None | Unset = UNSET
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateCredential:
    """Metadata only; the secret has its own route. Audited with before/after of each changed field."""

    credentials: CredentialRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: UpdateCredentialInput) -> CredentialRecord:
        data.actor.require(Permission.CREDENTIALS_WRITE)
        current = await load_credential(self.credentials, data.credential_id)
        if data.revision is not None and data.revision != current.revision:
            raise VersionConflictError(current.revision)
        _check_names(data.name, data.username)
        if data.name is not UNSET and data.name.lower() != current.name.lower() and await self.credentials.name_taken(
                data.name, exclude=current.id):
            raise AlreadyExistsError("body.name", "a credential with this name already exists")
        after: dict[str, object] = {}
        if data.name is not UNSET:
            after["name"] = data.name
        if data.username is not UNSET:
            after["username"] = data.username
        if data.db_type is not UNSET:
            after["db_type"] = data.db_type.value if data.db_type else None
        if data.description is not UNSET:
            after["description"] = data.description
        before = {"name": current.name, "username": current.username,
                  "db_type": current.db_type.value if current.db_type else None, "description": current.description}
        changes = field_changes(before, after)
        if changes:
            await self.credentials.update(current.id, after, at=self.clock.now(), by=data.actor.user_id)
            await self.audit.record(AuditEntry(actor=data.actor, action="credential.update",
                                               target_type="credential", target_id=str(current.id),
                                               changes=changes))
            await self.uow.commit()
        return await load_credential(self.credentials, current.id)


@dataclass(frozen=True, slots=True)
class ReplaceCredentialSecret:
    """PUT /credentials/{id}/secret: encrypt with the active key; audit shows only "<changed>"."""

    credentials: CredentialRepository
    cipher: SecretCipher
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, credential_id: CredentialId, secret: str) -> CredentialRecord:
        actor.require(Permission.CREDENTIALS_WRITE)
        current = await load_credential(self.credentials, credential_id)
        plaintext = check_secret(secret, "body.secret")
        now = self.clock.now()
        encrypted = self.cipher.encrypt(plaintext, associated_data=associated_data(current.id))
        await self.credentials.set_secret(current.id, encrypted, at=now)
        await self.credentials.update(current.id, {}, at=now, by=actor.user_id)
        await self.audit.record(AuditEntry(actor=actor, action="credential.secret_change", target_type="credential",
                                           target_id=str(current.id), changes={"secret": ("<changed>", "<changed>")}))
        await self.uow.commit()
        return await load_credential(self.credentials, current.id)


@dataclass(frozen=True, slots=True)
class DeleteCredential:
    """Refused while any instance, even soft-deleted, refers to it (409 CREDENTIAL_IN_USE with the ids)."""

    credentials: CredentialRepository
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, credential_id: CredentialId, revision: int | None = None) -> None:
        actor.require(Permission.CREDENTIALS_WRITE)
        current = await load_credential(self.credentials, credential_id)
        if revision is not None and revision != current.revision:
            raise VersionConflictError(current.revision)
        referencing = await self.credentials.referencing_instances(current.id)
        if referencing:
            raise CredentialInUseError("The credential is used by instances", context={"instance_ids": referencing})
        await self.credentials.delete(current.id)
        await self.audit.record(AuditEntry(actor=actor, action="credential.delete", target_type="credential",
                                           target_id=str(current.id), details={"name": current.name}))
        await self.uow.commit()


@dataclass(frozen=True, slots=True)
class GetCredential:
    credentials: CredentialRepository

    async def execute(self, actor: Actor, credential_id: CredentialId) -> CredentialRecord:
        actor.require(Permission.CREDENTIALS_READ)
        return await load_credential(self.credentials, credential_id)


@dataclass(frozen=True, slots=True)
class ListCredentials:
    credentials: CredentialRepository

    async def execute(self, actor: Actor, query: CredentialQuery, page: PageRequest) -> Page[CredentialRecord]:
        actor.require(Permission.CREDENTIALS_READ)
        return await self.credentials.list_page(query, page)


@dataclass(frozen=True, slots=True, kw_only=True)
class RotationOutcome:
    rotated: int
    active_key_id: str
    usage: dict[str, int]


BatchHook = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RotateCredentialKeys:
    """Re-encrypt every secret whose key id is not the active one, 200 rows per transaction; idempotent and
    resumable (a crash leaves already-rotated batches committed). A row whose key is missing raises
    CredentialKeyMissingError and stops the rotation with the earlier batches kept."""

    credentials: CredentialRepository
    cipher: SecretCipher
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, *, between_batches: BatchHook | None = None,
                      before_commit: BatchHook | None = None) -> RotationOutcome:
        """`before_commit` runs as the first statement of each batch's transaction (the worker's fence),
        `between_batches` right after it, before the batch is read (the worker's cancellation check)."""
        actor.require(Permission.SYSTEM_MANAGE)
        active = self.cipher.active_key_id
        rotated = 0
        while True:
            if before_commit is not None:
                await before_commit()
            if between_batches is not None:
                await between_batches()
            batch = await self.credentials.ids_not_encrypted_with(active, limit=ROTATION_BATCH)
            if not batch:
                break
            now = self.clock.now()
            for credential_id in batch:
                stored = await self.credentials.get_secret(credential_id)
                if stored is None:
                    continue
                plaintext = self.cipher.decrypt(stored, associated_data=associated_data(credential_id))
                await self.credentials.set_secret(
                    credential_id, self.cipher.encrypt(plaintext, associated_data=associated_data(credential_id)),
                    at=now)
            rotated += len(batch)
            await self.uow.commit()
        await self.audit.record(AuditEntry(actor=actor, action="credential.rotate_keys", details={
            "rotated": rotated, "active_key_id": active}))
        await self.uow.commit()
        return RotationOutcome(rotated=rotated, active_key_id=active, usage=await self.credentials.key_usage())


@dataclass(frozen=True, slots=True)
class GetCredentialKeyUsage:
    """Row count per key id (a key may be removed from the keyring only at zero)."""

    credentials: CredentialRepository
    cipher: SecretCipher

    async def execute(self, actor: Actor) -> tuple[str, dict[str, int]]:
        actor.require(Permission.SYSTEM_READ)
        return self.cipher.active_key_id, await self.credentials.key_usage()
