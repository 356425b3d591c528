"""Unexpected failures: a 500 OperationOutcome with the request id, no stack trace, and a log
line without medical data or identifiers (API.md Basics; SPEC.md SEC-4, §9)."""

from __future__ import annotations

import shutil

import pytest

from opendmp.bootstrap import Application
from tests.api.support import Api, outcome_code
from tests.support import an_ins


def test_an_unexpected_failure_is_a_500_outcome_with_the_request_id_sec_4(
    api: Api, application: Application, capsys: pytest.CaptureFixture[str]
) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    doc_id = api.submit_one(ins)
    shutil.rmtree(application.settings.effective_blob_dir)  # the bytes are gone: a real fault
    capsys.readouterr()
    response = api.http.get(
        f"/fhir/Binary/{doc_id}", headers={**api.professional(), "X-Request-Id": "boom-1"}
    )
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "boom-1"
    assert outcome_code(response) == "DMP-0500"
    issue = response.json()["issue"][0]
    assert issue["code"] == "exception" and "boom-1" in issue["diagnostics"]
    assert "Traceback" not in response.text and "KeyError" not in response.text
    logged = capsys.readouterr().out
    assert "unhandled_exception" in logged and "boom-1" in logged and "KeyError" in logged
    assert doc_id not in logged and record_id not in logged and ins.value not in logged
