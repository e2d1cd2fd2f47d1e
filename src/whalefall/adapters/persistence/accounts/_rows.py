"""Row encodings shared by the ledger writer and reader: object paths, denormalised flags, JSON-safe values."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from whalefall.domain.accounts.model import (
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    RoleMembership,
    json_value,
    object_path,
)

T = TypeVar("T")
#: Bound on bind parameters per statement (SQLite's historic limit is 999).
CHUNK: Final = 500


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def encode_object(parts: Iterable[str]) -> str:
    """Canonical text of an object tuple: compact JSON array, exact and order-preserving."""
    if isinstance(parts, tuple):
        return _encode_tuple(parts)
    return json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=8192)
def _encode_tuple(parts: tuple[str, ...]) -> str:
    # Grants of one sync name few distinct objects; each is encoded for its identity and its row.
    return json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)


def decode_object(text: str) -> tuple[str, ...]:
    return tuple(str(p) for p in json.loads(text))


def ref_of(row: Mapping[Any, Any]) -> PrincipalRef:
    return PrincipalRef.of(PrincipalKind(row["kind"]), row["key"], row["namespace"])


def to_datetime(value: object) -> datetime | None:
    """Attribute timestamps arrive as datetimes (fresh snapshot) or ISO strings (stored documents)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def principal_columns(state: PrincipalState, *, superuser: bool) -> dict[str, object]:
    """Denormalised copies of the state on the principal row (list filters, Account fields)."""
    attrs = state.attributes
    return {
        "login_capable": attrs.get("login_capable") is True,
        "locked": attrs.get("locked") is True,
        "password_expired": attrs.get("password_expired") is True,
        "valid_until": to_datetime(attrs.get("valid_until")),
        "superuser": superuser,
        "attributes": {name: json_value(attrs[name]) for name in sorted(attrs)},
        "roles": [edge.role.key for edge in state.memberships],
    }


def grant_row(grant: PrivilegeGrant, *, principal_id: int, instance_id: int, at: datetime) -> dict[str, object]:
    return {
        "principal_id": principal_id, "instance_id": instance_id, "privilege": grant.privilege,
        "scope": grant.scope.value, "object": encode_object(grant.object), "object_path": object_path(grant.object),
        "object_kind": grant.object_kind, "effect": grant.effect.value, "grant_option": grant.grant_option,
        "implicit": grant.implicit, "pattern": grant.pattern, "grantor": grant.grantor, "valid_from": at,
        "valid_to": None,
    }


def membership_row(edge: RoleMembership, *, member_id: int, role_id: int | None, instance_id: int,
                   at: datetime) -> dict[str, object]:
    return {
        "member_id": member_id, "role_id": role_id, "instance_id": instance_id, "role_kind": edge.role.kind.value,
        "role_namespace": edge.role.namespace, "role_key": edge.role.key, "admin_option": edge.admin_option,
        "inherit": edge.inherit, "set_option": edge.set, "default_role": edge.default,
        "delegate_option": edge.delegate_option, "implicit": edge.implicit, "valid_from": at, "valid_to": None,
    }


def grant_identity(grant: PrivilegeGrant) -> tuple[object, ...]:
    """What a grant interval stands for: the key plus the flags whose change closes and reopens it."""
    return (grant.privilege, grant.scope.value, encode_object(grant.object), grant.effect.value, grant.grant_option,
            grant.implicit)


def edge_identity(edge: RoleMembership) -> tuple[object, ...]:
    return (edge.role.kind_class.value, edge.role.namespace, edge.role.key, edge.admin_option, edge.inherit, edge.set,
            edge.default, edge.delegate_option, edge.implicit)
