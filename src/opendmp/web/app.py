"""`create_app`: the ASGI application of the FHIR R4 / IHE MHD / PDQm interface (API.md).

Built from `Settings` (the adapters are wired by `bootstrap.build`) or from an `Application`
that the caller owns (tests, the demo). Nothing is created at import time (STYLE.md): the
runtime lives on `app.state`. `create_app_from_env` is the factory `opendmp serve` gives
uvicorn, so that each worker process builds its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from opendmp import __version__
from opendmp.bootstrap import Application, Authentication, build, build_authentication
from opendmp.settings import Settings
from opendmp.web import (
    openapi,
    routes_audit,
    routes_consent,
    routes_dev,
    routes_documents,
    routes_patient,
    routes_system,
)
from opendmp.web.errors import install_error_handlers
from opendmp.web.logs import LogHasher, configure_logging
from opendmp.web.metrics import Metrics
from opendmp.web.middleware import REQUEST_ID_HEADER, RequestContextMiddleware
from opendmp.web.portal import mount_portals
from opendmp.web.route_table import served_routes
from opendmp.web.runtime import Runtime


def create_app(
    source: Settings | Application, *, authentication: Authentication | None = None
) -> FastAPI:
    """The app for these settings (adapters built and disposed here) or this application."""
    owns_application = isinstance(source, Settings)
    application = build(source) if isinstance(source, Settings) else source
    settings = application.settings
    owns_authentication = authentication is None
    auth = authentication or build_authentication(settings)
    runtime = Runtime(
        application=application,
        authentication=auth,
        metrics=Metrics(),
        routes=served_routes(),
        hasher=LogHasher(settings.log_salt),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_authentication:
            auth.close()
        if owns_application:
            application.engine.dispose()  # type: ignore[attr-defined]

    app = FastAPI(
        title="OpenDMP",
        version=__version__,
        summary="FHIR R4 / IHE MHD / PDQm interface of the shared health record",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    for module in (routes_system, routes_patient, routes_consent, routes_documents, routes_audit):
        app.include_router(module.router)
    if auth.demo_issuer is not None:  # SEC-2: the demo issuer exists in demo mode only
        app.include_router(routes_dev.router)
    mount_portals(app)  # the patient's and the professionals' portals (issue 4)
    openapi.install(app, runtime.routes)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Prefer", "If-Match", "X-Request-Id"],
            expose_headers=[REQUEST_ID_HEADER, "Location", "ETag"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        metrics=runtime.metrics,
        max_body_bytes=application.services.deployment.limits.max_request_bytes,
    )
    return app


def create_app_from_env() -> FastAPI:
    """uvicorn's factory (`opendmp serve`): settings from OPENDMP_* variables."""
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    return create_app(settings)
