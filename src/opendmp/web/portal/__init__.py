"""The patient's and the professionals' web portals (API.md "Web portals", issue 4).

Clients of the same services as the FHIR interface: every rule is decided there, with the
signed-in person as the caller; the portals show what the services return, in French first
or English. `mount_portals(app)` is the one call the app factory makes.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from opendmp.web.portal import (
    routes_auth,
    routes_demo,
    routes_patient,
    routes_patient_manage,
    routes_pro,
    routes_pro_documents,
)
from opendmp.web.portal.config import portal_config
from opendmp.web.portal.demo_authority import DemoAuthority
from opendmp.web.portal.render import STATIC_PATH, environment
from opendmp.web.portal.session import SessionCodec
from opendmp.web.portal.state import PortalState
from opendmp.web.runtime import Runtime

__all__ = ["mount_portals"]


def mount_portals(app: FastAPI) -> None:
    """Add the portals' pages, sign-in and static files to the app built by `create_app`."""
    runtime: Runtime = app.state.runtime
    config = portal_config(runtime.application.settings)
    demo_issuer = runtime.authentication.demo_issuer
    app.state.portal = PortalState(
        config=config,
        codec=SessionCodec(
            config.secret, idle_seconds=config.idle_seconds, max_seconds=config.max_seconds
        ),
        templates=environment(),
        authority=DemoAuthority(demo_issuer, config.secret) if demo_issuer is not None else None,
    )
    routers = [routes_auth.router, routes_patient.router, routes_patient_manage.router]
    routers += [routes_pro.router, routes_pro_documents.router]
    if demo_issuer is not None:  # SEC-2: the demo issuer exists in demo mode only
        routers.append(routes_demo.router)
    for router in [*routers, routes_auth.fallback]:
        app.include_router(router)
    app.mount(
        STATIC_PATH,
        StaticFiles(packages=[("opendmp.web.portal", "static")]),
        name="portal-static",
    )
