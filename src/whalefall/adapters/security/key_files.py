"""Keyrings for credential encryption and token signing: env key lists and 0600 JSON key files."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from whalefall.domain.errors import InvalidStateError

CREDENTIAL_KEY_BYTES: Final = 32
SIGNING_KEY_MIN_BYTES: Final = 32
# 64 bytes = the SHA-256 block size: the largest HMAC key that is used as is (longer keys are hashed first).
_NEW_SIGNING_KEY_BYTES: Final = 64
_KEY_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_MAX_FILE_BYTES: Final = 1 << 20


class KeyFileError(InvalidStateError):
    """A key list or key file is missing, malformed or names an unknown active key; messages never hold key bytes."""

    code = "KEY_FILE_INVALID"
    default_message = "The key configuration is invalid"


class KeyFileInsecureError(KeyFileError):
    """The key file grants a group or other permission bit; the process refuses to start."""

    code = "KEY_FILE_INSECURE"
    default_message = "The key file is readable by other users"


@dataclass(frozen=True, slots=True)
class Keyring:
    """Key id → key bytes, one of them active; the repr never shows key bytes."""

    active_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyFileError("The keyring holds no keys")
        for key_id in self.keys:
            _check_key_id(key_id)
        if self.active_id not in self.keys:
            raise KeyFileError(f"The active key id {self.active_id!r} is not among the loaded keys")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]


def parse_key_list(text: str, *, min_bytes: int = CREDENTIAL_KEY_BYTES,
                   max_bytes: int | None = CREDENTIAL_KEY_BYTES) -> dict[str, bytes]:
    """Parse `kid:base64url,kid:base64url` (order kept, padding optional); raises KeyFileError."""
    keys: dict[str, bytes] = {}
    for position, raw in enumerate(text.split(","), start=1):
        entry = raw.strip()
        if not entry:
            raise KeyFileError(f"Key list entry {position} is empty")
        key_id, sep, encoded = entry.partition(":")
        if not sep:
            raise KeyFileError(f"Key list entry {position} is not of the form kid:base64url")
        key_id = key_id.strip()
        _check_key_id(key_id)
        if key_id in keys:
            raise KeyFileError(f"Key id {key_id!r} is listed twice")
        keys[key_id] = _decode_key(key_id, encoded.strip(), min_bytes, max_bytes)
    return keys


def load_keyring(env_keys: str | None, key_file: Path | None, active_id: str | None, *,
                 create_file_if_missing: bool) -> Keyring:
    """The credential keyring (32-byte AES keys) from an env key list or a JSON key file.

    Exactly one source must be given (an empty `env_keys` counts as unset). `active_id` overrides the file's
    `active` (default for a list: the first key). With `create_file_if_missing` (embedded mode) a missing file is
    created with one random key, mode 0600. Raises KeyFileInsecureError when the file grants group/other bits,
    KeyFileError for anything else wrong.
    """
    return _load(env_keys, key_file, active_id, create_file_if_missing, min_bytes=CREDENTIAL_KEY_BYTES,
                 max_bytes=CREDENTIAL_KEY_BYTES, new_key_bytes=CREDENTIAL_KEY_BYTES)


def load_signing_keys(env_keys: str | None, key_file: Path | None, active_id: str | None, *,
                      create_file_if_missing: bool) -> Keyring:
    """The JWT signing keyring (HS256 keys of at least 32 bytes); same sources and rules as `load_keyring`."""
    return _load(env_keys, key_file, active_id, create_file_if_missing, min_bytes=SIGNING_KEY_MIN_BYTES,
                 max_bytes=None, new_key_bytes=_NEW_SIGNING_KEY_BYTES)


def _load(env_keys: str | None, key_file: Path | None, active_id: str | None, create: bool, *,
          min_bytes: int, max_bytes: int | None, new_key_bytes: int) -> Keyring:
    env_keys = env_keys.strip() if env_keys else None
    if env_keys and key_file is not None:
        # Two sources would make it ambiguous which keys encrypted what; the composition root picks one.
        raise KeyFileError("Configure either a key list or a key file, not both")
    if env_keys:
        keys = parse_key_list(env_keys, min_bytes=min_bytes, max_bytes=max_bytes)
        return Keyring(active_id or next(iter(keys)), keys)
    if key_file is None:
        raise KeyFileError("No keys are configured")
    if create and not key_file.exists():
        _create_key_file(key_file, new_key_bytes)
    file_active, keys = _read_key_file(key_file, min_bytes, max_bytes)
    return Keyring(active_id or file_active, keys)


def _create_key_file(path: Path, key_bytes: int) -> None:
    """Write a new key file without a moment where it is readable by others or half-written.

    The content goes to a private temporary file first, then is hard-linked into place: the link fails when another
    process of the same install won the race, and then both use the winner's keys.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_id = f"k{secrets.token_hex(6)}"
    key = base64.urlsafe_b64encode(secrets.token_bytes(key_bytes)).decode("ascii").rstrip("=")
    content = json.dumps({"active": key_id, "keys": {key_id: key}}, indent=2).encode("utf-8") + b"\n"
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        _write_exclusive(temporary, content)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
        except OSError:
            # Some filesystems have no hard links; O_EXCL on the target still never replaces a winner's file.
            with contextlib.suppress(FileExistsError):
                _write_exclusive(path, content)
    except OSError as exc:
        raise KeyFileError(f"Cannot create the key file {path}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _write_exclusive(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_key_file(path: Path, min_bytes: int, max_bytes: int | None) -> tuple[str, dict[str, bytes]]:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError as exc:
        raise KeyFileError(f"The key file {path} does not exist") from exc
    except OSError as exc:
        raise KeyFileError(f"Cannot open the key file {path}: {exc.strerror}") from exc
    try:
        # Checked on the opened descriptor, so the file cannot be swapped between the check and the read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"The key file {path} is not a regular file")
        if os.name == "posix" and info.st_mode & 0o077:
            raise KeyFileInsecureError(
                f"The key file {path} has mode {stat.S_IMODE(info.st_mode):04o}; run: chmod 600 {path}")
        raw = os.read(fd, _MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > _MAX_FILE_BYTES:
        raise KeyFileError(f"The key file {path} is too large")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"The key file {path} is not valid JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
        raise KeyFileError(f'The key file {path} must be {{"active": kid, "keys": {{kid: key}}}}')
    active = document.get("active")
    if not isinstance(active, str):
        raise KeyFileError(f"The key file {path} has no string 'active' key id")
    keys: dict[str, bytes] = {}
    for key_id, encoded in document["keys"].items():
        _check_key_id(key_id)
        if not isinstance(encoded, str):
            raise KeyFileError(f"Key {key_id!r} in {path} is not a base64url string")
        keys[key_id] = _decode_key(key_id, encoded, min_bytes, max_bytes)
    return active, keys


def _check_key_id(key_id: object) -> None:
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise KeyFileError(f"Key id {key_id!r} must match [A-Za-z0-9_-]{{1,64}}")


def _decode_key(key_id: str, encoded: str, min_bytes: int, max_bytes: int | None) -> bytes:
    if not _BASE64URL.fullmatch(encoded):
        raise KeyFileError(f"Key {key_id!r} is not base64url")
    try:
        key = base64.urlsafe_b64decode(encoded.rstrip("=") + "=" * (-len(encoded.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"Key {key_id!r} is not base64url") from exc
    if len(key) < min_bytes or (max_bytes is not None and len(key) > max_bytes):
        wanted = f"{min_bytes}" if max_bytes == min_bytes else f"at least {min_bytes}"
        raise KeyFileError(f"Key {key_id!r} has {len(key)} bytes; {wanted} are required")
    return key
