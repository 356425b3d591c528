"""Envelope encryption of record data (SPEC.md SEC-1, REC-4; docs/encryption.md).

Each record has a random 256-bit data key; only its *wrapped* form (AES-256-GCM under a master
key) is stored. Blobs are encrypted with the data key, their storage context bound as
associated data. Rotating the master key re-wraps data keys without touching blobs; destroying
a record's wrapped key (crypto-shredding) makes its blobs unreadable.

Key material never appears in exceptions, reprs or logs (SEC-4).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from opendmp.services.ports import WrappedKey

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce
TAG_BYTES = 16
FORMAT_V1 = b"\x01"  # first byte of every wrapped key and ciphertext we write
_WRAP_AAD_PREFIX = b"opendmp/wrap/v1/"


class CryptoError(Exception):
    """Base of the encryption adapter's errors: an operator or integrity problem, not a
    caller mistake; the message is safe to log (no key material, no plaintext)."""


class KeyFileError(CryptoError):
    """The master key file is missing, unreadable or malformed."""


class UnknownMasterKey(CryptoError):
    """A wrapped key names a master key the provider does not hold."""


class DecryptionError(CryptoError):
    """Authentication failed: tampered data, wrong key or wrong context (SEC-1)."""


class MasterKeyProvider(Protocol):
    """Where master keys come from (SEC-1: a local key file by default, a KMS later)."""

    @property
    def current_id(self) -> str:
        """The master key that wraps new data keys."""
        ...

    def key(self, key_id: str) -> bytes:
        """The 32-byte master key `key_id`; raise UnknownMasterKey if not held."""
        ...


def _new_key_id() -> str:
    return f"mk-{secrets.token_hex(8)}"


def _check_key_id(key_id: str) -> None:
    if not key_id or not key_id.isascii() or not key_id.isprintable() or len(key_id) > 64:
        raise ValueError("a master key id is 1 to 64 printable ASCII characters")


class StaticKeyProvider:
    """Master keys held in memory, for tests and embedding (never persisted)."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        for key_id, key in keys.items():
            _check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise ValueError(f"master key {key_id!r} must be {KEY_BYTES} bytes")
        if current not in keys:
            raise UnknownMasterKey(f"current master key {current!r} is not among the keys")
        self._keys = dict(keys)
        self._current = current

    @classmethod
    def generate(cls, key_id: str = "mk-test") -> StaticKeyProvider:
        return cls({key_id: AESGCM.generate_key(bit_length=256)}, key_id)

    @property
    def current_id(self) -> str:
        return self._current

    def key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownMasterKey(f"unknown master key {key_id!r}") from None

    def __repr__(self) -> str:
        return f"StaticKeyProvider(current={self._current!r}, ids={sorted(self._keys)!r})"


class FileKeyProvider:
    """Master keys from a JSON file `{"current": id, "keys": {id: base64}}` (SEC-1).

    The file is re-read when it changes on disk, so `opendmp` processes already running pick
    up a key added by rotation without a restart (SEC-1: rotation without downtime).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._current = ""
        self._keys: dict[str, bytes] = {}
        self._reload_if_changed()

    @property
    def path(self) -> Path:
        return self._path

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, key_id: str | None = None) -> FileKeyProvider:
        """Write a new key file holding one random master key, readable by its owner only.

        Refuses to overwrite an existing file: losing a master key loses every record.
        """
        target = Path(path)
        key_id = key_id or _new_key_id()
        _check_key_id(key_id)
        content = _serialize(key_id, {key_id: AESGCM.generate_key(bit_length=256)})
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyFileError(f"key file {target} already exists; refusing to overwrite") from None
        except OSError as exc:
            raise KeyFileError(f"cannot create key file {target}: {exc.strerror}") from None
        try:
            os.fchmod(fd, 0o600)  # the umask cannot widen it, but be explicit
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(target.parent)
        return cls(target)

    def add_key(self, *, key_id: str | None = None) -> str:
        """Add a random master key and make it current; older keys stay for unwrapping.

        Returns the new key id. Run `rewrap` on each record afterwards (the rotation job).
        """
        with self._lock:
            self._load()
            key_id = key_id or _new_key_id()
            _check_key_id(key_id)
            if key_id in self._keys:
                raise KeyFileError(f"master key {key_id!r} already exists in {self._path}")
            keys = {**self._keys, key_id: AESGCM.generate_key(bit_length=256)}
            _atomic_write_private(self._path, _serialize(key_id, keys))
            self._stamp = None
            self._load()
        return key_id

    @property
    def current_id(self) -> str:
        self._reload_if_changed()
        return self._current

    @property
    def key_ids(self) -> list[str]:
        self._reload_if_changed()
        return sorted(self._keys)

    def key(self, key_id: str) -> bytes:
        self._reload_if_changed()
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownMasterKey(
                f"master key {key_id!r} is not in the key file {self._path}"
            ) from None

    def _reload_if_changed(self) -> None:
        with self._lock:
            self._load()

    def _load(self) -> None:
        try:
            info = self._path.stat()
        except FileNotFoundError:
            raise KeyFileError(
                f"key file {self._path} not found; create one with FileKeyProvider.create"
            ) from None
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {self._path}: {exc.strerror}") from None
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        if stamp == self._stamp:
            return
        try:
            raw = self._path.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {self._path}: {exc.strerror}") from None
        self._current, self._keys = _parse(raw, self._path)
        self._stamp = stamp

    def __repr__(self) -> str:
        return f"FileKeyProvider({str(self._path)!r})"


def _serialize(current: str, keys: Mapping[str, bytes]) -> bytes:
    doc = {
        "current": current,
        "keys": {key_id: base64.b64encode(key).decode("ascii") for key_id, key in keys.items()},
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _parse(raw: bytes, path: Path) -> tuple[str, dict[str, bytes]]:
    """Validate a key file; `from None` everywhere so its content never reaches a traceback."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeyFileError(f"key file {path} is not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
        raise KeyFileError(f'key file {path} must be an object with a "keys" object')
    current = doc.get("current")
    if not isinstance(current, str) or current not in doc["keys"]:
        raise KeyFileError(f'key file {path}: "current" must name one of its keys')
    keys: dict[str, bytes] = {}
    for key_id, encoded in doc["keys"].items():
        try:
            _check_key_id(key_id)
        except ValueError:
            raise KeyFileError(f"key file {path}: invalid master key id {key_id!r}") from None
        try:
            key = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
        except (ValueError, binascii.Error):
            key = b""
        if len(key) != KEY_BYTES:
            raise KeyFileError(
                f"key file {path}: key {key_id!r} is not {KEY_BYTES} bytes of base64"
            ) from None
        keys[key_id] = key
    return current, keys


def _atomic_write_private(path: Path, content: bytes) -> None:
    """Replace `path` atomically with a 0600 file (temp file, fsync, rename, fsync dir)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
        os.write(fd, content)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise KeyFileError(f"cannot write key file {path}: {exc.strerror}") from None
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EnvelopeVault:
    """The `Vault` port: AES-256-GCM data keys wrapped by master keys (SEC-1).

    Formats (version byte first, so a future scheme can coexist):
    wrapped key = 0x01 | nonce(12) | AES-GCM(master, data key, aad="opendmp/wrap/v1/<id>")
    ciphertext  = 0x01 | nonce(12) | AES-GCM(data key, plaintext, aad=context)
    """

    def __init__(self, provider: MasterKeyProvider, *, cache_size: int = 256) -> None:
        self._provider = provider
        self._cache: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._cache_size = max(0, cache_size)
        self._lock = threading.Lock()

    @property
    def current_master_key_id(self) -> str:
        return self._provider.current_id

    def new_data_key(self) -> WrappedKey:
        return self._wrap(AESGCM.generate_key(bit_length=256))

    def encrypt(self, key: WrappedKey, plaintext: bytes, *, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._unwrap(key)).encrypt(nonce, plaintext, context.encode("utf-8"))
        return FORMAT_V1 + nonce + sealed

    def decrypt(self, key: WrappedKey, ciphertext: bytes, *, context: str) -> bytes:
        if len(ciphertext) < 1 + NONCE_BYTES + TAG_BYTES or ciphertext[:1] != FORMAT_V1:
            raise DecryptionError("ciphertext is truncated or has an unknown format version")
        data_key = self._unwrap(key)
        nonce, sealed = ciphertext[1 : 1 + NONCE_BYTES], ciphertext[1 + NONCE_BYTES :]
        try:
            return AESGCM(data_key).decrypt(nonce, sealed, context.encode("utf-8"))
        except InvalidTag:
            raise DecryptionError(
                "ciphertext failed authentication: tampered, or wrong record key or context"
            ) from None

    def rewrap(self, key: WrappedKey) -> WrappedKey:
        """The same data key under the current master key; blobs stay as they are."""
        if key.master_key_id == self._provider.current_id:
            return key
        return self._wrap(self._unwrap(key))

    def _wrap(self, data_key: bytes) -> WrappedKey:
        master_id = self._provider.current_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._provider.key(master_id)).encrypt(
            nonce, data_key, _WRAP_AAD_PREFIX + master_id.encode("utf-8")
        )
        return WrappedKey(master_key_id=master_id, wrapped=FORMAT_V1 + nonce + sealed)

    def _unwrap(self, key: WrappedKey) -> bytes:
        cache_key = (key.master_key_id, key.wrapped)
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached is not None:
                self._cache.move_to_end(cache_key)
                return cached
        wrapped = key.wrapped
        if len(wrapped) != 1 + NONCE_BYTES + KEY_BYTES + TAG_BYTES or wrapped[:1] != FORMAT_V1:
            raise DecryptionError("wrapped data key is malformed or has an unknown version")
        master = self._provider.key(key.master_key_id)
        try:
            data_key = AESGCM(master).decrypt(
                wrapped[1 : 1 + NONCE_BYTES],
                wrapped[1 + NONCE_BYTES :],
                _WRAP_AAD_PREFIX + key.master_key_id.encode("utf-8"),
            )
        except InvalidTag:
            raise DecryptionError(
                f"wrapped data key failed authentication under master key {key.master_key_id!r}"
            ) from None
        if self._cache_size:
            with self._lock:
                self._cache[cache_key] = data_key
                self._cache.move_to_end(cache_key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return data_key

    def forget(self) -> None:
        """Drop every unwrapped data key held in memory (after crypto-shredding, REC-4)."""
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        return f"EnvelopeVault({self._provider!r})"
