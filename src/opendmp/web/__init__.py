"""The web edge: the ASGI application and the portals."""
