"""Use cases, built per request/task/command from the ports (REQUEST scope)."""

from __future__ import annotations

from datetime import timedelta

from dishka import Provider, Scope, provide, provide_all

from whalefall.application.identity.authenticate import AuthenticateAccessToken
from whalefall.application.identity.create_user import CreateUser
from whalefall.application.identity.delete_user import DeleteUser
from whalefall.application.identity.login import Login
from whalefall.application.identity.logout import Logout
from whalefall.application.identity.passwords import ChangeOwnPassword, ResetUserPassword
from whalefall.application.identity.refresh_tokens import RefreshTokens
from whalefall.application.identity.token_pairs import TokenPairIssuer
from whalefall.application.identity.update_user import UpdateUser
from whalefall.application.identity.user_admin import (
    GetUser,
    ListUsers,
    RevokeUserSessions,
    UnlockUser,
    UpdateOwnProfile,
)
from whalefall.application.identity.user_changes import SessionRevoker
from whalefall.application.instances.create_instance import CreateInstance
from whalefall.application.instances.credential_rotation_session import RunCredentialRotation, StartCredentialRotation
from whalefall.application.instances.credentials import (
    CreateCredential,
    DeleteCredential,
    GetCredential,
    GetCredentialKeyUsage,
    ListCredentials,
    ReplaceCredentialSecret,
    RotateCredentialKeys,
    UpdateCredential,
)
from whalefall.application.instances.fields import TagResolver
from whalefall.application.instances.instance_lifecycle import DeleteInstance, PurgeInstance, RestoreInstance
from whalefall.application.instances.instance_queries import GetInstance, ListInstances
from whalefall.application.instances.tags import (
    BulkAssignTags,
    BulkClearTags,
    BulkRemoveTags,
    CreateTag,
    DeleteTag,
    GetTag,
    ListTagCategories,
    ListTags,
    UpdateTag,
)
from whalefall.application.instances.update_instance import UpdateInstance
from whalefall.application.ports.audit import AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import RefreshTokenRepository, UserRepository
from whalefall.application.ports.security import AccessTokenCodec, PasswordHasher, TokenGenerator
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.entrypoints.settings import Settings


class UseCasesProvider(Provider):
    scope = Scope.REQUEST

    plain = provide_all(
        AuthenticateAccessToken, DeleteUser, Login, Logout, RefreshTokens, UpdateUser, GetUser,
        ListUsers, RevokeUserSessions, UnlockUser, UpdateOwnProfile, SessionRevoker, CreateInstance,
        CreateCredential, DeleteCredential, GetCredential, ListCredentials, ReplaceCredentialSecret,
        RotateCredentialKeys, StartCredentialRotation, RunCredentialRotation, UpdateCredential, GetCredentialKeyUsage,
        TagResolver, DeleteInstance, PurgeInstance,
        RestoreInstance,
        GetInstance, ListInstances, BulkAssignTags, BulkClearTags, BulkRemoveTags, CreateTag, DeleteTag, GetTag,
        ListTagCategories, ListTags, UpdateTag, UpdateInstance,
    )

    @provide
    def token_pair_issuer(self, codec: AccessTokenCodec, tokens: TokenGenerator,
                          refresh_tokens: RefreshTokenRepository, settings: Settings) -> TokenPairIssuer:
        return TokenPairIssuer(codec, tokens, refresh_tokens, timedelta(seconds=settings.access_token_ttl_s))

    @provide
    def create_user(self, users: UserRepository, hasher: PasswordHasher, tokens: TokenGenerator, audit: AuditLog,
                    clock: Clock, uow: UnitOfWork, settings: Settings) -> CreateUser:
        return CreateUser(users, hasher, tokens, audit, clock, uow, settings.password_min_length)

    @provide
    def change_password(self, users: UserRepository, hasher: PasswordHasher, revoker: SessionRevoker,
                        audit: AuditLog, clock: Clock, uow: UnitOfWork, settings: Settings) -> ChangeOwnPassword:
        return ChangeOwnPassword(users, hasher, revoker, audit, clock, uow, settings.password_min_length)

    @provide
    def reset_password(self, users: UserRepository, hasher: PasswordHasher, revoker: SessionRevoker,
                       audit: AuditLog, clock: Clock, uow: UnitOfWork, settings: Settings) -> ResetUserPassword:
        return ResetUserPassword(users, hasher, revoker, audit, clock, uow, settings.password_min_length)
