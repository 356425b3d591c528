"""`benchmarks/run --quick | --full`: every figure of issue 5 in one run, then a summary table
with OpenDMP's ratios to the raw-storage limit and to the peer (docs/benchmarks.md).

Steps: bulk load (benchmarks/bulkload.py) → raw-storage baseline (baseline.py) → OpenDMP over
HTTP (load.py, fresh database) → ITI-67 on the bulk-loaded records → the peer (peer.py) →
with --full, a soak. A step that fails is reported and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import psycopg

from benchmarks import baseline, bulkload, load, peer
from benchmarks.load import Plan
from benchmarks.stats import PhaseResult, table

RESULTS = Path("var/bench/results")
BULK_URL = bulkload.DEFAULT_URL
BULK_HOME = bulkload.DEFAULT_HOME
FULL_DISK_BYTES = 100 * 2**30  # ~45 GB of database + 40 GB of 4 KB blob files + indexes


@dataclass(frozen=True)
class Mode:
    name: str
    patients: int
    documents: int
    baseline_documents: int
    plan: Plan
    soak_seconds: float = 0.0


QUICK = Mode(
    "quick", 1_000, 10_000, 600,
    Plan(patients=16, iti65=120, iti67=200, iti68=200, mixed=200, concurrency=8, seconds=2.0,
         alone=100),
)  # fmt: skip
FULL = Mode(
    "full", 1_000_000, 10_000_000, 5_000,
    Plan(patients=200, iti65=5_000, iti67=5_000, iti68=5_000, mixed=10_000, concurrency=8,
         seconds=60.0),
    soak_seconds=1800.0,
)  # fmt: skip


def machine() -> dict[str, Any]:
    """What the figures were measured on (docs/benchmarks.md asks for it)."""
    settings = (
        "shared_buffers", "work_mem", "maintenance_work_mem", "synchronous_commit", "fsync",
        "wal_level", "max_wal_size", "checkpoint_timeout", "effective_cache_size",
        "max_connections", "random_page_cost", "jit",
    )  # fmt: skip
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "disk_free_gib": round(shutil.disk_usage(".").free / 2**30, 1),
    }
    try:
        with psycopg.connect(bulkload.conninfo(BULK_URL.rsplit("/", 1)[0] + "/postgres")) as db:
            info["postgresql"] = db.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            rows = db.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                (list(settings),),
            ).fetchall()
            info["postgresql_settings"] = dict(rows)
    except psycopg.Error as error:
        info["postgresql"] = f"unreachable: {error}"
    return info


def loaded_counts(url: str) -> dict[str, int]:
    """What an earlier bulk load left (`--skip bulk` reuses it for ITI-67 at scale)."""
    with psycopg.connect(bulkload.conninfo(url)) as db:
        patients = db.execute("SELECT count(*) FROM records").fetchone()[0]  # type: ignore[index]
        documents = db.execute("SELECT count(*) FROM documents").fetchone()[0]  # type: ignore[index]
    print(f"   {patients:,} records, {documents:,} documents")
    return {"patients": patients, "documents": documents}


def step(name: str, failures: dict[str, str], action: Callable[[], Any]) -> Any:
    """Run one step; the machine is shared, so its load average is printed with it."""
    load1, load5, _ = os.getloadavg()
    print(f"\n== {name} == (load average before: {load1:.2f} / {load5:.2f})", flush=True)
    began = time.perf_counter()
    try:
        return action()
    except Exception as error:  # a failed step is reported; the others still run
        failures[name] = f"{type(error).__name__}: {error}"
        traceback.print_exc()
        return None
    finally:
        print(f"   ({time.perf_counter() - began:.1f} s)", flush=True)


def _find(results: list[PhaseResult] | None, prefix: str) -> PhaseResult | None:
    return next((r for r in results or [] if r.name.startswith(prefix)), None)


def _ratio(value: float | None, reference: float | None) -> str:
    if not value or not reference:
        return "-"
    return f"{value / reference:.2f}"


def summary(report: dict[str, Any]) -> str:
    """The final table: OpenDMP, the limit, the peer, ratios, targets."""
    ours: list[PhaseResult] = report.get("opendmp") or []
    theirs: list[PhaseResult] = report.get("peer") or []
    base: PhaseResult | None = report.get("baseline")
    bulk_search: list[PhaseResult] = report.get("bulk_search") or []
    bulk = report.get("bulk") or {}
    loaded = bulk or report.get("bulk_reused") or {}
    rows: list[list[object]] = []

    def add(label: str, mine: PhaseResult | None, peer_: PhaseResult | None, target: str,
            limit: PhaseResult | None = None) -> None:  # fmt: skip
        rows.append([
            label,
            f"{mine.per_s:,.1f}/s p95 {mine.p95_ms} ms err {mine.errors}" if mine else "-",
            f"{limit.per_s:,.1f}/s" if limit else "",
            _ratio(mine.per_s if mine else None, limit.per_s if limit else None) if limit else "",
            f"{peer_.per_s:,.1f}/s p95 {peer_.p95_ms} ms err {peer_.errors}" if peer_ else "-",
            _ratio(mine.per_s if mine else None, peer_.per_s if peer_ else None),
            target,
        ])  # fmt: skip

    add("ITI-65 (20 KB PDF)", _find(ours, "ITI-65"), _find(theirs, "ITI-65"), ">= 400/s", base)
    add("ITI-67 own records", _find(ours, "ITI-67 find"), _find(theirs, "ITI-67 find"), "")
    add("  1 client (latency)", _find(ours, "ITI-67 latency"), _find(theirs, "ITI-67 latency"),
        "p95 <= 10 ms")  # fmt: skip
    if bulk_search:
        docs = loaded.get("documents", 0)
        add(f"ITI-67 at {docs:,} docs", _find(bulk_search, "ITI-67 find"), None, "")
        add("  1 client (latency)", _find(bulk_search, "ITI-67 latency"), None,
            "p95 <= 10 ms at 10 M")  # fmt: skip
    add("ITI-68 (20 KB)", _find(ours, "ITI-68 retrieve"), _find(theirs, "ITI-68 retrieve"),
        ">= 1000/s")  # fmt: skip
    add("  1 client (latency)", _find(ours, "ITI-68 latency"), _find(theirs, "ITI-68 latency"),
        "p95 <= 5 ms")  # fmt: skip
    add("mixed", _find(ours, "mixed"), _find(theirs, "mixed"), "")
    if _find(theirs, "Binary read"):
        add("peer: Binary by id", None, _find(theirs, "Binary read"), "(not ITI-68)")
    peak = max((r.server_peak_rss_mb or 0 for r in ours), default=0)
    peer_peak = max((r.server_peak_rss_mb or 0 for r in theirs), default=0)
    rows.append(["server peak RSS", f"{peak} MB", "", "", f"{peer_peak} MB", "", "<= 300 MB"])
    soak = _find(report.get("soak"), "mixed")
    if soak is not None:
        timeline = [mb for _, mb in soak.extra.get("rss_mb_every_5s", [])]
        memory = f"RSS {timeline[0]} -> {timeline[-1]} MB, peak {soak.server_peak_rss_mb} MB"
        rows.append([
            f"soak ({soak.wall_s / 60:.0f} min mixed)",
            f"{soak.per_s:,.1f}/s p95 {soak.p95_ms} ms err {soak.errors}", "", "", "", "",
            f"flat <= 300 MB: {memory}" if timeline else "",
        ])  # fmt: skip
    if bulk:
        rows.append([
            "bulk load", f"{bulk['load_docs_per_s']:,.0f} docs/s + {bulk['index_s']:.0f} s index",
            "", "", "", "", f"10 M in < 60 min (~{bulk['extrapolated_10m_min']:.0f} min)",
        ])  # fmt: skip
    header = ["", "OpenDMP", "limit", "/limit", "sekmet-fhir", "/peer", "target"]
    return table(rows, header)


def run(mode: Mode, *, skip: set[str], workers: int) -> dict[str, Any]:
    failures: dict[str, str] = {}
    report: dict[str, Any] = {"mode": mode.name, "started": datetime.now(UTC).isoformat()}
    report["machine"] = machine()
    plan = mode.plan
    if "bulk" not in skip:
        blobs = mode.name != "full" or shutil.disk_usage(".").free > FULL_DISK_BYTES
        if not blobs:
            print("not enough free disk for 10 M blob files: bulk load without blobs")
        args = ["--patients", str(mode.patients), "--documents", str(mode.documents), "--fresh"]
        args += [] if blobs else ["--no-blobs"]
        report["bulk"] = step("bulk load (COPY)", failures, lambda: bulkload.main(args))
    if "baseline" not in skip:
        report["baseline"] = step("raw-storage baseline", failures, lambda: baseline.main(
            ["--documents", str(mode.baseline_documents), "--concurrency", str(plan.concurrency)]
        ))  # fmt: skip
    if "opendmp" not in skip:
        report["opendmp"] = step("OpenDMP over HTTP", failures, lambda: load.run_against_new_server(
            load.DEFAULT_HTTP_URL, Path("var/bench/http"), plan, workers=workers))  # fmt: skip
    manifest = BULK_HOME / "manifest.json"
    if "bulk" in skip and "bulk_search" not in skip and manifest.exists():
        report["bulk_reused"] = step("the bulk-loaded database, reused", failures,
                                     lambda: loaded_counts(BULK_URL))  # fmt: skip
    if (
        "bulk_search" not in skip
        and manifest.exists()
        and (report.get("bulk") or report.get("bulk_reused"))
    ):
        report["bulk_search"] = step("ITI-67 on the bulk-loaded database", failures,
            lambda: load.search_bulk_on_new_server(BULK_URL, BULK_HOME, manifest, plan,
                                                   workers=workers))  # fmt: skip
    if "peer" not in skip:
        outcome = step("peer: sekmet-fhir", failures, lambda: peer.run(plan))
        if outcome is not None:
            report["peer"], report["peer_install"] = outcome
            if not outcome[0]:
                failures["peer"] = outcome[1]
    if mode.soak_seconds and "soak" not in skip:
        soak = replace(plan, iti65=50, iti67=50, iti68=50, mixed=10**9, seconds=mode.soak_seconds)
        report["soak"] = step(f"soak: mixed workload for {mode.soak_seconds:.0f} s", failures,
            lambda: load.run_against_new_server(load.DEFAULT_HTTP_URL, Path("var/bench/http"),
                                                soak, workers=workers))  # fmt: skip
    report["failures"] = failures
    report["finished"] = datetime.now(UTC).isoformat()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quick", action="store_true", help="small data, under a minute")
    size.add_argument("--full", action="store_true", help="1 M patients, 10 M documents, soak")
    parser.add_argument("--skip", default="", help="comma list: bulk,baseline,opendmp,peer,…")
    parser.add_argument(
        "--workers", type=int, default=2, help="OpenDMP server processes (2: one per core here)"
    )
    args = parser.parse_args(argv)
    mode = FULL if args.full else QUICK
    began = time.perf_counter()
    report = run(mode, skip=set(filter(None, args.skip.split(","))), workers=args.workers)
    report["wall_s"] = round(time.perf_counter() - began, 1)
    text = summary(report)
    print(f"\n== summary ({mode.name}, {report['wall_s']} s) ==\n{text}")
    for name, problem in report["failures"].items():
        print(f"FAILED {name}: {problem.splitlines()[0] if problem else ''}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{mode.name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2, default=_jsonable))
    print(f"figures: {path}")
    return 1 if report["failures"] else 0


def _jsonable(value: object) -> object:
    if isinstance(value, PhaseResult):
        return value.as_dict()
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
