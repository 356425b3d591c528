"""A real `opendmp serve` process for the interoperability tests (issue 3 §5).

The server runs as its users run it: the `opendmp` console script in its own process group,
uvicorn on a free loopback port, a temporary home, the environment as its only configuration
(docs/configuration.md). Every wait is bounded; the log is kept for failure messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

OPENDMP = str(Path(sys.executable).with_name("opendmp"))
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A TCP port nobody listens on at this instant (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environment(**variables: str) -> dict[str, str]:
    """The caller's environment without its OPENDMP_* settings, plus `variables`: the server
    sees only what the test gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDMP_")}
    env["OPENDMP_LOG_FORMAT"] = "json"
    return env | variables


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """One `opendmp` command (db upgrade, keys init, audit verify), its output captured."""
    return subprocess.run(
        [OPENDMP, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class ServerProcess:
    """`opendmp serve` on `home`. With `demo_data`, `--demo` (SQLite, demo data loaded);
    otherwise demo mode (tokens, test INS) from OPENDMP_DEMO_MODE on `database_url` (default
    SQLite under home), whose schema and key file `prepare()` creates as an operator would."""

    home: Path
    profile: str = "dmp"
    database_url: str = ""
    demo_data: bool = True
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def fhir_url(self) -> str:
        return f"{self.base_url}/fhir"

    @property
    def log_path(self) -> Path:
        return self.home.parent / f"{self.home.name}-server.log"

    def environment(self) -> dict[str, str]:
        if self.demo_data:
            return clean_environment()
        return clean_environment(
            OPENDMP_HOME=str(self.home),
            OPENDMP_DATABASE_URL=self.database_url or f"sqlite:///{self.home / 'opendmp.db'}",
            OPENDMP_DEMO_MODE="true",
        )

    def command(self) -> list[str]:
        command = [OPENDMP, "serve", "--home", str(self.home), "--port", str(self.port)]
        command += ["--profile", self.profile]
        return [*command, "--demo"] if self.demo_data else command

    def prepare(self) -> ServerProcess:
        """Without `--demo`: `opendmp db upgrade` and `opendmp keys init` (README, operators)."""
        for args in (("db", "upgrade"), ("keys", "init")):
            done = run_cli(*args, "--home", str(self.home), env=self.environment())
            assert done.returncode == 0, f"opendmp {' '.join(args)}: {done.stdout}{done.stderr}"
        return self

    def start(self) -> ServerProcess:
        """Start and wait until `/health` answers; the log tail explains a failure. A port
        taken between `free_port()` and uvicorn's bind is replaced (three tries)."""
        assert self.process is None, "already running"
        self.home.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    self.command(),
                    env=self.environment(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: a kill reaches every worker
                )
            try:
                self._wait_healthy()
                return self
            except RuntimeError:
                self.kill()
                with self.log_path.open("rb") as log:
                    log.seek(offset)
                    taken = b"address already in use" in log.read().lower()
                if not taken or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self.process is not None
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"opendmp serve exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/health").status_code == 200:
                        return
                time.sleep(0.1)
        raise RuntimeError(f"opendmp serve not healthy in {START_TIMEOUT}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL to the server's process group (ours: started with its own session)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)
        self.process = None

    def stop(self) -> None:
        """A graceful stop (SIGTERM, as a service manager does), SIGKILL if it hangs."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30.0)
