"""The request's frame: request id, body limit, metrics, the access log, the last-resort 500.

A plain ASGI middleware (no BaseHTTPMiddleware) so that the body can be counted as it
streams (SEC-3) and any unexpected exception becomes an OperationOutcome without a stack
trace, logged with hashed identifiers only (SEC-4).
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders

from opendmp.web.errors import body_too_large, internal_error_response, outcome_of
from opendmp.web.logs import frames, get_logger
from opendmp.web.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def request_id_of(headers: Headers) -> str:
    """The client's X-Request-Id when it is short and plain, else a fresh one (API.md)."""
    given = headers.get("x-request-id", "").strip()
    return given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """`/fhir/Patient/{record_id}`: the matched route, never the path with its values."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class _TooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = request_id_of(headers)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        response: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"], response["started"] = message["status"], True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        started = time.perf_counter()
        self.metrics.started()
        try:
            body_receive = await self._buffered(scope, headers, receive)
            await self.app(scope, body_receive, send_with_id)
        except _TooLarge:
            _, outcome = outcome_of(body_too_large(self.max_body_bytes))
            await _send_outcome(send_with_id, 413, outcome, close=True)
        except Exception as error:
            get_logger().error(
                "unhandled_exception",
                request_id=request_id,
                route=route_template(scope),
                error_type=type(error).__name__,
                frames=frames(sys.exc_info()[2]),
            )
            if not response["started"]:
                await internal_error_response(request_id)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe(scope["method"], route, response["status"], elapsed)
            get_logger().info(
                "request",
                request_id=request_id,
                method=scope["method"],
                route=route,
                status=response["status"],
                duration_ms=round(elapsed * 1000, 1),
                actor_kind=state.get("actor_kind", ""),
                actor=state.get("actor_hash", ""),
            )

    async def _buffered(self, scope: Scope, headers: Headers, receive: Receive) -> Receive:
        """Read the whole body, counting (SEC-3: 413 beyond the limit), then replay it."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLarge
        if scope["method"] not in _BODY_METHODS:
            return receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([], receive, final=message)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return _replay(chunks, receive)


def _replay(chunks: list[bytes], receive: Receive, *, final: Message | None = None) -> Receive:
    pending: list[Message] = (
        [final] if final is not None else [{"type": "http.request", "body": b"".join(chunks)}]
    )

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def _send_outcome(send: Send, status: int, outcome: dict[str, Any], *, close: bool) -> None:
    body = json.dumps(outcome).encode()
    headers = [
        (b"content-type", b"application/fhir+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
