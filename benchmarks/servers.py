"""Start and stop the servers under test on loopback, and wait until they answer."""

from __future__ import annotations

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
