"""SEC-5, DOC-3 on PostgreSQL: two concurrent replacements of one document cannot both win."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import Engine

from opendmp.domain.documents import DocumentStatus
from opendmp.domain.errors import DmpError
from opendmp.services.context import ServiceContext
from opendmp.services.records import open_record
from opendmp.services.submit_documents import SubmitResult, submit_documents
from tests.support import a_draft, a_submission, an_ins, call, open_command, physician


def test_two_concurrent_replacements_cannot_both_win_doc_3(
    services: ServiceContext, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent writers: PostgreSQL (SQLite serializes writers)")
    record = open_record(services, call(physician()), open_command(an_ins()))
    old = submit_documents(services, call(physician()), a_submission(record.id, a_draft("c0")))
    old_id = old.documents[0].id
    start = threading.Barrier(2)
    results: list[SubmitResult | DmpError] = []

    def replace_it(unique: str) -> None:
        start.wait()
        try:
            results.append(
                submit_documents(
                    services,
                    call(physician()),
                    a_submission(record.id, a_draft(unique, replaces=old_id)),
                )
            )
        except DmpError as error:
            results.append(error)

    threads = [threading.Thread(target=replace_it, args=(u,)) for u in ("c1", "c2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [r for r in results if isinstance(r, SubmitResult)]
    losers = [r for r in results if isinstance(r, DmpError)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert losers[0].code in {"DMP-0442", "DMP-0409"}
    with services.uow() as uow:
        documents = uow.documents.list_all(record.id)
    current = [d for d in documents if d.status is DocumentStatus.CURRENT]
    assert [d.id for d in current] == [winners[0].documents[0].id]
    assert list(services.blobs.keys(f"{record.id}/")).__len__() == 2
