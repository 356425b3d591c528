"""What the running app holds: built once by `create_app`, kept on `app.state` (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from opendmp.bootstrap import Application, Authentication
from opendmp.fhir.capability import RouteSpec
from opendmp.web.logs import LogHasher
from opendmp.web.metrics import Metrics


@dataclass(frozen=True)
class Runtime:
    application: Application
    authentication: Authentication
    metrics: Metrics
    routes: tuple[RouteSpec, ...]
    hasher: LogHasher

    @property
    def profile(self) -> str:
        return self.application.settings.profile

    @property
    def any_system(self) -> bool:
        """Profile `mhd` names patients by any identifier system; `dmp` by INS only (§10)."""
        return self.profile == "mhd"

    def server_url(self, request: Request) -> str:
        """OPENDMP_BASE_URL, or the URL this request came to (scheme, host, port)."""
        configured = self.application.settings.base_url
        return (configured or str(request.base_url)).rstrip("/")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
