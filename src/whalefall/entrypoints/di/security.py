"""Providers of keys, ciphers, hashers, token codecs, the clock and the log redactor (APP scope)."""

from __future__ import annotations

from typing import NewType

from dishka import Provider, Scope, provide

from whalefall.adapters.clock import SystemClock
from whalefall.adapters.security.aesgcm_cipher import AesGcmCipher
from whalefall.adapters.security.argon2_hasher import Argon2PasswordHasher
from whalefall.adapters.security.jwt_tokens import JwtAccessTokenCodec
from whalefall.adapters.security.key_files import Keyring, load_keyring, load_signing_keys
from whalefall.adapters.security.opaque_tokens import SecretsTokenGenerator
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.security import AccessTokenCodec, PasswordHasher, SecretCipher, TokenGenerator
from whalefall.domain.logs.redaction import Redactor
from whalefall.entrypoints.settings import Settings

CredentialKeyring = NewType("CredentialKeyring", Keyring)
SigningKeyring = NewType("SigningKeyring", Keyring)


class SecurityProvider(Provider):
    scope = Scope.APP

    @provide
    def clock(self) -> Clock:
        return SystemClock()

    @provide
    def credential_keys(self, settings: Settings) -> CredentialKeyring:
        return CredentialKeyring(load_keyring(settings.secret_key, settings.effective_secret_key_file,
                                              settings.secret_key_active_id,
                                              create_file_if_missing=settings.embedded and not settings.secret_key))

    @provide
    def signing_keys(self, settings: Settings) -> SigningKeyring:
        return SigningKeyring(load_signing_keys(settings.jwt_keys, settings.effective_jwt_key_file,
                                                settings.jwt_active_id,
                                                create_file_if_missing=settings.embedded and not settings.jwt_keys))

    @provide
    def cipher(self, keyring: CredentialKeyring) -> SecretCipher:
        return AesGcmCipher(keyring)

    @provide
    def codec(self, keyring: SigningKeyring) -> AccessTokenCodec:
        return JwtAccessTokenCodec(keyring)

    @provide
    def hasher(self, settings: Settings) -> PasswordHasher:
        return Argon2PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                                    parallelism=settings.argon2_parallelism)

    @provide
    def tokens(self) -> TokenGenerator:
        return SecretsTokenGenerator()

    @provide
    def redactor(self, keyring: CredentialKeyring, signing: SigningKeyring, settings: Settings) -> Redactor:
        """Registers every key loaded from settings as a live secret, so no log line can carry one."""
        redactor = Redactor()
        for key in (*keyring.keys.values(), *signing.keys.values()):
            redactor.register(key.hex())
        for value in (settings.secret_key, settings.jwt_keys):
            if value:
                redactor.register(value)
        return redactor
