"""What every use case receives: the ports, the deployment, and who is calling."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from opendmp.domain.actors import Actor
from opendmp.domain.habilitation import HabilitationMatrix
from opendmp.services.ports import BlobStore, Clock, Deployment, UnitOfWorkFactory, Vault


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """The composition root builds one of these (bootstrap.py); tests build their own."""

    uow: UnitOfWorkFactory
    blobs: BlobStore
    vault: Vault
    clock: Clock
    deployment: Deployment = field(default_factory=Deployment)
    habilitation: HabilitationMatrix = field(default_factory=HabilitationMatrix.default)


@dataclass(frozen=True, slots=True)
class Call:
    """One request: the verified caller and the request id the audit trail records (AUD-1)."""

    actor: Actor
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def new_id() -> str:
    return str(uuid.uuid4())
