"""Keyrings from env key lists and 0600 JSON key files, for credentials and token signing."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import threading
from pathlib import Path

import pytest

from whalefall.adapters.security.aesgcm_cipher import AesGcmCipher
from whalefall.adapters.security.key_files import (
    KeyFileError,
    KeyFileInsecureError,
    Keyring,
    load_keyring,
    load_signing_keys,
    parse_key_list,
)
from whalefall.domain.errors import InvalidStateError
from whalefall.domain.instances import SecretText

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def b64(key: bytes, *, pad: bool = False) -> str:
    text = base64.urlsafe_b64encode(key).decode()
    return text if pad else text.rstrip("=")


def write_key_file(path: Path, document: object, mode: int = 0o600) -> Path:
    path.write_text(json.dumps(document))
    path.chmod(mode)
    return path


@posix_only
def test_embedded_mode_creates_a_private_key_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys.json"
    keyring = load_keyring(None, path, None, create_file_if_missing=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["active"] == keyring.active_id
    assert set(document["keys"]) == {keyring.active_id}
    assert len(keyring.active_key) == 32
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]


def test_two_loads_of_one_install_decrypt_each_others_credentials(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = AesGcmCipher(load_keyring(None, path, None, create_file_if_missing=True))
    second = AesGcmCipher(load_keyring(None, path, None, create_file_if_missing=True))
    sealed = first.encrypt(SecretText("s3cret"), associated_data=b"whalefall:credential:1")
    assert second.decrypt(sealed, associated_data=b"whalefall:credential:1").reveal() == "s3cret"


@posix_only
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o601])
def test_a_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    load_keyring(None, path, None, create_file_if_missing=True)
    path.chmod(mode)
    with pytest.raises(KeyFileInsecureError) as caught:
        load_keyring(None, path, None, create_file_if_missing=True)
    assert caught.value.code == "KEY_FILE_INSECURE"
    assert isinstance(caught.value, InvalidStateError)


def test_a_missing_file_is_an_error_outside_embedded_mode(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_keyring(None, tmp_path / "keys.json", None, create_file_if_missing=False)
    assert caught.value.code == "KEY_FILE_INVALID"
    assert not (tmp_path / "keys.json").exists()


def test_the_file_active_id_can_be_overridden(tmp_path: Path) -> None:
    keys = {"old": b64(secrets.token_bytes(32)), "new": b64(secrets.token_bytes(32), pad=True)}
    path = write_key_file(tmp_path / "keys.json", {"active": "old", "keys": keys})
    assert load_keyring(None, path, None, create_file_if_missing=False).active_id == "old"
    assert load_keyring(None, path, "new", create_file_if_missing=False).active_id == "new"
    with pytest.raises(KeyFileError):
        load_keyring(None, path, "gone", create_file_if_missing=False)


@pytest.mark.parametrize("document", [
    "not json",
    [],
    {"active": "k1"},
    {"active": 1, "keys": {}},
    {"active": "k1", "keys": {}},
    {"active": "k1", "keys": {"k1": 42}},
    {"active": "k1", "keys": {"k1": "***"}},
    {"active": "k1", "keys": {"k1": b64(bytes(16))}},
    {"active": "bad id", "keys": {"bad id": b64(bytes(32))}},
])
def test_malformed_key_files_are_refused(tmp_path: Path, document: object) -> None:
    path = tmp_path / "keys.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as caught:
        load_keyring(None, path, None, create_file_if_missing=False)
    assert caught.value.code == "KEY_FILE_INVALID"


def test_env_list_parsing_keeps_order_and_defaults_to_the_first_key() -> None:
    one, two = secrets.token_bytes(32), secrets.token_bytes(32)
    keyring = load_keyring(f" k1:{b64(one)}, k_2-b:{b64(two, pad=True)} ", None, None, create_file_if_missing=True)
    assert keyring.active_id == "k1"
    assert dict(keyring.keys) == {"k1": one, "k_2-b": two}
    assert load_keyring(f"k1:{b64(one)},k2:{b64(two)}", None, "k2", create_file_if_missing=False).active_id == "k2"


@pytest.mark.parametrize("text", [
    "k1",
    "k1:",
    "k1:not base64!",
    f"k1:{b64(bytes(31))}",
    f"k1:{b64(bytes(33))}",
    f"k1:{b64(bytes(32))},",
    f"k1:{b64(bytes(32))},k1:{b64(bytes(32))}",
    f"{'k' * 65}:{b64(bytes(32))}",
    f"k.1:{b64(bytes(32))}",
])
def test_env_list_errors(text: str) -> None:
    with pytest.raises(KeyFileError):
        parse_key_list(text)


def test_error_messages_never_hold_key_material() -> None:
    key = b64(bytes(range(31)))
    with pytest.raises(KeyFileError) as caught:
        parse_key_list(f"k1:{key}")
    assert key not in str(caught.value)


def test_a_key_list_and_a_key_file_together_are_ambiguous(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        load_keyring(f"k1:{b64(bytes(32))}", tmp_path / "keys.json", None, create_file_if_missing=True)


def test_no_source_at_all_is_an_error() -> None:
    with pytest.raises(KeyFileError):
        load_keyring("", None, None, create_file_if_missing=True)


@posix_only
def test_signing_keys_are_generated_privately_and_may_be_longer(tmp_path: Path) -> None:
    path = tmp_path / "jwt-keys.json"
    keyring = load_signing_keys(None, path, None, create_file_if_missing=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(keyring.active_key) >= 32
    assert load_signing_keys(None, path, None, create_file_if_missing=False) == keyring
    long_key = secrets.token_bytes(48)
    assert load_signing_keys(f"s1:{b64(long_key)}", None, None, create_file_if_missing=False).active_key == long_key
    with pytest.raises(KeyFileError):
        load_signing_keys(f"s1:{b64(bytes(31))}", None, None, create_file_if_missing=False)


def test_the_keyring_repr_hides_keys() -> None:
    key = bytes(range(32))
    assert repr(key) not in repr(Keyring("k1", {"k1": key}))


def test_concurrent_first_runs_agree_on_one_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    results: list[Keyring] = []
    lock = threading.Lock()

    def start() -> None:
        keyring = load_keyring(None, path, None, create_file_if_missing=True)
        with lock:
            results.append(keyring)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(keyring == results[0] for keyring in results)
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]
