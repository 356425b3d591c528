"""What the portals hold while the app runs: built once by `mount_portals`, kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from jinja2 import Environment

from opendmp.web.portal.config import DEMO_CLIENT_ID, PortalConfig
from opendmp.web.portal.demo_authority import DemoAuthority, DemoOidcClient
from opendmp.web.portal.oidc import HttpOidcClient, OidcClient
from opendmp.web.portal.session import SessionCodec


@dataclass
class PortalState:
    config: PortalConfig
    codec: SessionCodec
    templates: Environment
    authority: DemoAuthority | None
    clients: dict[str, OidcClient] = field(default_factory=dict)

    def client(self, side: str) -> OidcClient | None:
        """The identity provider of this side (built on first use: discovery is lazy)."""
        if side in self.clients:
            return self.clients[side]
        provider = self.config.provider(side)
        client: OidcClient | None = None
        if provider is not None:
            client = HttpOidcClient(provider)
        elif self.config.uses_demo_issuer(side) and self.authority is not None:
            client = DemoOidcClient(self.authority, DEMO_CLIENT_ID)
        if client is not None:
            self.clients[side] = client
        return client


def portal_of(request: Request) -> PortalState:
    state: PortalState = request.app.state.portal
    return state
