"""The API on PostgreSQL, a smoke set (STYLE.md: one schema, two engines): open, submit,
search, retrieve, mask, audit. Unreachable PostgreSQL: skipped, or a failure when CI=true."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from opendmp.adapters.sql.engine import make_engine
from opendmp.bootstrap import build
from opendmp.settings import Settings
from opendmp.web.app import create_app
from tests.api.support import FHIR_JSON, NURSE, Api, Doc, http_client, provide_bundle
from tests.integration.conftest import wipe
from tests.support import LABELS, an_ins

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_api(settings: Settings, postgres_engine: Engine) -> Iterator[Api]:
    application = build(settings, create_keys=True, engine=postgres_engine)
    try:
        with http_client(create_app(application)) as client:
            yield Api(client)
    finally:
        wipe(postgres_engine)


def test_the_main_flow_on_postgresql(pg_api: Api) -> None:
    api = pg_api
    ins = an_ins()
    record_id = api.open_record(ins)
    api.authorize(record_id, NURSE, ins)
    data = b"%PDF-1.4 postgres smoke\n%%EOF"
    submitted = api.submit(provide_bundle(ins, [Doc(data=data), Doc()]))
    assert submitted.status_code == 200, submitted.text
    found = api.http.get(
        f"/fhir/DocumentReference?patient=Patient/{record_id}&_count=1", headers=api.nurse()
    )
    assert found.json()["total"] == 2 and len(found.json()["link"]) == 2
    doc_id = submitted.json()["entry"][1]["response"]["location"].split("/")[-3]
    assert api.http.get(f"/fhir/Binary/{doc_id}", headers=api.nurse()).content == data
    mask = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "meta", "valueMeta": {"security": [{"system": LABELS, "code": "MASQUE_PS"}]}}
        ],
    }
    masked = api.http.post(
        f"/fhir/DocumentReference/{doc_id}/$meta-add",
        json=mask,
        headers={**FHIR_JSON, **api.person(ins)},
    )
    assert masked.status_code == 200, masked.text
    assert api.http.get(f"/fhir/Binary/{doc_id}", headers=api.nurse()).status_code == 404
    audit = api.http.get(
        f"/fhir/AuditEvent?patient=Patient/{record_id}&_count=200", headers=api.person(ins)
    )
    assert audit.status_code == 200 and audit.json()["total"] >= 5
    ready = api.http.get("/ready")
    assert ready.status_code == 200


def test_a_dropped_database_connection_answers_503_then_the_pool_reconnects(
    settings: Settings, postgres_engine: Engine
) -> None:
    """No ping per checkout (docs/storage.md): the request that meets a killed backend gets a
    503 OperationOutcome to retry, and the next one reconnects."""
    engine = make_engine(postgres_engine.url, pool_size=2)
    application = build(settings, create_keys=True, engine=engine)
    try:
        with http_client(create_app(application)) as client:
            api = Api(client)
            ins = an_ins()
            record_id = api.open_record(ins)
            read = f"/fhir/Patient/{record_id}"
            assert api.http.get(read, headers=api.person(ins)).status_code == 200
            with postgres_engine.connect() as admin:
                killed = admin.exec_driver_sql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).scalar_one()
            assert killed >= 1
            failed = api.http.get(read, headers=api.person(ins))
            assert failed.status_code == 503
            assert failed.headers["Retry-After"] == "1"
            assert failed.json()["issue"][0]["details"]["coding"][0]["code"] == "DMP-0809"
            assert api.http.get(read, headers=api.person(ins)).status_code == 200
    finally:
        engine.dispose()
        wipe(postgres_engine)
