"""The principal a use case acts for, with the request context that audit events and sessions record."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from whalefall.domain.errors import PermissionDeniedError
from whalefall.domain.identity.roles import Permission, Role, permissions_of


class ActorType(StrEnum):
    USER = "user"
    API_TOKEN = "api_token"
    SCHEDULER = "scheduler"
    SYSTEM = "system"


class AuthMethod(StrEnum):
    ACCESS_TOKEN = "access_token"
    SESSION = "session"
    API_TOKEN = "api_token"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who acts: a user (through a token or session), an API token, the scheduler or the system."""

    actor_type: ActorType
    name: str
    user_id: int | None = None
    role: Role | None = None
    permissions: frozenset[Permission] = frozenset()
    auth_method: AuthMethod = AuthMethod.NONE
    token_id: str | None = None
    family_id: str | None = None
    expires_at: object | None = None
    must_change_password: bool = False
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise PermissionDeniedError naming the permission when it is not held."""
        if permission not in self.permissions:
            raise PermissionDeniedError(permission.value)

    @property
    def is_interactive(self) -> bool:
        return self.auth_method in (AuthMethod.ACCESS_TOKEN, AuthMethod.SESSION)

    @classmethod
    def system(cls, name: str = "system", *, request_id: str | None = None) -> Actor:
        """The system itself (CLI administration, migrations): every permission."""
        return cls(actor_type=ActorType.SYSTEM, name=name, permissions=frozenset(Permission), request_id=request_id)

    @classmethod
    def for_user(cls, *, user_id: int, username: str, role: Role, auth_method: AuthMethod,
                 must_change_password: bool = False, token_id: str | None = None, family_id: str | None = None,
                 expires_at: object | None = None, request_id: str | None = None, client_ip: str | None = None,
                 user_agent: str | None = None) -> Actor:
        return cls(actor_type=ActorType.USER, name=username, user_id=user_id, role=role,
                   permissions=permissions_of(role), auth_method=auth_method, token_id=token_id,
                   family_id=family_id, expires_at=expires_at, must_change_password=must_change_password,
                   request_id=request_id, client_ip=client_ip, user_agent=user_agent)
