"""Ports for secrets at rest, password hashing and tokens; implementations never log or return plaintext."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from whalefall.domain.errors import InvalidStateError
from whalefall.domain.instances import SecretText


class CredentialKeyMissingError(InvalidStateError):
    """The ciphertext was made with a key id that is not in the keyring (non-retryable)."""

    code = "CREDENTIAL_KEY_MISSING"
    default_message = "The credential was encrypted with a key that is not loaded"


class CredentialUnreadableError(InvalidStateError):
    """Decryption failed (tampered blob, wrong associated data); never an empty password."""

    code = "CREDENTIAL_UNREADABLE"
    default_message = "The stored credential cannot be decrypted"


@dataclass(frozen=True, slots=True)
class EncryptedSecret:
    """A stored secret: the key id that encrypted it and the versioned blob (0x01 ‖ nonce ‖ ciphertext‖tag)."""

    key_id: str
    blob: bytes


def credential_associated_data(credential_id: int) -> bytes:
    """Associated data of a credential's ciphertext: binds it to its row, so a blob copied onto another row fails."""
    return f"whalefall:credential:{credential_id}".encode()


class SecretCipher(Protocol):
    """AES-256-GCM with key ids; associated data binds a ciphertext to its row (`whalefall:credential:<id>`)."""

    @property
    @abstractmethod
    def active_key_id(self) -> str:
        """Id of the key new encryptions use."""

    @abstractmethod
    def key_ids(self) -> frozenset[str]:
        """Every key id loaded in the keyring."""

    @abstractmethod
    def encrypt(self, plaintext: SecretText, *, associated_data: bytes) -> EncryptedSecret:
        """Encrypt with the active key and a fresh 12-byte nonce."""

    @abstractmethod
    def decrypt(self, secret: EncryptedSecret, *, associated_data: bytes) -> SecretText:
        """Raises CredentialKeyMissingError for an unknown key id, CredentialUnreadableError for any other failure."""


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    ok: bool
    needs_rehash: bool


class PasswordHasher(Protocol):
    """Hashes and verifies user passwords; never logs or returns the plaintext."""

    @abstractmethod
    def hash(self, password: str) -> str:
        """A self-describing hash (algorithm and parameters included)."""

    @abstractmethod
    def verify(self, stored: str | None, password: str) -> PasswordCheck:
        """Always does the full amount of work; `stored=None` checks against a fixed dummy hash (and fails)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessClaims:
    """Claims of a JWT access token (api.md §4.5); `sst` is the hash of the user's security stamp."""

    user_id: int
    issued_at: datetime
    expires_at: datetime
    token_id: str
    security_stamp_hash: str
    family_id: str | None


class AccessTokenCodec(Protocol):
    """Signs and verifies access tokens (HS256, `kid` header, iss/aud/typ checked, 30 s clock skew)."""

    @abstractmethod
    def issue(self, claims: AccessClaims) -> str:
        """Sign with the active key."""

    @abstractmethod
    def decode(self, token: str, *, now: datetime) -> AccessClaims:
        """Raises TokenExpiredError past `exp` (+skew), TokenInvalidError for anything else wrong."""

    @property
    @abstractmethod
    def has_active_key(self) -> bool:
        """True when an active signing key is loaded (readiness component `signing_keys`)."""


@dataclass(frozen=True, slots=True)
class OpaqueToken:
    """A freshly generated opaque token: `plaintext` is shown once, `digest` (SHA-256 hex) is what is stored."""

    plaintext: str
    digest: str
    public_id: str | None = None


class TokenGenerator(Protocol):
    """Random opaque tokens and their digests; comparisons of digests are constant-time."""

    @abstractmethod
    def refresh_token(self) -> OpaqueToken:
        """`wfr_` + 32 random bytes base64url."""

    @abstractmethod
    def api_token(self) -> OpaqueToken:
        """`wf_<8-char public id>_<43-char base64url secret>`; digest covers the secret part only."""

    @abstractmethod
    def session_id(self) -> OpaqueToken:
        """32 random bytes base64url (browser session id)."""

    @abstractmethod
    def random_id(self) -> str:
        """A random url-safe id (token ids, family ids, security stamps), ≥ 128 bits."""

    @abstractmethod
    def digest(self, token: str) -> str:
        """SHA-256 hex of a presented token (API tokens: of the secret part)."""

    @abstractmethod
    def digests_equal(self, left: str, right: str) -> bool:
        """Constant-time comparison."""
