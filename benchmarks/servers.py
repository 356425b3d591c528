"""Start and stop the servers under test on loopback, wait until they answer, and measure
the CPU and memory of their process tree."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from benchmarks.stats import PhaseResult


class ServerProbe:
    """CPU seconds and peak RSS of the server's process tree, sampled every 100 ms."""

    def __init__(self, pid: int | None) -> None:
        self.process = psutil.Process(pid) if pid else None
        self.peak_rss = 0
        self.timeline: list[tuple[int, float]] = []
        self._task: asyncio.Task[None] | None = None

    def _tree(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            return [self.process, *self.process.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total

    def rss(self) -> int:
        total = 0
        for proc in self._tree():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    async def _sample(self) -> None:
        began = time.monotonic()
        for tick in itertools.count():
            rss = self.rss()
            self.peak_rss = max(self.peak_rss, rss)
            if tick % 50 == 0:  # every 5 s: is the memory flat over a soak?
                self.timeline.append((round(time.monotonic() - began), round(rss / 2**20, 1)))
            await asyncio.sleep(0.1)

    def start(self) -> float:
        self.peak_rss = self.rss()
        self.timeline = []
        if self.process is not None:
            self._task = asyncio.create_task(self._sample())
        return self.cpu_seconds()

    async def stop(self, cpu_before: float, result: PhaseResult) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.process is not None and result.wall_s > 0:
            used = self.cpu_seconds() - cpu_before
            result.server_cpu_percent = round(100 * used / result.wall_s, 1)
            result.server_peak_rss_mb = round(self.peak_rss / 2**20, 1)
            result.extra["rss_mb_every_5s"] = self.timeline


@dataclass(frozen=True)
class Server:
    name: str
    base_url: str  # the server root, e.g. http://127.0.0.1:8123
    pid: int
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready after {seconds} s: {url}")


@contextmanager
def running(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    ready_path: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """Run `command` until the block ends; stopped by its pid (SIGTERM, then SIGKILL)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            list(command), stdout=out, stderr=subprocess.STDOUT, env=dict(env or os.environ),
            cwd=cwd,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + ready_path, process, log)
        yield Server(name, base, process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def opendmp(
    home: Path, database_url: str, *, workers: int = 1, log_dir: Path = Path("var/bench/logs")
) -> Iterator[Server]:
    """`opendmp serve` on PostgreSQL with the demo issuer (tokens over HTTP) and test INS."""
    port = free_port()
    env = {
        **os.environ,
        "OPENDMP_HOME": str(home),
        "OPENDMP_DATABASE_URL": database_url,
        "OPENDMP_DEMO_MODE": "true",
        "OPENDMP_ALLOW_TEST_INS": "true",
    }
    executable = Path(sys.executable).parent / "opendmp"
    command = [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--home", str(home)]
    with running(
        "OpenDMP", command, port=port, ready_path="/fhir/metadata",
        log=log_dir / "opendmp-server.log", env=env,
    ) as server:  # fmt: skip
        yield server
