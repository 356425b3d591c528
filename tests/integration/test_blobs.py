"""One `BlobStore` contract run on the filesystem and on S3 over HTTP (moto's real server).

SPEC.md SEC-1 (stores hold ciphertext only), SEC-5 (writes are atomic), REC-4 (purge).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opendmp.adapters.blobs import FilesystemBlobStore, InvalidBlobKey, S3BlobStore
from opendmp.services.ports import BlobStore


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _settings_store(endpoint: str, bucket: str) -> S3BlobStore:
    return S3BlobStore.from_settings(
        endpoint_url=endpoint,
        region="eu-west-3",
        access_key="test-access-key",
        secret_key="test-secret-key",
        bucket=bucket,
    )


@pytest.fixture(scope="module")
def s3_client(s3_endpoint: str) -> Any:
    """One boto3 client for the module (building one costs ~0.3 s); a bucket per test."""
    return _settings_store(s3_endpoint, "unused")._client


def _s3_store(client: Any) -> S3BlobStore:
    bucket = f"opendmp-{uuid.uuid4().hex[:12]}"
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
    )
    return S3BlobStore(bucket, client)


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "filesystem":
        return FilesystemBlobStore(tmp_path / "blobs")
    return _s3_store(request.getfixturevalue("s3_client"))


def test_put_then_get_returns_the_same_bytes(store: BlobStore) -> None:
    data = os.urandom(100_000)
    store.put("rec-1/doc-1", data)
    assert store.get("rec-1/doc-1") == data


def test_empty_blob(store: BlobStore) -> None:
    store.put("rec-1/empty", b"")
    assert store.get("rec-1/empty") == b""


def test_get_absent_raises_key_error(store: BlobStore) -> None:
    with pytest.raises(KeyError):
        store.get("rec-1/absent")
    store.put("rec-1/doc-1", b"x")
    with pytest.raises(KeyError):
        store.get("rec-1")  # a prefix is not a blob


def test_overwrite_replaces_the_content(store: BlobStore) -> None:
    store.put("rec-1/doc-1", b"first version, longer")
    store.put("rec-1/doc-1", b"second")
    assert store.get("rec-1/doc-1") == b"second"
    assert list(store.keys()) == ["rec-1/doc-1"]


def test_delete_is_idempotent(store: BlobStore) -> None:
    store.put("rec-1/doc-1", b"x")
    store.put("rec-1/doc-2", b"y")
    store.delete("rec-1/doc-1")
    store.delete("rec-1/doc-1")
    store.delete("never/existed")
    with pytest.raises(KeyError):
        store.get("rec-1/doc-1")
    assert store.get("rec-1/doc-2") == b"y"


def test_keys_lists_by_prefix(store: BlobStore) -> None:
    expected = {"rec-1/doc-1", "rec-1/doc-2", "rec-10/doc-1", "rec-2/doc-1", "staging/abc"}
    for key in expected:
        store.put(key, key.encode())
    assert set(store.keys()) == expected
    assert set(store.keys("rec-1/")) == {"rec-1/doc-1", "rec-1/doc-2"}
    assert set(store.keys("rec-1")) == {"rec-1/doc-1", "rec-1/doc-2", "rec-10/doc-1"}
    assert set(store.keys("rec-1/doc-2")) == {"rec-1/doc-2"}
    assert list(store.keys("nothing/")) == []
    assert sorted(store.keys()) == sorted(expected)  # each key exactly once


def test_rec4_purging_a_record_leaves_no_key(store: BlobStore) -> None:
    for n in range(5):
        store.put(f"rec-9/doc-{n}", b"ciphertext")
    store.put("rec-8/doc-0", b"other record")
    for key in list(store.keys("rec-9/")):
        store.delete(key)
    assert list(store.keys()) == ["rec-8/doc-0"]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../escape",
        "rec/../../escape",
        "rec/..",
        "rec/./doc",
        "rec//doc",
        "rec/doc/",
        "rec\\..\\doc",
        "rec/.hidden",
        "rec/doc\x00",
        "rec/doc\n",
        "rec/" + "a" * 201,
    ],
)
def test_path_traversal_and_odd_keys_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobKey):
        store.put(key, b"x")
    with pytest.raises(InvalidBlobKey):
        store.get(key)
    with pytest.raises(InvalidBlobKey):
        store.delete(key)
    assert list(store.keys()) == []


def test_ids_with_oid_and_urn_characters_are_accepted(store: BlobStore) -> None:
    key = "8f0c2e1a-5b7d-4c3e-9a1f-2b3c4d5e6f70/urn:oid:1.2.250.1.213.1.1.1"
    store.put(key, b"x")
    assert store.get(key) == b"x"
    assert list(store.keys()) == [key]


def test_filesystem_layout_is_sharded_private_and_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemBlobStore(root)
    store.put("rec-1/doc-1", b"ciphertext")
    (path,) = [p for p in root.rglob("*") if p.is_file()]
    shard_a, shard_b, record, document = path.relative_to(root).parts
    assert (len(shard_a), len(shard_b), record, document) == (2, 2, "rec-1", "doc-1")
    assert path.stat().st_mode & 0o077 == 0
    assert not list(tmp_path.glob("**/.tmp-*"))
    store.delete("rec-1/doc-1")
    assert list(root.iterdir()) == []  # REC-4: no directory named after the record remains


def test_filesystem_keys_ignore_stray_and_temporary_files(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemBlobStore(root)
    store.put("rec-1/doc-1", b"x")
    (path,) = [p for p in root.rglob("*") if p.is_file()]
    (path.parent / ".tmp-crashed").write_bytes(b"half")  # a write interrupted by a crash
    (root / "README").write_text("stray")
    (root / "zz" / "zz" / "rec-1").mkdir(parents=True)  # wrong shard for this record
    (root / "zz" / "zz" / "rec-1" / "doc-9").write_bytes(b"x")
    assert list(store.keys()) == ["rec-1/doc-1"]


def test_filesystem_concurrent_puts_and_deletes_in_one_record(tmp_path: Path) -> None:
    """SEC-5: a put racing with the delete that prunes its directory still lands."""
    store = FilesystemBlobStore(tmp_path / "blobs")
    errors: list[BaseException] = []

    def churn(worker: int) -> None:
        try:
            for n in range(50):
                key = f"rec-1/doc-{worker}-{n}"
                store.put(key, key.encode())
                assert store.get(key) == key.encode()
                store.delete(key)
        except BaseException as exc:  # re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(store.keys()) == []


def test_s3_store_from_settings_uses_the_configured_bucket(s3_endpoint: str) -> None:
    store = _settings_store(s3_endpoint, f"opendmp-{uuid.uuid4().hex[:12]}")
    store._client.create_bucket(
        Bucket=store.bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
    )
    store.put("rec-1/doc-1", b"ciphertext")
    assert store.get("rec-1/doc-1") == b"ciphertext"
    listed = store._client.list_objects_v2(Bucket=store.bucket)
    assert [item["Key"] for item in listed["Contents"]] == ["rec-1/doc-1"]


def test_s3_missing_bucket_is_an_error_not_an_absent_key(s3_client: Any) -> None:
    store = S3BlobStore("no-such-bucket", s3_client)
    with pytest.raises(ClientError, match="NoSuchBucket"):
        store.get("rec-1/doc-1")
