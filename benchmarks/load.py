"""HTTP load generator (issue 5, item 2): asyncio + httpx against a FHIR server on loopback.

Phases, each bounded by a request count AND a time limit: open the patients' records, ITI-65
(one 20 KB PDF per bundle, full PDSm metadata; benchmarks/bundles.py), ITI-67 per-patient
searches, ITI-68 retrievals, and a mixed workload. Each prints throughput, p50/p95/p99
latency, errors, and the server process tree's CPU and peak RSS (psutil on its PID).

The OpenDMP target follows API.md: demo tokens from `POST /auth/dev/token`, records opened
with `POST /fhir/Patient/$dmp-open`, `POST /fhir` (ITI-65), `GET /fhir/DocumentReference
?patient=` (ITI-67), `GET /fhir/Binary/<id>` (ITI-68). benchmarks/peer.py supplies another
target for a generic FHIR server.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import psutil  # type: ignore[import-untyped]

from benchmarks.bundles import BundleDocument, provide_bundle
from benchmarks.datagen import (
    BENCH_OID,
    PRODUCERS,
    DocumentMix,
    NamePool,
    Patient,
    Professional,
    make_pdf,
    patient,
    professionals,
)
from benchmarks.servers import ServerProbe
from benchmarks.stats import PhaseResult, Recorder
from opendmp.domain.habilitation import HabilitationMatrix

FHIR_JSON = "application/fhir+json"
PRODUCER_GP = PRODUCERS[0]
DOCUMENT_BYTES = 20_000
PREBUILT_BUNDLES = 6_000  # built before the phases (~170 MB); a soak builds more as it goes
DEFAULT_HTTP_URL = "postgresql://postgres@127.0.0.1:5432/opendmp_bench_http"


def require_loopback(base_url: str) -> None:
    """The workplace rule: load goes to this machine only (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return
    try:
        if ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(f"refusing to load {host!r}: only loopback targets are allowed")


class Target(Protocol):
    """What differs between servers: authentication, opening a patient, reading results."""

    name: str

    async def headers(self, client: httpx.AsyncClient, who: Professional) -> dict[str, str]: ...

    async def open_patient(
        self, client: httpx.AsyncClient, headers: dict[str, str], person: Patient
    ) -> str: ...

    def retrievals(self, response: dict[str, Any]) -> list[str]: ...


class OpenDmpTarget:
    """API.md: demo tokens, `$dmp-open` (the opener is authorized, R-PS-2), Binary by id."""

    name = "OpenDMP"

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}

    async def headers(self, client: httpx.AsyncClient, who: Professional) -> dict[str, str]:
        token = self._tokens.get(who.idnps)
        if token is None:
            claims = {
                "sub": who.idnps, "actor": "professional", "profession": who.profession,
                "structure": who.structure, "name": who.name,
            }  # fmt: skip
            response = await client.post("/auth/dev/token", json=claims)
            response.raise_for_status()
            token = self._tokens[who.idnps] = response.json()["access_token"]
        return {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}

    async def open_patient(
        self, client: httpx.AsyncClient, headers: dict[str, str], person: Patient
    ) -> str:
        body = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "patient", "resource": patient_resource(person)},
                {"name": "consent", "valueBoolean": True},
            ],
        }
        response = await client.post(
            "/fhir/Patient/$dmp-open", json=body, headers=headers | {"Content-Type": FHIR_JSON}
        )
        if response.status_code != 201:
            raise RuntimeError(f"$dmp-open: HTTP {response.status_code} {response.text[:300]}")
        return f"Patient/{response.json()['id']}"

    def retrievals(self, response: dict[str, Any]) -> list[str]:
        """ITI-68 URLs: `/fhir/Binary/<id>` from the transaction-response's locations."""
        urls = []
        for entry in response.get("entry", []):
            location = str(entry.get("response", {}).get("location", ""))
            if "DocumentReference/" in location:
                doc_id = location.split("DocumentReference/", 1)[1].split("/", 1)[0]
                urls.append(f"/fhir/Binary/{doc_id}")
        return urls


def patient_resource(person: Patient) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": f"urn:oid:{person.ins_system}", "value": person.ins}],
        "name": [{"use": "official", "family": person.family, "given": [person.given]}],
        "birthDate": person.birth_date.isoformat(),
        "gender": person.sex,
    }


LATENCY_PHASES = {"iti67": "ITI-67 latency", "iti68": "ITI-68 latency"}


@dataclass
class Plan:
    patients: int = 50
    iti65: int = 400
    iti67: int = 1000
    iti68: int = 1000
    mixed: int = 1000
    concurrency: int = 8
    seconds: float = 10.0  # per phase, at most
    alone: int = 1000  # requests of each one-client latency phase, at most
    mix: dict[str, float] = field(
        default_factory=lambda: {"iti65": 0.3, "iti67": 0.4, "iti68": 0.3}
    )
    seed: int = 5


@dataclass
class Session:
    """What the phases share: the client, who calls, the records and the documents made."""

    client: httpx.AsyncClient
    target: Target
    headers: dict[str, str]
    patients: list[tuple[Patient, str]]  # (patient, record reference)
    retrievals: list[str] = field(default_factory=list)
    bundles: list[bytes] = field(default_factory=list)  # built before the phases
    make_bundle: Callable[[int], bytes] | None = None  # more, built on demand (soak)
    bundle_types: dict[int, str] = field(default_factory=dict)  # typeCode of bundle n
    unreadable: frozenset[str] = frozenset()  # typeCodes the caller may not read (R-PS-5)


async def run_phase(
    name: str,
    count: int,
    plan: Plan,
    probe: ServerProbe,
    operation: Callable[[int, Recorder], Awaitable[None]],
) -> PhaseResult:
    """`count` operations on `plan.concurrency` tasks, stopped at `plan.seconds` anyway."""
    recorder = Recorder(name)
    counter = itertools.count()
    deadline = time.perf_counter() + plan.seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            index = next(counter)
            if index >= count:
                return
            try:
                await operation(index, recorder)
            except httpx.HTTPError as error:
                recorder.error(type(error).__name__)

    cpu = probe.start()
    client_cpu = time.process_time()
    machine = psutil.cpu_times()
    await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
    recorder.stop()
    result = recorder.result()
    await probe.stop(cpu, result)
    if result.wall_s > 0:  # the load generator shares the machine: its cost is shown too
        used = time.process_time() - client_cpu
        result.extra["client_cpu_percent"] = round(100 * used / result.wall_s, 1)
        after = psutil.cpu_times()
        busy = (after.user + after.system) - (machine.user + machine.system)
        total = busy + after.idle - machine.idle + after.iowait - machine.iowait
        result.extra["machine_cpu_percent"] = round(100 * busy / total, 1) if total else None
    return result


async def _timed(
    recorder: Recorder,
    request: Awaitable[httpx.Response],
    expect: int,
    check: Callable[[httpx.Response], str | None] | None = None,
) -> httpx.Response | None:
    """Time one request; a wrong status or a failed `check` (its message) is an error."""
    began = time.perf_counter()
    response = await request
    elapsed = time.perf_counter() - began
    problem = f"HTTP {response.status_code}" if response.status_code != expect else None
    if problem is None and check is not None:
        problem = check(response)
    if problem is not None:
        recorder.error(
            problem,
            f"{response.request.method} {response.request.url.path} → {response.text[:300]}",
        )
        return None
    recorder.ok(elapsed)
    return response


def bundle_maker(
    session: Session, mix: DocumentMix, rng: random.Random, run_id: str
) -> Callable[[int], bytes]:
    """Bundle `n`: one 20 KB PDF for one of the session's records, uniqueIds of this run."""
    since = datetime(2025, 1, 1, tzinfo=UTC)

    def make(n: int) -> bytes:
        now = datetime.now(UTC)
        person, reference = session.patients[n % len(session.patients)]
        spec = mix.draw(rng, since=since, until=now)
        session.bundle_types[n] = spec.kind.type.code
        data = make_pdf(DOCUMENT_BYTES, [spec.title, f"{person.given} {person.family}"], rng=rng)
        doc = BundleDocument(spec, data, f"{BENCH_OID}.3.{run_id}.{n}")
        bundle = provide_bundle(
            person, [doc], submission_unique_id=f"{BENCH_OID}.4.{run_id}.{n}",
            source_oid=BENCH_OID, submitted=now, record_reference=reference,
        )  # fmt: skip
        return json.dumps(bundle).encode("utf-8")

    return make


def operations(session: Session, rng: random.Random) -> dict[str, Callable[..., Awaitable[None]]]:
    client, headers = session.client, session.headers
    post_headers = headers | {"Content-Type": FHIR_JSON}
    bundle_cursor = itertools.count()

    async def iti65(_: int, recorder: Recorder) -> None:
        index = next(bundle_cursor)
        if index < len(session.bundles):
            body = session.bundles[index]
        elif session.make_bundle is not None:
            body = session.make_bundle(index)
        else:
            recorder.error("no bundle left")
            return
        response = await _timed(
            recorder, client.post("/fhir", content=body, headers=post_headers), 200
        )
        # R-PS-5: a type the caller's profession may not read answers 404 (API.md §6): it
        # is submitted like any other but not retrieved.
        if response is not None and session.bundle_types.get(index) not in session.unreadable:
            session.retrievals.extend(session.target.retrievals(response.json()))

    async def iti67(_: int, recorder: Recorder) -> None:
        reference = rng.choice(session.patients)[1]
        params = {"patient": reference, "status": "current"}
        await _timed(
            recorder, client.get("/fhir/DocumentReference", params=params, headers=headers), 200
        )

    async def iti68(_: int, recorder: Recorder) -> None:
        if not session.retrievals:
            recorder.error("nothing to retrieve")
            return
        url = rng.choice(session.retrievals)
        request = client.get(url, headers={**headers, "Accept": "application/pdf"})
        await _timed(recorder, request, 200, _is_document)

    return {"iti65": iti65, "iti67": iti67, "iti68": iti68}


def _is_document(response: httpx.Response) -> str | None:
    """ITI-68 must give back the exact bytes submitted (DOC-2): a 20 KB PDF."""
    if len(response.content) != DOCUMENT_BYTES or not response.content.startswith(b"%PDF-"):
        return f"not the document ({len(response.content)} bytes)"
    return None


async def open_patients(
    session: Session, people: Sequence[Patient], plan: Plan, probe: ServerProbe
) -> PhaseResult:
    """Open the records the phases use (REC-1), concurrently; a phase of its own."""

    async def one(index: int, recorder: Recorder) -> None:
        began = time.perf_counter()
        try:
            reference = await session.target.open_patient(
                session.client, session.headers, people[index]
            )
        except RuntimeError as error:
            recorder.error(str(error)[:80])
            return
        recorder.ok(time.perf_counter() - began)
        session.patients.append((people[index], reference))

    slow = Plan(**{**plan.__dict__, "seconds": max(plan.seconds, 60.0)})
    return await run_phase("open records ($dmp-open)", len(people), slow, probe, one)


async def run_load(
    base_url: str,
    target: Target,
    plan: Plan,
    *,
    server_pid: int | None,
    report: Callable[[PhaseResult], None] = lambda _: None,
) -> list[PhaseResult]:
    """Every phase against `base_url`, on records this run opens."""
    require_loopback(base_url)
    rng = random.Random(plan.seed)
    names = NamePool.build(plan.seed)
    staff = professionals(200, names, seed=plan.seed)
    caller = next(p for p in staff if p.producer.name == "general-practice")
    run_id = str(int(time.time()))
    probe = ServerProbe(server_pid)
    limits = httpx.Limits(
        max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency
    )
    results: list[PhaseResult] = []

    def done(result: PhaseResult) -> None:
        results.append(result)
        report(result)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:
        session = Session(client, target, await target.headers(client, caller), [])
        session.unreadable = HabilitationMatrix.default().denied_types(caller.profession)
        # Fresh INS for each run, above any bulk-loaded index (bulkload numbers from 0).
        offset = 10_000_000 + int(run_id) % 80_000 * 1000
        people = [patient(offset + i, names, seed=plan.seed) for i in range(plan.patients)]
        done(await open_patients(session, people, plan, probe))
        if not session.patients:
            return results
        mix = DocumentMix(staff)
        mixed_writes = int(plan.mixed * plan.mix["iti65"] * 1.3) + 20  # draws vary
        session.make_bundle = bundle_maker(session, mix, rng, run_id)
        prebuilt = min(plan.iti65 + mixed_writes, PREBUILT_BUNDLES)  # the rest on demand
        session.bundles = [session.make_bundle(n) for n in range(prebuilt)]
        kinds = operations(session, rng)
        done(
            await run_phase(
                "ITI-65 provide (1 x 20 KB PDF)", plan.iti65, plan, probe, kinds["iti65"]
            )
        )
        done(await run_phase("ITI-67 find (per patient)", plan.iti67, plan, probe, kinds["iti67"]))
        done(await run_phase("ITI-68 retrieve (20 KB)", plan.iti68, plan, probe, kinds["iti68"]))
        names_, weights = zip(*plan.mix.items(), strict=True)

        async def mixed(index: int, recorder: Recorder) -> None:
            await kinds[rng.choices(names_, weights=weights)[0]](index, recorder)

        label = "mixed " + "/".join(f"{k[3:]}:{v:.0%}" for k, v in plan.mix.items())
        done(await run_phase(label, plan.mixed, plan, probe, mixed))
        # The latency targets are a service time: one client, so no request waits for another.
        one_client = replace(plan, concurrency=1)
        for kind, count in (("iti67", plan.iti67), ("iti68", plan.iti68)):
            name = f"{LATENCY_PHASES[kind]} (1 client)"
            done(await run_phase(name, min(count, plan.alone), one_client, probe, kinds[kind]))
        extra = getattr(target, "extra_phases", None)  # what only one target measures
        if extra is not None:
            for result in await extra(session, plan, probe):
                done(result)
    return results


def print_result(result: PhaseResult) -> None:
    server = ""
    if result.server_cpu_percent is not None:
        server = (
            f"; server CPU {result.server_cpu_percent}%, peak RSS {result.server_peak_rss_mb} MB"
        )
    errors = f" {result.error_kinds}" if result.errors else ""
    if "client_cpu_percent" in result.extra:
        server += (
            f"; client CPU {result.extra['client_cpu_percent']}%, "
            f"machine {result.extra['machine_cpu_percent']}% busy"
        )
    print(
        f"{result.name}: {result.requests} ok in {result.wall_s:.2f} s = {result.per_s:,.1f}/s; "
        f"p50 {result.p50_ms} ms, p95 {result.p95_ms} ms, p99 {result.p99_ms} ms; "
        f"errors {result.errors}{errors}{server}",
        flush=True,
    )


async def search_bulk(
    base_url: str, manifest: Path, plan: Plan, *, server_pid: int | None
) -> list[PhaseResult]:
    """ITI-67 on bulk-loaded records (benchmarks/bulkload.py's manifest), each searched by the
    professional who opened it (authorized, R-PS-2): the search cost at the loaded scale, under
    load (`plan.concurrency` clients) and alone (one client: the latency target)."""
    require_loopback(base_url)
    rng = random.Random(plan.seed)
    records = json.loads(manifest.read_text())["records"]
    records = rng.sample(records, min(len(records), 300))  # one token per opener: keep it small
    target = OpenDmpTarget()
    probe = ServerProbe(server_pid)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        headers = {}
        for item in records:
            who = Professional(
                item["practitioner"], item["name"], PRODUCER_GP, item["structure"], ""
            )
            headers[item["record_id"]] = await target.headers(client, who)

        async def find(_: int, recorder: Recorder) -> None:
            item = rng.choice(records)
            params = {"patient": f"Patient/{item['record_id']}", "status": "current"}
            request = client.get(
                "/fhir/DocumentReference", params=params, headers=headers[item["record_id"]]
            )
            await _timed(recorder, request, 200)

        name = f"ITI-67 find on the bulk-loaded records ({len(records)} sampled)"
        loaded = await run_phase(name, plan.iti67, plan, probe, find)
        print_result(loaded)
        one_client = replace(plan, concurrency=1)
        name = f"ITI-67 latency on the bulk-loaded records (1 client, {len(records)} sampled)"
        single = await run_phase(name, min(plan.iti67, plan.alone), one_client, probe, find)
        print_result(single)
        return [loaded, single]


def main(argv: list[str] | None = None) -> list[PhaseResult]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server's root (else one is started)")
    parser.add_argument("--server-pid", type=int, help="PID of the running server, for psutil")
    parser.add_argument(
        "--database-url",
        help="default: a fresh opendmp_bench_http, or the manifest's database with --manifest",
    )
    parser.add_argument("--home", type=Path, help="default: var/bench/http, or the manifest's")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--manifest", type=Path, help="only ITI-67, on these bulk-loaded records")
    parser.add_argument("--patients", type=int, default=Plan.patients)
    parser.add_argument("--iti65", type=int, default=Plan.iti65)
    parser.add_argument("--iti67", type=int, default=Plan.iti67)
    parser.add_argument("--iti68", type=int, default=Plan.iti68)
    parser.add_argument("--mixed", type=int, default=Plan.mixed)
    parser.add_argument("--concurrency", type=int, default=Plan.concurrency)
    parser.add_argument("--seconds", type=float, default=Plan.seconds, help="per phase, at most")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    plan = Plan(
        patients=args.patients, iti65=args.iti65, iti67=args.iti67, iti68=args.iti68,
        mixed=args.mixed, concurrency=args.concurrency, seconds=args.seconds,
    )  # fmt: skip
    if args.url and args.manifest:
        results = asyncio.run(
            search_bulk(args.url, args.manifest, plan, server_pid=args.server_pid)
        )
    elif args.url:
        results = asyncio.run(
            run_load(args.url, OpenDmpTarget(), plan, server_pid=args.server_pid,
                     report=print_result)
        )  # fmt: skip
    elif args.manifest:
        url = args.database_url or json.loads(args.manifest.read_text())["url"]
        home = args.home or args.manifest.parent
        results = search_bulk_on_new_server(url, home, args.manifest, plan, workers=args.workers)
    else:
        url, home = args.database_url or DEFAULT_HTTP_URL, args.home or Path("var/bench/http")
        results = run_against_new_server(url, home, plan, workers=args.workers)
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    return results


def _prepare(database_url: str, home: Path, *, fresh: bool) -> None:
    from benchmarks.bulkload import create_database
    from opendmp.adapters.crypto import FileKeyProvider

    if fresh:
        create_database(database_url, fresh=True)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "master-keys.json").exists():
        FileKeyProvider.create(home / "master-keys.json")


def run_against_new_server(
    database_url: str, home: Path, plan: Plan, *, workers: int = 1
) -> list[PhaseResult]:
    """A fresh database and key file, `opendmp serve` on it, every phase, then stop it."""
    from benchmarks.servers import opendmp

    _prepare(database_url, home, fresh=True)
    with opendmp(home, database_url, workers=workers) as server:
        print(f"OpenDMP serving at {server.base_url} (pid {server.pid}, {workers} worker(s))")
        return asyncio.run(
            run_load(server.base_url, OpenDmpTarget(), plan, server_pid=server.pid,
                     report=print_result)
        )  # fmt: skip


def search_bulk_on_new_server(
    database_url: str, home: Path, manifest: Path, plan: Plan, *, workers: int = 1
) -> list[PhaseResult]:
    """`opendmp serve` on a bulk-loaded database (its home holds the keys), ITI-67 only."""
    from benchmarks.servers import opendmp

    with opendmp(home, database_url, workers=workers) as server:
        return asyncio.run(search_bulk(server.base_url, manifest, plan, server_pid=server.pid))


if __name__ == "__main__":
    main()
