"""Configuration from the environment or explicit values; never read at import time (STYLE.md).

Every setting is an `OPENDMP_*` environment variable (docs/configuration.md). Secrets (SMTP
password, S3 keys) have no default and are never printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _bool(value: str) -> bool:
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"not a boolean: {value!r}")


@dataclass(frozen=True)
class Settings:
    home: Path = Path("var")
    database_url: str = ""  # default: SQLite file under home
    database_pool_size: int = 10  # PostgreSQL connections kept open per worker process
    blob_store: str = "filesystem"  # filesystem | s3
    blob_dir: Path | None = None  # default: home/blobs
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "eu-west-3"
    s3_access_key: str = field(default="", repr=False)
    s3_secret_key: str = field(default="", repr=False)
    key_file: Path | None = None  # default: home/master-keys.json
    profile: str = "dmp"  # dmp | mhd (SPEC.md §10)
    demo_mode: bool = False
    allow_test_ins: bool = False
    habilitation_file: Path | None = None  # R-PS-5 matrix override (docs/access-policy.md)
    age_of_majority: int = 18
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "dmp@localhost"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    # HTTP server (`opendmp serve`, docs/configuration.md)
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    base_url: str = ""  # public URL (links, Location); default: the URL the request came to
    cors_origins: str = ""  # comma-separated origins allowed by CORS; "*" for any
    trusted_issuers: str = ""  # JSON list of token issuers (docs/authentication.md, SEC-2)
    demo_key_file: Path | None = None  # default: home/demo-issuer-key.json (demo mode only)
    demo_issuer: str = "urn:opendmp:demo-issuer"  # `iss` of the demo issuer's tokens
    demo_audience: str = "urn:opendmp:fhir"  # `aud` of the demo issuer's tokens
    smart_authorization_endpoint: str = ""  # advertised in /.well-known/smart-configuration
    smart_token_endpoint: str = ""
    log_format: str = "json"  # json | console (SPEC.md §9)
    log_salt: str = field(default="", repr=False)  # key of the hashed ids in logs (SEC-4)
    # SEC-3 limits
    max_request_bytes: int = 64 * 1024 * 1024
    max_document_bytes: int = 20 * 1024 * 1024
    max_bundle_entries: int = 100
    max_count: int = 200

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'opendmp.db'}"

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.home / "blobs"

    @property
    def effective_key_file(self) -> Path:
        return self.key_file or self.home / "master-keys.json"

    @property
    def effective_demo_key_file(self) -> Path:
        return self.demo_key_file or self.home / "demo-issuer-key.json"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def checked(self) -> Settings:
        if self.profile not in {"dmp", "mhd"}:
            raise SettingsError(f"OPENDMP_PROFILE must be dmp or mhd, not {self.profile!r}")
        if self.blob_store not in {"filesystem", "s3"}:
            raise SettingsError(
                f"OPENDMP_BLOB_STORE must be filesystem or s3, not {self.blob_store!r}"
            )
        if self.blob_store == "s3" and not self.s3_bucket:
            raise SettingsError("OPENDMP_S3_BUCKET is required with OPENDMP_BLOB_STORE=s3")
        if not 0 < self.port < 65536:
            raise SettingsError(f"OPENDMP_PORT must be a TCP port, not {self.port}")
        if self.database_pool_size < 1:
            raise SettingsError(
                f"OPENDMP_DATABASE_POOL_SIZE must be at least 1, not {self.database_pool_size}"
            )
        if self.workers < 1:
            raise SettingsError(f"OPENDMP_WORKERS must be at least 1, not {self.workers}")
        if self.log_format not in {"json", "console"}:
            raise SettingsError(
                f"OPENDMP_LOG_FORMAT must be json or console, not {self.log_format!r}"
            )
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise SettingsError("OPENDMP_BASE_URL must be an http(s) URL")
        limits = ("max_request_bytes", "max_document_bytes", "max_bundle_entries", "max_count")
        for name in limits:
            if getattr(self, name) < 1:
                raise SettingsError(f"OPENDMP_{name.upper()} must be positive")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read `OPENDMP_<FIELD>` variables; explicit overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"OPENDMP_{f.name.upper()}")
            if raw is None:
                continue
            kind = str(f.type)
            try:
                if "bool" in kind:
                    values[f.name] = _bool(raw)
                elif "int" in kind:
                    values[f.name] = int(raw)
                elif "Path" in kind:
                    values[f.name] = Path(raw) if raw else None
                else:
                    values[f.name] = raw
            except ValueError as error:
                raise SettingsError(f"OPENDMP_{f.name.upper()}: {error}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).checked()  # type: ignore[arg-type]
