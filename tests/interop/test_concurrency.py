"""Concurrent clients on a real server (issue 3 §5, robustness): the same ITI-65 Bundle sent by
several clients at the same instant is stored once; the others get 409 DMP-0410 (DOC-1: a
uniqueId is unique in the record), never a 5xx nor a second copy. SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.api.support import FHIR_JSON, Api, Doc, outcome_code, provide_bundle
from tests.interop.server import ServerProcess
from tests.interop.support import fresh_ins

CLIENTS = 4
ATTEMPTS = 3


def _send(
    server: ServerProcess,
    bundle: dict[str, Any],
    headers: dict[str, str],
    start: threading.Barrier,
    answers: list[httpx.Response],
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        start.wait(timeout=10)  # every client sends at the same instant
        answers.append(client.post("/fhir", json=bundle, headers=headers))


def test_doc_1_the_same_bundle_sent_at_once_is_stored_once(server: ServerProcess, api: Api) -> None:
    ins = fresh_ins()
    record_id = api.open_record(ins)
    headers = {**FHIR_JSON, **api.professional()}
    for _ in range(ATTEMPTS):
        bundle = provide_bundle(ins, [Doc(data=b"%PDF-1.4 " + bytes(200_000))])
        start = threading.Barrier(CLIENTS)
        answers: list[httpx.Response] = []
        threads = [
            threading.Thread(target=_send, args=(server, bundle, headers, start, answers))
            for _ in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [409] * (CLIENTS - 1), [a.text[:300] for a in answers]
        assert {outcome_code(a) for a in answers if a.status_code == 409} == {"DMP-0410"}
    found = api.http.get(
        "/fhir/DocumentReference", params={"patient": record_id}, headers=api.professional()
    ).json()
    assert found["total"] == ATTEMPTS
