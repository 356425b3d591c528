"""§7, NOT-2, NOT-5: the outbox reaches a real SMTP server exactly once, without medical content."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from opendmp.adapters.mail import SmtpMailSender
from opendmp.domain.record import PatientSettings
from opendmp.services import jobs
from opendmp.services.context import ServiceContext
from opendmp.services.find_documents import find_documents
from opendmp.services.ports import DocumentQuery, OutboxStatus
from opendmp.services.records import open_record, update_settings
from opendmp.services.submit_documents import submit_documents
from tests.support import (
    SettableClock,
    a_draft,
    a_submission,
    an_ins,
    call,
    emergency,
    open_command,
    patient,
    physician,
)


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def handle_message(self, message: object) -> None:
        self.messages.append(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_an_emergency_notice_reaches_smtp_exactly_once_not_2(
    services: ServiceContext, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ins = an_ins()
    record = open_record(services, call(physician()), open_command(ins))
    update_settings(
        services, call(patient(ins)), record.id, PatientSettings(email="camille@example.org")
    )
    submit_documents(
        services,
        call(physician()),
        a_submission(record.id, a_draft("secret-diagnosis", data=b"CANCER")),
    )
    find_documents(services, call(emergency()), record.id, DocumentQuery())
    sender = SmtpMailSender("127.0.0.1", port, "dmp@example.org")

    first = jobs.deliver_notifications(services, sender)
    second = jobs.deliver_notifications(services, sender)

    assert first.done >= 1 and second.done == 0
    with services.uow() as uow:
        by_mail = [m for m in uow.outbox.for_record(record.id) if "@" in m.notification.recipient]
    assert len(inbox.messages) == len(by_mail) >= 1
    assert {m["To"] for m in inbox.messages} == {"camille@example.org"}  # type: ignore[index]
    ids = [m["Message-ID"] for m in inbox.messages]  # type: ignore[index]
    assert len(ids) == len(set(ids)), "no message was sent twice"
    text = "".join(str(m) for m in inbox.messages)
    assert "CANCER" not in text and "secret-diagnosis" not in text and "11488-4" not in text


def test_a_failed_delivery_is_retried_later_and_then_sent(
    services: ServiceContext, smtp: tuple[Inbox, int], clock: SettableClock
) -> None:
    inbox, port = smtp
    ins = an_ins()
    record = open_record(services, call(physician()), open_command(ins))
    update_settings(
        services, call(patient(ins)), record.id, PatientSettings(email="camille@example.org")
    )
    find_documents(services, call(emergency()), record.id, DocumentQuery())

    unreachable = SmtpMailSender("127.0.0.1", _free_port(), "dmp@example.org", timeout=2)
    failed = jobs.deliver_notifications(services, unreachable)
    assert failed.failed >= 1 and not inbox.messages
    assert (
        jobs.deliver_notifications(services, SmtpMailSender("127.0.0.1", port, "d@e.org")).done == 0
    )
    clock.advance(timedelta(minutes=5))
    sent = jobs.deliver_notifications(services, SmtpMailSender("127.0.0.1", port, "d@e.org"))
    assert sent.done == failed.failed
    with services.uow() as uow:
        statuses = {m.status for m in uow.outbox.for_record(record.id)}
    assert statuses == {OutboxStatus.SENT}
