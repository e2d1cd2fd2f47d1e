"""AES-256-GCM credential cipher with key ids (capacity.md §1.2)."""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from whalefall.adapters.security.key_files import CREDENTIAL_KEY_BYTES, KeyFileError, Keyring
from whalefall.application.ports.security import (
    CredentialKeyMissingError,
    CredentialUnreadableError,
    EncryptedSecret,
    SecretCipher,
)
from whalefall.domain.instances import SecretText

FORMAT_VERSION: Final = b"\x01"
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16


class AesGcmCipher(SecretCipher):
    """Encrypts with the keyring's active key; decrypts with whichever loaded key the secret names."""

    def __init__(self, keyring: Keyring) -> None:
        for key_id, key in keyring.keys.items():
            if len(key) != CREDENTIAL_KEY_BYTES:
                raise KeyFileError(f"Key {key_id!r} has {len(key)} bytes; AES-256 needs {CREDENTIAL_KEY_BYTES}")
        self._active_id = keyring.active_id
        self._aeads = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    @property
    def active_key_id(self) -> str:
        return self._active_id

    def key_ids(self) -> frozenset[str]:
        return frozenset(self._aeads)

    def encrypt(self, plaintext: SecretText, *, associated_data: bytes) -> EncryptedSecret:
        """Raises ValueError without associated data: a ciphertext must always be bound to its row."""
        _require_associated_data(associated_data)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[self._active_id].encrypt(nonce, plaintext.reveal().encode("utf-8"), associated_data)
        return EncryptedSecret(key_id=self._active_id, blob=FORMAT_VERSION + nonce + sealed)

    def decrypt(self, secret: EncryptedSecret, *, associated_data: bytes) -> SecretText:
        _require_associated_data(associated_data)
        aead = self._aeads.get(secret.key_id)
        if aead is None:
            raise CredentialKeyMissingError(context={"key_id": secret.key_id})
        blob = secret.blob
        if len(blob) < 1 + NONCE_BYTES + TAG_BYTES or blob[:1] != FORMAT_VERSION:
            raise CredentialUnreadableError(context={"key_id": secret.key_id})
        nonce, sealed = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
        try:
            return SecretText(aead.decrypt(nonce, sealed, associated_data).decode("utf-8"))
        except (InvalidTag, UnicodeDecodeError, ValueError, OverflowError) as exc:
            raise CredentialUnreadableError(context={"key_id": secret.key_id}) from exc


def _require_associated_data(associated_data: bytes) -> None:
    if not associated_data:
        raise ValueError("associated data is required (whalefall:credential:<id>)")
