"""Blob stores for encrypted document bytes: local files and S3 (SPEC.md SEC-1, SEC-5).

Both implement the `BlobStore` port with one contract: keys are `/`-separated names such as
`"<record>/<document>"`; `get` of an absent key raises KeyError; `delete` is idempotent. The
stores only ever see ciphertext (the vault encrypts before `put`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_COMPONENT = re.compile(r"[A-Za-z0-9_~:@+=-][A-Za-z0-9._~:@+=-]{0,199}")
_MAX_KEY_LENGTH = 1024
_PUT_ATTEMPTS = 5


class InvalidBlobKey(ValueError):
    """A key that could escape the store or is not portable across stores."""


def validate_key(key: str) -> list[str]:
    """Split `key` into components, refusing traversal, absolute paths and odd characters.

    A component is 1-200 characters of `A-Z a-z 0-9 . _ ~ : @ + = -` not starting with a dot
    (so `.`/`..` and the stores' own temporary files can never be named).
    """
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY_LENGTH:
        raise InvalidBlobKey("a blob key is a non-empty string of at most 1024 characters")
    parts = key.split("/")
    for part in parts:
        if not _COMPONENT.fullmatch(part):
            raise InvalidBlobKey(
                "each blob key component must be 1-200 characters of [A-Za-z0-9._~:@+=-], "
                "not starting with '.', with no empty component (no absolute key, no '..')"
            )
    return parts


class FilesystemBlobStore:
    """Blobs as files under `root`, sharded by a hash of the first key component.

    `"<record>/<document>"` lives at `root/ab/cd/<record>/<document>` where `abcd…` is the
    SHA-256 of the record id, so no directory grows with the number of records and a record's
    blobs stay together. Writes are atomic and durable (temp file, fsync, rename, fsync dir):
    an acknowledged document is never lost or half-written (SEC-5).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)
        self._root.mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def root(self) -> Path:
        return self._root

    def _shard(self, first: str) -> Path:
        digest = hashlib.sha256(first.encode("utf-8")).hexdigest()
        return self._root / digest[:2] / digest[2:4]

    def _path(self, key: str) -> Path:
        parts = validate_key(key)
        return self._shard(parts[0]).joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        for _ in range(_PUT_ATTEMPTS):
            try:
                self._make_dirs(path.parent)
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            except FileNotFoundError:
                continue  # a concurrent delete pruned an empty directory: create it again
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _fsync_dir(path.parent)
            return
        raise OSError(f"could not create the directory for blob {key!r}")

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError:
            return  # a prefix of other keys, not a blob
        with contextlib.suppress(FileNotFoundError):  # already pruned by a concurrent delete
            _fsync_dir(path.parent)
        self._prune(path.parent)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with `prefix`, in no particular order."""
        if "/" in prefix:
            first = prefix.split("/", 1)[0]
            validate_key(first)
            tops: list[Path] = [self._shard(first) / first]
        else:
            tops = [self._root]
        for top in tops:
            for directory, dirnames, filenames in os.walk(top):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    if name.startswith("."):
                        continue
                    key = self._key_of(Path(directory) / name)
                    if key is not None and key.startswith(prefix):
                        yield key

    def _key_of(self, path: Path) -> str | None:
        """The key a file stands for, or None for a stray file outside the layout."""
        rel = path.relative_to(self._root).parts
        if len(rel) < 3:
            return None
        key = "/".join(rel[2:])
        try:
            parts = validate_key(key)
        except InvalidBlobKey:
            return None
        return key if self._shard(parts[0]) == self._root.joinpath(*rel[:2]) else None

    def _make_dirs(self, directory: Path) -> None:
        """Create missing directories, fsyncing each parent so the entry survives a crash."""
        missing: list[Path] = []
        current = directory
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)
            _fsync_dir(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove directories left empty up to the root, so a purged record leaves no trace
        of its id in the tree (REC-4)."""
        while directory != self._root and self._root in directory.parents:
            try:
                directory.rmdir()
                _fsync_dir(directory.parent)
            except OSError:
                return  # not empty, or already gone
            directory = directory.parent


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3BlobStore:
    """Blobs as objects of one S3 (or MinIO, Ceph…) bucket; same contract as the filesystem.

    S3 writes are atomic and durable once `put_object` returns, which is what SEC-5 needs.
    """

    def __init__(self, bucket: str, client: Any) -> None:
        self._bucket = bucket
        self._client = client

    @classmethod
    def from_settings(
        cls,
        *,
        endpoint_url: str | None,
        region: str | None,
        access_key: str | None,
        secret_key: str | None,
        bucket: str,
    ) -> S3BlobStore:
        """A store with its own boto3 client; None credentials fall back to boto3's chain."""
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"max_attempts": 5, "mode": "standard"},
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        return cls(bucket, client)

    @property
    def bucket(self) -> str:
        return self._bucket

    def put(self, key: str, data: bytes) -> None:
        validate_key(key)
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        validate_key(key)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except self._client.exceptions.NoSuchKey:
            raise KeyError(key) from None
        body = response["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def delete(self, key: str) -> None:
        validate_key(key)
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]
