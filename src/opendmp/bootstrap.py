"""The composition root: settings in, a ready ServiceContext out (STYLE.md, cosmicpython)."""

from __future__ import annotations

from dataclasses import dataclass

from opendmp.adapters.blobs import FilesystemBlobStore, S3BlobStore
from opendmp.adapters.crypto import EnvelopeVault, FileKeyProvider
from opendmp.adapters.mail import SmtpMailSender
from opendmp.adapters.sql.engine import make_engine, upgrade
from opendmp.adapters.sql.uow import SqlUnitOfWorkFactory
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


def build(settings: Settings, *, migrate: bool = False, create_keys: bool = False) -> Application:
    """Wire the adapters for `settings`; optionally create the key file and run migrations."""
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
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
            limits=Limits(age_of_majority=settings.age_of_majority),
        ),
        habilitation=habilitation,
    )
    return Application(settings, services, provider, engine)
