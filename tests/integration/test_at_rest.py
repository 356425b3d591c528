"""SEC-1, DOC-2: no byte of a submitted document is readable in the database or blob files."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from opendmp.services.context import ServiceContext
from opendmp.services.records import open_record
from opendmp.services.retrieve_document import retrieve_document
from opendmp.services.submit_documents import submit_documents
from tests.support import a_draft, a_submission, an_ins, call, open_command, physician

MARKER = b"OPENDMP-PLAINTEXT-MARKER-" + os.urandom(8).hex().encode() + b"-END-OF-MARKER"


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_document_bytes_are_encrypted_at_rest_sec_1(
    services: ServiceContext, engine: Engine, blob_dir: Path
) -> None:
    record = open_record(services, call(physician()), open_command(an_ins()))
    body = b"%PDF-1.4\n" + MARKER * 50 + b"\n%%EOF"
    result = submit_documents(
        services, call(physician()), a_submission(record.id, a_draft("enc", data=body))
    )
    assert retrieve_document(services, call(physician()), result.documents[0].id)[1] == body

    blobs = _files_under(blob_dir)
    assert blobs, "the blob store wrote files"
    for path in blobs:
        assert MARKER[:32] not in path.read_bytes(), path
    if engine.dialect.name == "sqlite":
        database = Path(engine.url.database or "")
        for path in database.parent.glob(database.name + "*"):
            assert MARKER[:32] not in path.read_bytes(), path
    else:
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
            data_dir = connection.execute(text("SHOW data_directory")).scalar_one()
            db_oid = connection.execute(
                text("SELECT oid FROM pg_database WHERE datname = current_database()")
            ).scalar_one()
        base = Path(str(data_dir)) / "base" / str(db_oid)
        if base.exists():
            for path in _files_under(base):
                assert MARKER[:32] not in path.read_bytes(), path
        with engine.connect() as connection:  # and in any text column, whatever the files
            hits = connection.execute(
                text("SELECT count(*) FROM documents WHERE CAST(documents AS text) LIKE :m"),
                {"m": f"%{MARKER[:32].decode()}%"},
            ).scalar_one()
        assert hits == 0
