"""Structured JSON logs without medical data (SPEC.md §9, SEC-4).

Identifiers never reach a log line in clear: `LogHasher` turns them into a keyed hash, so
that lines about the same caller can be correlated without revealing who it is. Paths are
logged as route templates (`/fhir/Patient/{record_id}`), never with their values or query.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys
import traceback
from types import TracebackType

import structlog


class LogHasher:
    """HMAC-SHA256 of an identifier, truncated; the key is OPENDMP_LOG_SALT or random."""

    def __init__(self, salt: str = "") -> None:
        self._key = salt.encode() if salt else secrets.token_bytes(32)

    def __call__(self, value: str) -> str:
        if not value:
            return ""
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:16]


def frames(tb: TracebackType | None) -> list[str]:
    """Where an exception went (file:line function), without its message or locals (SEC-4)."""
    return [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb)][-12:]


def configure_logging(log_format: str = "json") -> None:
    """JSON lines on stderr (or a console renderer for humans); called by `opendmp serve`."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger() -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger("opendmp.web")
    return logger
