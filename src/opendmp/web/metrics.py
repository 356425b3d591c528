"""Prometheus metrics of the HTTP edge (SPEC.md §9): counts by route template and status.

Labels are the method, the route template and the status: never a path with its values, a
query or an identifier, so nothing personal reaches the metrics. Each worker process counts
its own requests (Prometheus sums them when scraping every worker, or use one worker).
"""

from __future__ import annotations

import threading
from collections import defaultdict

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request counters and a latency histogram, rendered in the text exposition format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)
        self._in_flight = 0

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._in_flight -= 1
            self._requests[(method, route, str(status))] += 1
            key = (method, route)
            counts = self._buckets.setdefault(key, [0] * (len(_BUCKETS) + 1))
            for index, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    counts[index] += 1
            counts[-1] += 1
            self._sums[key] += seconds

    def render(self) -> str:
        """The Prometheus text format (version 0.0.4)."""
        with self._lock:
            requests = sorted(self._requests.items())
            buckets = {k: list(v) for k, v in sorted(self._buckets.items())}
            sums = dict(self._sums)
            in_flight = self._in_flight
        lines = [
            "# HELP opendmp_http_requests_total HTTP requests by method, route template, status.",
            "# TYPE opendmp_http_requests_total counter",
        ]
        for (method, route, status), count in requests:
            lines.append(
                f'opendmp_http_requests_total{{method="{_label(method)}",'
                f'route="{_label(route)}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP opendmp_http_request_duration_seconds Time to answer, by route template.",
            "# TYPE opendmp_http_request_duration_seconds histogram",
        ]
        for (method, route), counts in buckets.items():
            labels = f'method="{_label(method)}",route="{_label(route)}"'
            for bound, count in zip(_BUCKETS, counts, strict=False):
                lines.append(
                    f'opendmp_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {count}'
                )
            lines.append(
                f'opendmp_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {counts[-1]}'
            )
            lines.append(
                f"opendmp_http_request_duration_seconds_sum{{{labels}}} {sums[(method, route)]:.6f}"
            )
            lines.append(f"opendmp_http_request_duration_seconds_count{{{labels}}} {counts[-1]}")
        lines += [
            "# HELP opendmp_http_requests_in_flight Requests being answered now.",
            "# TYPE opendmp_http_requests_in_flight gauge",
            f"opendmp_http_requests_in_flight {in_flight}",
        ]
        return "\n".join(lines) + "\n"
