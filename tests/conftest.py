"""Shared fixtures: a ServiceContext on the parametrized SQL engine (tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opendmp.adapters.blobs import FilesystemBlobStore
from opendmp.adapters.crypto import EnvelopeVault, FileKeyProvider
from opendmp.services.context import ServiceContext
from opendmp.services.ports import Deployment, UnitOfWorkFactory
from tests.support import SettableClock


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def key_provider(tmp_path: Path) -> FileKeyProvider:
    path = tmp_path / "master-keys.json"
    FileKeyProvider.create(path)
    return FileKeyProvider(path)


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def services(
    uow_factory: UnitOfWorkFactory,
    blob_dir: Path,
    key_provider: FileKeyProvider,
    clock: SettableClock,
) -> ServiceContext:
    """Every real adapter: SQL (SQLite or PostgreSQL), files, AES-GCM envelope encryption."""
    return ServiceContext(
        uow=uow_factory,
        blobs=FilesystemBlobStore(blob_dir),
        vault=EnvelopeVault(key_provider),
        clock=clock,
        deployment=Deployment(allow_test_ins=True),
    )
