"""Validation of instance fields shared by create, update and CSV import (capacity.md §1.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from whalefall.application.ports.instances import CredentialRecord, CredentialRepository, TagRepository
from whalefall.domain.errors import InvalidReferenceError, Problem
from whalefall.domain.instances import (
    DEFAULT_PORTS,
    CredentialDbTypeMismatchError,
    CredentialId,
    DbEngine,
    TagId,
    has_surrounding_space_or_control,
    normalize_host,
    valid_database_name,
)


def check_name(name: str, field_path: str) -> list[Problem]:
    if not name or len(name) > 128 or has_surrounding_space_or_control(name):
        return [Problem(field_path, "invalid_format",
                        "1–128 characters without surrounding whitespace or control characters")]
    return []


def check_endpoint(db_type: DbEngine, host: str, port: int | None, database_name: str | None,
                   prefix: str) -> tuple[str | None, int, list[Problem]]:
    """Normalised host and port (defaults per engine) with every endpoint problem."""
    problems: list[Problem] = []
    normalized = normalize_host(host)
    if normalized is None:
        problems.append(Problem(f"{prefix}host", "invalid_format",
                                "must be a hostname, an IPv4 address or an IPv6 address"))
    effective_port = port if port is not None else DEFAULT_PORTS[db_type]
    if not 1 <= effective_port <= 65535:
        problems.append(Problem(f"{prefix}port", "too_large" if effective_port > 65535 else "too_small",
                                "must be between 1 and 65535", {"min": 1, "max": 65535}))
    if database_name is None:
        if db_type is DbEngine.ORACLE:
            problems.append(Problem(f"{prefix}database_name", "required", "the service name is required for Oracle"))
    elif not valid_database_name(db_type, database_name):
        problems.append(Problem(f"{prefix}database_name", "invalid_format", "not a valid database or service name"))
    return normalized, effective_port, problems


async def check_credential(credentials: CredentialRepository, credential_id: CredentialId, db_type: DbEngine,
                           field_path: str) -> CredentialRecord:
    """The credential, or INVALID_REFERENCE / CREDENTIAL_DB_TYPE_MISMATCH (422)."""
    credential = await credentials.get(credential_id)
    if credential is None:
        raise InvalidReferenceError(problems=[Problem(field_path, "not_found", "no credential with this id")])
    if credential.db_type is not None and credential.db_type is not db_type:
        raise CredentialDbTypeMismatchError(problems=[Problem(
            field_path, "db_type_mismatch", f"the credential is for {credential.db_type.value}")])
    return credential


@dataclass(frozen=True, slots=True)
class TagResolver:
    """Resolves tag names or ids; every unknown value is reported (422 INVALID_REFERENCE), none dropped."""

    tags: TagRepository

    async def resolve(self, values: Sequence[str | int], field_path: str) -> list[TagId]:
        names = [v for v in values if isinstance(v, str)]
        ids = [TagId(v) for v in values if isinstance(v, int)]
        by_name = await self.tags.find_by_names(names) if names else {}
        known_ids = await self.tags.existing_ids(ids) if ids else set()
        problems: list[Problem] = []
        resolved: list[TagId] = []
        for index, value in enumerate(values):
            if isinstance(value, str):
                record = by_name.get(value.lower())
                if record is None:
                    problems.append(Problem(f"{field_path}[{index}]", "not_found", f"unknown tag {value!r}"))
                else:
                    resolved.append(record.id)
            elif TagId(value) in known_ids:
                resolved.append(TagId(value))
            else:
                problems.append(Problem(f"{field_path}[{index}]", "not_found", f"unknown tag id {value}"))
        if problems:
            raise InvalidReferenceError(problems=problems)
        return list(dict.fromkeys(resolved))
