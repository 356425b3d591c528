"""Latency and throughput figures shared by the baseline, the load generator and the peer run."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class PhaseResult:
    """One measured phase: successes, errors, wall time, latency percentiles."""

    name: str
    requests: int = 0
    errors: int = 0
    wall_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    per_s: float = 0.0  # successful operations per second
    error_kinds: dict[str, int] = field(default_factory=dict)
    server_cpu_percent: float | None = None  # of one core; 200 = both cores of this machine
    server_peak_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recorder:
    """Collects latencies and errors of one phase (thread- and task-safe enough: appends)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.samples: list[str] = []  # the first few errors in full, for the report
        self._lock = threading.Lock()
        self.started = time.perf_counter()
        self.ended: float | None = None

    def ok(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def error(self, kind: str, detail: str = "") -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            if detail and len(self.samples) < 5:
                self.samples.append(f"{kind}: {detail}")

    def stop(self) -> None:
        self.ended = time.perf_counter()

    def result(self) -> PhaseResult:
        wall = (self.ended or time.perf_counter()) - self.started
        values = sorted(self.latencies)
        return PhaseResult(
            name=self.name,
            requests=len(values),
            errors=sum(self.errors.values()),
            wall_s=round(wall, 3),
            p50_ms=round(percentile(values, 0.50) * 1000, 2),
            p95_ms=round(percentile(values, 0.95) * 1000, 2),
            p99_ms=round(percentile(values, 0.99) * 1000, 2),
            per_s=round(len(values) / wall, 1) if wall > 0 else 0.0,
            error_kinds=dict(self.errors),
            extra={"error_samples": list(self.samples)} if self.samples else {},
        )


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain fixed-width table (it goes to logs and to docs/benchmarks.md as is)."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)
