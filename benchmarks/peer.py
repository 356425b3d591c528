"""A peer in the same run (issue 5, item 4): `sekmet-fhir`, a Python FHIR R4 server on PyPI.

Installed from PyPI into its own virtualenv (var/bench/peer-venv), started on loopback with its
inbound traffic log off and its simulator off (its own advice for load runs), then given the
same ITI-65-shaped bundles (benchmarks/bundles.py) and the same per-patient searches as OpenDMP.
It is a generic FHIR store on SQLite: it applies no DMP rule (no DOC-1 check, no access policy,
no audit trail, no encryption), so the ratios compare the cost of OpenDMP's guarantees too.

ITI-68 is measured the MHD way, by GETting `DocumentReference.content.attachment.url`: the peer
stores the bundle's `urn:uuid:` there unchanged, so every retrieval fails; that is reported as
it is. Reading the Binary by the id the transaction-response gives is measured separately.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.datagen import Patient, Professional
from benchmarks.load import (
    FHIR_JSON,
    Plan,
    Session,
    patient_resource,
    print_result,
    run_load,
    run_phase,
)
from benchmarks.servers import Server, ServerProbe, free_port, running
from benchmarks.stats import PhaseResult, Recorder

PACKAGE = "sekmet-fhir"
VERSION = "0.1.1"
VENV = Path("var/bench/peer-venv")
WORKDIR = Path("var/bench/peer")


def install(venv: Path = VENV) -> tuple[bool, str]:
    """`pip install sekmet-fhir==VERSION` into its own venv; (installed, what pip said)."""
    if (venv / "bin" / "sekmet").exists():
        return True, f"{PACKAGE} already installed in {venv}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [str(venv / "bin" / "pip"), "install", "--quiet", f"{PACKAGE}=={VERSION}"],
        capture_output=True,
        text=True,
    )
    said = (done.stdout + done.stderr).strip()
    return done.returncode == 0 and (venv / "bin" / "sekmet").exists(), said


@contextmanager
def server(venv: Path = VENV, workdir: Path = WORKDIR) -> Iterator[Server]:
    """`sekmet serve` with a fresh data directory, on a free loopback port."""
    port = free_port()
    data = workdir / f"data-{int(time.time())}"
    data.mkdir(parents=True, exist_ok=True)
    settings = workdir / "settings.yaml"
    settings.write_text(
        f"base_url: http://127.0.0.1:{port}/fhir\nhost: 127.0.0.1\nport: {port}\n"
        f"data_dir: {data.resolve()}\nlog_inbound: false\nsimulator:\n  enabled: false\n"
    )
    command = [str(venv / "bin" / "sekmet"), "serve", "--config", str(settings)]
    with running(
        "sekmet-fhir", command, port=port, ready_path="/fhir/metadata",
        log=Path("var/bench/logs/peer-server.log"),
    ) as started:  # fmt: skip
        yield started


class PeerTarget:
    """A plain FHIR server: no token, `POST /fhir/Patient`, ITI-68 through attachment.url."""

    name = "sekmet-fhir"

    def __init__(self) -> None:
        self.binaries: list[str] = []

    async def headers(self, client: httpx.AsyncClient, who: Professional) -> dict[str, str]:
        del client, who
        return {"Accept": FHIR_JSON}

    async def open_patient(
        self, client: httpx.AsyncClient, headers: dict[str, str], person: Patient
    ) -> str:
        response = await client.post(
            "/fhir/Patient",
            json=patient_resource(person),
            headers=headers | {"Content-Type": FHIR_JSON},
        )
        if response.status_code != 201:
            raise RuntimeError(f"POST Patient: HTTP {response.status_code} {response.text[:300]}")
        return f"Patient/{response.json()['id']}"

    def retrievals(self, response: dict[str, Any]) -> list[str]:
        """MHD: the DocumentReference's attachment.url (kept as the bundle's urn:uuid)."""
        urls = []
        for entry in response.get("entry", []):
            resource = entry.get("resource") or {}
            location = str(entry.get("response", {}).get("location", ""))
            if resource.get("resourceType") == "DocumentReference":
                for content in resource.get("content", []):
                    urls.append(str(content.get("attachment", {}).get("url", "")))
            elif "/Binary/" in location:
                self.binaries.append("/fhir/Binary/" + location.split("/Binary/")[1].split("/")[0])
        return urls

    async def extra_phases(self, session: Session, plan: Plan, probe: ServerProbe) -> list[Any]:
        """Not ITI-68: the Binary read by the id the transaction-response returned."""
        import random

        rng = random.Random(plan.seed)

        async def read(_: int, recorder: Recorder) -> None:
            if not self.binaries:
                recorder.error("no Binary created")
                return
            began = time.perf_counter()
            response = await session.client.get(rng.choice(self.binaries), headers=session.headers)
            if response.status_code != 200:
                recorder.error(f"HTTP {response.status_code}")
                return
            recorder.ok(time.perf_counter() - began)

        return [await run_phase("Binary read by id (not ITI-68)", plan.iti68, plan, probe, read)]


def run(plan: Plan) -> tuple[list[PhaseResult], str]:
    """Install, start, load, stop; the results and what the installation said."""
    installed, said = install()
    if not installed:
        return [], f"pip could not install {PACKAGE}=={VERSION}:\n{said}"
    with server() as peer:
        print(f"{PACKAGE} {VERSION} serving at {peer.base_url} (pid {peer.pid})", flush=True)
        results = asyncio.run(
            run_load(peer.base_url, PeerTarget(), plan, server_pid=peer.pid, report=print_result)
        )
    return results, said


def main(argv: list[str] | None = None) -> list[PhaseResult]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=Plan.patients)
    parser.add_argument("--iti65", type=int, default=Plan.iti65)
    parser.add_argument("--iti67", type=int, default=Plan.iti67)
    parser.add_argument("--iti68", type=int, default=Plan.iti68)
    parser.add_argument("--mixed", type=int, default=Plan.mixed)
    parser.add_argument("--concurrency", type=int, default=Plan.concurrency)
    parser.add_argument("--seconds", type=float, default=Plan.seconds)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    plan = Plan(
        patients=args.patients, iti65=args.iti65, iti67=args.iti67, iti68=args.iti68,
        mixed=args.mixed, concurrency=args.concurrency, seconds=args.seconds,
    )  # fmt: skip
    results, said = run(plan)
    if not results:
        print(said)
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    return results


if __name__ == "__main__":
    main()
