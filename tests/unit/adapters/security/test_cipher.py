"""AesGcmCipher: round trips, fresh nonces, tampering, associated data, unknown keys and rotation."""

from __future__ import annotations

import secrets

import pytest

from whalefall.adapters.security.aesgcm_cipher import AesGcmCipher
from whalefall.adapters.security.key_files import KeyFileError, Keyring
from whalefall.application.ports.security import CredentialKeyMissingError, CredentialUnreadableError, EncryptedSecret
from whalefall.domain.instances import SecretText

AD = b"whalefall:credential:7"


def make_cipher(active: str = "k1", **keys: bytes) -> AesGcmCipher:
    return AesGcmCipher(Keyring(active, keys or {"k1": secrets.token_bytes(32)}))


@pytest.mark.parametrize("plaintext", ["p", "s3cret ünïcode", "x" * 1024])
def test_round_trip(plaintext: str) -> None:
    cipher = make_cipher()
    sealed = cipher.encrypt(SecretText(plaintext), associated_data=AD)
    assert sealed.key_id == "k1"
    assert sealed.blob[:1] == b"\x01"
    assert len(sealed.blob) == 1 + 12 + len(plaintext.encode()) + 16
    if len(plaintext.encode()) >= 8:
        # A 1-byte secret occurs by chance in ~11% of 29 random bytes; longer ones never do in practice.
        assert plaintext.encode() not in sealed.blob
    assert cipher.decrypt(sealed, associated_data=AD).reveal() == plaintext


def test_every_encryption_uses_a_fresh_nonce() -> None:
    cipher = make_cipher()
    blobs = [cipher.encrypt(SecretText("same"), associated_data=AD).blob for _ in range(20)]
    assert len({blob[1:13] for blob in blobs}) == 20
    assert len(set(blobs)) == 20


@pytest.mark.parametrize("position", [1, 5, 13, -1])
def test_a_tampered_blob_is_unreadable(position: int) -> None:
    cipher = make_cipher()
    blob = bytearray(cipher.encrypt(SecretText("s3cret"), associated_data=AD).blob)
    blob[position] ^= 0x01
    with pytest.raises(CredentialUnreadableError) as caught:
        cipher.decrypt(EncryptedSecret("k1", bytes(blob)), associated_data=AD)
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02" + bytes(40), b"\x01" + bytes(27)])
def test_malformed_blobs_are_unreadable(blob: bytes) -> None:
    with pytest.raises(CredentialUnreadableError):
        make_cipher().decrypt(EncryptedSecret("k1", blob), associated_data=AD)


def test_a_ciphertext_copied_to_another_row_is_unreadable() -> None:
    cipher = make_cipher()
    sealed = cipher.encrypt(SecretText("s3cret"), associated_data=AD)
    with pytest.raises(CredentialUnreadableError):
        cipher.decrypt(sealed, associated_data=b"whalefall:credential:8")


def test_associated_data_is_required() -> None:
    cipher = make_cipher()
    with pytest.raises(ValueError):
        cipher.encrypt(SecretText("s3cret"), associated_data=b"")


def test_an_unknown_key_id_is_reported_as_missing() -> None:
    sealed = make_cipher().encrypt(SecretText("s3cret"), associated_data=AD)
    other = make_cipher("k2", k2=secrets.token_bytes(32))
    with pytest.raises(CredentialKeyMissingError) as caught:
        other.decrypt(sealed, associated_data=AD)
    assert caught.value.context == {"key_id": "k1"}


def test_the_wrong_key_under_the_same_id_is_unreadable() -> None:
    sealed = make_cipher().encrypt(SecretText("s3cret"), associated_data=AD)
    with pytest.raises(CredentialUnreadableError):
        make_cipher().decrypt(sealed, associated_data=AD)


def test_rotation_keeps_old_ciphertexts_readable() -> None:
    old_key, new_key = secrets.token_bytes(32), secrets.token_bytes(32)
    before = make_cipher("old", old=old_key)
    sealed = before.encrypt(SecretText("s3cret"), associated_data=AD)
    after = make_cipher("new", old=old_key, new=new_key)
    assert after.active_key_id == "new"
    assert after.key_ids() == frozenset({"old", "new"})
    assert after.decrypt(sealed, associated_data=AD).reveal() == "s3cret"
    resealed = after.encrypt(after.decrypt(sealed, associated_data=AD), associated_data=AD)
    assert resealed.key_id == "new"
    assert after.decrypt(resealed, associated_data=AD).reveal() == "s3cret"


def test_keys_must_be_32_bytes() -> None:
    with pytest.raises(KeyFileError):
        make_cipher("k1", k1=secrets.token_bytes(16))
