"""Crash safety (issue 3 §5, SPEC.md SEC-5): the server process is killed (`kill -9`) while
several clients submit ITI-65 Bundles; restarted on the same home, it must show every
acknowledged submission whole (its DocumentReferences and the identical bytes, DOC-1, DOC-2)
and no partial one: each submission set has all its documents or none (DOC-1, all or nothing).
The audit trail still verifies (`opendmp audit verify`, AUD-2). On SQLite (`--demo`) and on
PostgreSQL.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from opendmp.domain.identifiers import Ins
from tests.api.support import FHIR_JSON, Api, Doc, provide_bundle
from tests.interop.conftest import ENGINES
from tests.interop.server import ServerProcess, run_cli
from tests.interop.support import fresh_ins

THREADS = 4
RECORDS = 2
DOCUMENTS_PER_SUBMISSION = 3
ACKNOWLEDGED_BEFORE_KILL = 6  # the kill comes once this many submissions were answered 200
LOAD_DEADLINE_SECONDS = 40.0
MAX_SUBMISSIONS_PER_THREAD = 60
ROUNDS = 2  # kill, restart, check; twice on the same home


@dataclass
class Submission:
    """One ITI-65 request and what its client learnt: 200, another status, or no answer."""

    record_id: str
    set_unique_id: str
    documents: dict[str, bytes]  # masterIdentifier value → bytes
    status: int | None = None
    locations: list[str] = field(default_factory=list)


def _submission(ins: Ins, record_id: str) -> tuple[Submission, dict[str, Any]]:
    docs = [
        Doc(data=b"%PDF-1.4\n" + secrets.token_bytes(secrets.choice((64, 160, 320)) * 1024))
        for _ in range(DOCUMENTS_PER_SUBMISSION)
    ]
    bundle = provide_bundle(ins, docs)
    entries = [e["resource"] for e in bundle["entry"]]
    masters = [r["masterIdentifier"]["value"] for r in entries if "masterIdentifier" in r]
    unique_id = entries[0]["identifier"][0]["value"]
    return Submission(
        record_id, unique_id, dict(zip(masters, (d.data for d in docs), strict=True))
    ), bundle


@dataclass
class Load:
    """Client threads submitting until told to stop or the server dies under them."""

    server: ServerProcess
    token: str
    patients: list[tuple[Ins, str]]
    submissions: list[Submission] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    failures: list[str] = field(default_factory=list)

    def acknowledged(self) -> int:
        with self.lock:
            return sum(1 for s in self.submissions if s.status == 200)

    def worker(self, number: int) -> None:
        ins, record_id = self.patients[number % len(self.patients)]
        headers = {**FHIR_JSON, "Authorization": self.token}
        with httpx.Client(base_url=self.server.base_url, timeout=30.0) as client:
            for _ in range(MAX_SUBMISSIONS_PER_THREAD):
                if self.stop.is_set():
                    return
                submission, bundle = _submission(ins, record_id)
                with self.lock:
                    self.submissions.append(submission)
                    self.in_flight += 1
                try:
                    response = client.post("/fhir", json=bundle, headers=headers)
                except httpx.TransportError:
                    return  # no answer: the server died with this request in flight
                finally:
                    with self.lock:
                        self.in_flight -= 1
                submission.status = response.status_code
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} {response.text[:300]}")
                    return
                submission.locations = [e["response"]["location"] for e in response.json()["entry"]]

    def run_and_kill(self) -> int:
        """Start the clients, SIGKILL the server once enough submissions were acknowledged;
        the number of requests in flight at that instant."""
        threads = [
            threading.Thread(target=self.worker, args=(n,), daemon=True) for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + LOAD_DEADLINE_SECONDS
        while self.acknowledged() < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
            if self.failures:
                break
            time.sleep(0.02)
        time.sleep(secrets.randbelow(150) / 1000)  # somewhere inside the next requests
        with self.lock:
            in_flight = self.in_flight
        self.server.kill()
        self.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a client thread did not stop"
        return in_flight


def _all_documents(api: Api, record_id: str) -> dict[str, dict[str, Any]]:
    """Every DocumentReference of the record by masterIdentifier, following `next` links."""
    found: dict[str, dict[str, Any]] = {}
    url: str | None = "/fhir/DocumentReference"
    params: dict[str, Any] | None = {"patient": record_id, "_count": 200}
    for _ in range(20):
        if url is None:
            break
        page = api.http.get(url, params=params, headers=api.professional()).json()
        for entry in page.get("entry", []):
            found[entry["resource"]["masterIdentifier"]["value"]] = entry["resource"]
        url = next(
            (link["url"] for link in page.get("link", []) if link["relation"] == "next"), None
        )
        params = None
    return found


def _submission_sets(api: Api, record_id: str) -> dict[str, list[str]]:
    """ITI-66: each submission set's uniqueId → the ids of its documents."""
    page = api.http.get(
        "/fhir/List", params={"patient": record_id, "_count": 200}, headers=api.professional()
    ).json()
    sets: dict[str, list[str]] = {}
    for entry in page.get("entry", []):
        resource = entry["resource"]
        unique = next(i["value"] for i in resource["identifier"] if i.get("use") == "usual")
        sets[unique] = sorted(
            item["item"]["reference"].removeprefix("DocumentReference/")
            for item in resource["entry"]
        )
    return sets


def _check(api: Api, submissions: list[Submission]) -> None:
    """Acknowledged → whole, with identical bytes; unanswered → whole or absent; nothing else."""
    by_record: dict[str, list[Submission]] = {}
    for submission in submissions:
        by_record.setdefault(submission.record_id, []).append(submission)
    for record_id, sent in by_record.items():
        documents = _all_documents(api, record_id)
        sets = _submission_sets(api, record_id)
        known = {master for s in sent for master in s.documents}
        assert set(documents) <= known, "documents nobody submitted"
        for submission in sent:
            present = [master in documents for master in submission.documents]
            if submission.status == 200:
                assert all(present), f"acknowledged submission {submission.set_unique_id} lost"
            assert all(present) or not any(present), f"partial {submission.set_unique_id}"
            if not all(present):
                assert submission.set_unique_id not in sets
                continue
            ids = sorted(documents[m]["id"] for m in submission.documents)
            assert sets.get(submission.set_unique_id) == ids
            for master, data in submission.documents.items():
                url = documents[master]["content"][0]["attachment"]["url"]
                raw = api.http.get(url, headers={**api.professional(), "Accept": "*/*"})
                assert raw.status_code == 200 and raw.content == data
            if submission.status == 200:
                answered = [
                    loc.split("/DocumentReference/")[1].split("/")[0]
                    for loc in submission.locations
                    if "/DocumentReference/" in loc
                ]
                assert sorted(answered) == ids


@pytest.fixture(params=ENGINES)
def crash_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    if request.param == "sqlite":
        server = ServerProcess(tmp_path / "home")
    else:
        factory: Callable[[], str] = request.getfixturevalue("postgres_database")
        server = ServerProcess(tmp_path / "home", database_url=factory(), demo_data=False).prepare()
    try:
        yield server.start()
    finally:
        server.stop()


def test_sec_5_a_killed_server_keeps_every_acknowledged_submission_and_no_partial_one(
    crash_server: ServerProcess,
) -> None:
    server = crash_server
    submissions: list[Submission] = []
    patients: list[tuple[Ins, str]] = []
    with server.client() as client:
        api = Api(client)
        for _ in range(RECORDS):
            ins = fresh_ins()
            patients.append((ins, api.open_record(ins)))
        token = api.professional()["Authorization"]
    for round_number in range(ROUNDS):
        load = Load(server, token, patients)
        in_flight = load.run_and_kill()
        assert not load.failures, load.failures
        assert load.acknowledged() >= ACKNOWLEDGED_BEFORE_KILL, "too few acknowledged"
        assert in_flight > 0, f"round {round_number}: nothing was in flight at the kill"
        submissions += load.submissions
        server.start()
        with server.client() as client:
            api = Api(client)
            assert client.get("/ready").status_code == 200
            _check(api, submissions)
    server.stop()
    verified = run_cli("audit", "verify", "--home", str(server.home), env=server.environment())
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout
    unanswered = sum(1 for s in submissions if s.status is None)
    assert unanswered > 0
