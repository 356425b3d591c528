"""Envelope encryption against real AES-GCM and a real key file (SPEC.md SEC-1, REC-4)."""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from opendmp.adapters.crypto import (
    FORMAT_V1,
    DecryptionError,
    EnvelopeVault,
    FileKeyProvider,
    KeyFileError,
    StaticKeyProvider,
    UnknownMasterKey,
)
from opendmp.services.ports import Vault, WrappedKey

MARKER = b"OPENDMP-PLAINTEXT-MARKER-" + b"0123456789abcdef" * 2 + b"-END-OF-MARKER!"
assert len(MARKER) == 72  # longer than 64 bytes: it cannot appear by chance


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys.json"


@pytest.fixture
def provider(key_file: Path) -> FileKeyProvider:
    return FileKeyProvider.create(key_file, key_id="mk-1")


@pytest.fixture
def vault(provider: FileKeyProvider) -> EnvelopeVault:
    return EnvelopeVault(provider)


def test_sec1_envelope_vault_implements_the_vault_port(vault: EnvelopeVault) -> None:
    port: Vault = vault
    assert port.current_master_key_id == "mk-1"


def test_sec1_round_trip(vault: EnvelopeVault) -> None:
    key = vault.new_data_key()
    ciphertext = vault.encrypt(key, b"compte rendu \xc3\xa9" + MARKER, context="r1/d1")
    assert vault.decrypt(key, ciphertext, context="r1/d1") == b"compte rendu \xc3\xa9" + MARKER


def test_sec1_empty_and_large_plaintexts_round_trip(vault: EnvelopeVault) -> None:
    key = vault.new_data_key()
    big = os.urandom(3 * 1024 * 1024)
    for plaintext in (b"", big):
        assert vault.decrypt(key, vault.encrypt(key, plaintext, context="c"), context="c") == (
            plaintext
        )


def test_sec1_formats_are_versioned(vault: EnvelopeVault) -> None:
    key = vault.new_data_key()
    assert key.master_key_id == "mk-1"
    assert key.wrapped[:1] == FORMAT_V1 and len(key.wrapped) == 1 + 12 + 32 + 16
    ciphertext = vault.encrypt(key, b"abc", context="r/d")
    assert ciphertext[:1] == FORMAT_V1 and len(ciphertext) == 1 + 12 + 3 + 16


def test_sec1_ciphertext_and_wrapped_key_do_not_contain_the_plaintext(
    vault: EnvelopeVault, provider: FileKeyProvider
) -> None:
    key = vault.new_data_key()
    ciphertext = vault.encrypt(key, b"head " + MARKER * 100 + b" tail", context="r/d")
    assert MARKER not in ciphertext
    assert MARKER[:32] not in ciphertext
    assert provider.key("mk-1") not in key.wrapped


def test_sec1_same_plaintext_encrypts_differently_each_time(vault: EnvelopeVault) -> None:
    key = vault.new_data_key()
    assert vault.encrypt(key, MARKER, context="r/d") != vault.encrypt(key, MARKER, context="r/d")


def test_sec1_tampered_ciphertext_fails(vault: EnvelopeVault) -> None:
    key = vault.new_data_key()
    ciphertext = bytearray(vault.encrypt(key, MARKER, context="r/d"))
    for position in (1, 20, len(ciphertext) - 1):  # nonce, body, tag
        tampered = bytearray(ciphertext)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError, match="failed authentication"):
            vault.decrypt(key, bytes(tampered), context="r/d")
    with pytest.raises(DecryptionError):
        vault.decrypt(key, bytes(ciphertext[:20]), context="r/d")
    with pytest.raises(DecryptionError, match="version"):
        vault.decrypt(key, b"\x02" + bytes(ciphertext[1:]), context="r/d")


def test_sec1_blob_moved_to_another_document_does_not_decrypt(vault: EnvelopeVault) -> None:
    key = vault.new_data_key()
    ciphertext = vault.encrypt(key, MARKER, context="record-1/doc-1")
    with pytest.raises(DecryptionError):
        vault.decrypt(key, ciphertext, context="record-1/doc-2")
    with pytest.raises(DecryptionError):
        vault.decrypt(key, ciphertext, context="record-2/doc-1")


def test_sec1_another_records_key_does_not_decrypt(vault: EnvelopeVault) -> None:
    key, other = vault.new_data_key(), vault.new_data_key()
    ciphertext = vault.encrypt(key, MARKER, context="r/d")
    with pytest.raises(DecryptionError):
        vault.decrypt(other, ciphertext, context="r/d")


def test_sec1_tampered_wrapped_key_fails(vault: EnvelopeVault) -> None:
    key = vault.new_data_key()
    ciphertext = vault.encrypt(key, MARKER, context="r/d")
    fresh = EnvelopeVault(StaticKeyProvider({"mk-1": b"\x00" * 32}, "mk-1"))
    with pytest.raises(DecryptionError, match="wrapped data key"):
        fresh.decrypt(key, ciphertext, context="r/d")  # the right id, the wrong master key
    tampered = bytearray(key.wrapped)
    tampered[-1] ^= 0x80
    with pytest.raises(DecryptionError, match="wrapped data key"):
        vault.decrypt(replace(key, wrapped=bytes(tampered)), ciphertext, context="r/d")
    with pytest.raises(DecryptionError, match="malformed"):
        vault.decrypt(replace(key, wrapped=key.wrapped[:-1]), ciphertext, context="r/d")


def test_sec1_wrapped_key_is_bound_to_its_master_key_id(tmp_path: Path) -> None:
    """Relabelling a wrapped key with another master id fails even if both keys are equal."""
    same = os.urandom(32)
    vault = EnvelopeVault(StaticKeyProvider({"mk-a": same, "mk-b": same}, "mk-a"))
    key = vault.new_data_key()
    ciphertext = vault.encrypt(key, MARKER, context="r/d")
    with pytest.raises(DecryptionError):
        vault.decrypt(WrappedKey("mk-b", key.wrapped), ciphertext, context="r/d")


def test_sec1_rotation_rewraps_without_reencrypting(
    vault: EnvelopeVault, provider: FileKeyProvider
) -> None:
    old_key = vault.new_data_key()
    blob = vault.encrypt(old_key, MARKER, context="r/d")

    new_id = provider.add_key(key_id="mk-2")
    assert provider.current_id == new_id == vault.current_master_key_id == "mk-2"
    rewrapped = vault.rewrap(old_key)

    assert rewrapped.master_key_id == "mk-2"
    assert rewrapped.wrapped != old_key.wrapped
    assert vault.decrypt(rewrapped, blob, context="r/d") == MARKER  # the old blob, untouched
    assert vault.decrypt(old_key, blob, context="r/d") == MARKER  # old master still held
    assert vault.new_data_key().master_key_id == "mk-2"
    assert vault.rewrap(rewrapped) == rewrapped  # already current: nothing to do


def test_sec1_rotation_is_seen_by_another_process_without_restart(
    key_file: Path, provider: FileKeyProvider
) -> None:
    """SEC-1 rotation without downtime: a running provider re-reads the changed key file."""
    running = EnvelopeVault(FileKeyProvider(key_file))
    key = running.new_data_key()
    blob = running.encrypt(key, MARKER, context="r/d")
    FileKeyProvider(key_file).add_key(key_id="mk-2")  # `opendmp keys rotate` elsewhere
    assert running.current_master_key_id == "mk-2"
    rewrapped = EnvelopeVault(FileKeyProvider(key_file)).rewrap(key)
    assert running.decrypt(rewrapped, blob, context="r/d") == MARKER


def test_rec4_destroying_the_wrapped_key_makes_data_unrecoverable(
    vault: EnvelopeVault, key_file: Path
) -> None:
    """REC-4 crypto-shredding: once the record's wrapped key is gone, no key in the system
    (another record's data key, a fresh key, a fresh vault on the same master) decrypts."""
    record_keys = {"r1": vault.new_data_key(), "r2": vault.new_data_key()}
    blob = vault.encrypt(record_keys["r1"], MARKER, context="r1/d1")
    del record_keys["r1"]  # KeyRepository.destroy
    vault.forget()

    survivors = [record_keys["r2"], vault.new_data_key()]
    other_vault = EnvelopeVault(FileKeyProvider(key_file))
    for candidate in survivors:
        for each in (vault, other_vault):
            with pytest.raises(DecryptionError):
                each.decrypt(candidate, blob, context="r1/d1")
    assert MARKER not in blob


def test_unwrapped_key_cache_is_bounded(provider: FileKeyProvider) -> None:
    vault = EnvelopeVault(provider, cache_size=4)
    keys = [vault.new_data_key() for _ in range(10)]
    blobs = [vault.encrypt(k, b"x", context="c") for k in keys]
    assert len(vault._cache) == 4
    assert all(vault.decrypt(k, b, context="c") == b"x" for k, b in zip(keys, blobs, strict=True))


def test_sec1_key_file_is_private(key_file: Path, provider: FileKeyProvider) -> None:
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    provider.add_key()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    doc = json.loads(key_file.read_text())
    assert doc["current"] == provider.current_id
    assert sorted(doc["keys"]) == provider.key_ids
    assert all(len(base64.b64decode(v)) == 32 for v in doc["keys"].values())
    assert not list(key_file.parent.glob(".*.tmp"))  # no temporary file left behind


def test_sec1_key_file_is_never_overwritten(key_file: Path, provider: FileKeyProvider) -> None:
    before = key_file.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        FileKeyProvider.create(key_file)
    assert key_file.read_bytes() == before


def test_sec1_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        FileKeyProvider(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must be an object"),
        ('{"keys": {}}', '"current" must name'),
        ('{"current": "a", "keys": {"b": "AAAA"}}', '"current" must name'),
        ('{"current": "a", "keys": {"a": "AAAA"}}', "is not 32 bytes"),
        ('{"current": "a", "keys": {"a": "!!not base64!!"}}', "is not 32 bytes"),
        ('{"current": "a", "keys": {"a": 12}}', "is not 32 bytes"),
    ],
)
def test_sec1_corrupt_key_file_is_a_clear_error(key_file: Path, content: str, message: str) -> None:
    key_file.write_text(content)
    with pytest.raises(KeyFileError, match=message):
        FileKeyProvider(key_file)


def test_sec4_key_material_is_not_in_errors_or_reprs(key_file: Path) -> None:
    secret = base64.b64encode(os.urandom(31)).decode()  # valid base64, wrong length
    key_file.write_text(json.dumps({"current": "a", "keys": {"a": secret}}))
    with pytest.raises(KeyFileError) as caught:
        FileKeyProvider(key_file)
    assert secret not in str(caught.value) and caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    good = FileKeyProvider.create(key_file.with_name("good.json"))
    raw = good.key(good.current_id)
    for text in (repr(good), repr(EnvelopeVault(good))):
        assert base64.b64encode(raw).decode() not in text and "good.json" in text


def test_sec1_unknown_master_key_is_a_clear_error(
    vault: EnvelopeVault, provider: FileKeyProvider
) -> None:
    key = vault.new_data_key()
    with pytest.raises(UnknownMasterKey, match="mk-gone"):
        vault.decrypt(WrappedKey("mk-gone", key.wrapped), b"\x01" + b"0" * 40, context="c")
    with pytest.raises(UnknownMasterKey):
        provider.key("mk-gone")
