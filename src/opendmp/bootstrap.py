"""The composition root: settings in, a ready ServiceContext out (STYLE.md, cosmicpython)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from opendmp.adapters.blobs import FilesystemBlobStore, S3BlobStore
from opendmp.adapters.crypto import EnvelopeVault, FileKeyProvider
from opendmp.adapters.demo_tokens import DemoIssuer
from opendmp.adapters.mail import SmtpMailSender
from opendmp.adapters.sql.engine import make_engine, upgrade
from opendmp.adapters.sql.uow import SqlUnitOfWorkFactory
from opendmp.adapters.tokens import TokenVerifier, parse_trusted_issuers
from opendmp.domain.habilitation import HabilitationMatrix
from opendmp.services.context import ServiceContext, SystemClock
from opendmp.services.ports import BlobStore, Deployment, Limits, MailSender
from opendmp.settings import Settings


@dataclass(frozen=True)
class Application:
    settings: Settings
    services: ServiceContext
    key_provider: FileKeyProvider
    engine: object

    def mail_sender(self) -> MailSender | None:
        s = self.settings
        if not s.smtp_host:
            return None
        return SmtpMailSender(
            s.smtp_host,
            s.smtp_port,
            s.smtp_sender,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            starttls=s.smtp_starttls,
        )

    def is_database_reachable(self) -> bool:
        """`GET /ready` (SPEC.md §9): one round trip, outside SQLAlchemy's transaction hooks
        (on SQLite they take the write lock, which a probe must not wait for)."""
        engine: Any = self.engine
        try:
            connection = engine.raw_connection()
        except Exception:  # any driver failure means "not ready"
            return False
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
            connection.rollback()
            return True
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                connection.close()


@dataclass(frozen=True)
class Authentication:
    """Who may present tokens (SEC-2): the trusted issuers, plus the demo issuer in demo mode."""

    verifier: TokenVerifier
    demo_issuer: DemoIssuer | None = None

    def close(self) -> None:
        self.verifier.close()


def demo_issuer(settings: Settings) -> DemoIssuer:
    """The demo issuer of this home (its key file is created 0600 when missing)."""
    return DemoIssuer(
        settings.effective_demo_key_file, settings.demo_issuer, settings.demo_audience
    )


def build_authentication(settings: Settings) -> Authentication:
    """OPENDMP_TRUSTED_ISSUERS, and the demo issuer only when demo mode is on (SEC-2)."""
    text = settings.trusted_issuers.strip()
    issuers = parse_trusted_issuers(text) if text else []
    demo = demo_issuer(settings) if settings.demo_mode else None
    if demo is not None:
        issuers.append(demo.trusted())
    return Authentication(TokenVerifier(issuers), demo)


def build(
    settings: Settings,
    *,
    migrate: bool = False,
    create_keys: bool = False,
    engine: Any = None,
) -> Application:
    """Wire the adapters for `settings`; optionally create the key file and run migrations.

    `engine` reuses an existing SQLAlchemy engine (tests share one per session).
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    if engine is None:
        engine = make_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    if migrate:
        upgrade(engine)
    key_file = settings.effective_key_file
    if create_keys and not key_file.exists():
        FileKeyProvider.create(key_file)
    provider = FileKeyProvider(key_file)
    blobs: BlobStore
    if settings.blob_store == "s3":
        blobs = S3BlobStore.from_settings(
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region,
            access_key=settings.s3_access_key or None,
            secret_key=settings.s3_secret_key or None,
            bucket=settings.s3_bucket,
        )
    else:
        blobs = FilesystemBlobStore(settings.effective_blob_dir)
    habilitation = (
        HabilitationMatrix.from_json(settings.habilitation_file.read_text(encoding="utf-8"))
        if settings.habilitation_file
        else HabilitationMatrix.default()
    )
    services = ServiceContext(
        uow=SqlUnitOfWorkFactory(engine),
        blobs=blobs,
        vault=EnvelopeVault(provider),
        clock=SystemClock(),
        deployment=Deployment(
            profile=settings.profile,
            allow_test_ins=settings.allow_test_ins or settings.demo_mode,
            limits=Limits(
                max_document_bytes=settings.max_document_bytes,
                max_bundle_entries=settings.max_bundle_entries,
                max_request_bytes=settings.max_request_bytes,
                max_count=settings.max_count,
                age_of_majority=settings.age_of_majority,
            ),
        ),
        habilitation=habilitation,
    )
    return Application(settings, services, provider, engine)
