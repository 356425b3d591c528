"""SMTP delivery to a real SMTP server (aiosmtpd) on 127.0.0.1 (SPEC.md §7, NOT-1..5)."""

from __future__ import annotations

import datetime as dt
import email
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from opendmp.adapters.mail import MailDeliveryError, SmtpMailSender, format_message_id
from opendmp.services.ports import MailSender

SENDER = "no-reply@opendmp.example"
BODY = "Bonjour Éloïse,\nUn professionnel a consulté votre dossier pour la première fois.\n"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts, or refuses some recipients."""

    def __init__(self, refuse: str | None = None) -> None:
        self.envelopes: list[Envelope] = []
        self.refuse = refuse

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        parsed = []
        for envelope in self.envelopes:
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            message = email.message_from_bytes(raw, policy=default_policy)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed


def _text(message: EmailMessage) -> str:
    """The body with SMTP's CRLF line ends turned back into the "\\n" the sender was given."""
    content = message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox(refuse="gone@example.org")
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_sender_implements_the_port() -> None:
    sender: MailSender = SmtpMailSender("127.0.0.1", 25, SENDER)
    assert "127.0.0.1" in repr(sender)


def test_not1_message_arrives_once_with_headers_and_utf8_body(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    SmtpMailSender("127.0.0.1", port, SENDER).send(
        to="eloise@example.org",
        subject="Accès à votre dossier médical partagé",
        body=BODY,
        message_id="notif-42",
    )
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["eloise@example.org"]
    (message,) = handler.messages()
    assert message["From"] == SENDER
    assert message["To"] == "eloise@example.org"
    assert message["Subject"] == "Accès à votre dossier médical partagé"
    assert message["Message-ID"] == "<notif-42@opendmp.example>"
    assert message["Date"] is not None
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert _text(message) == BODY
    assert not message.is_multipart()


def test_message_id_is_stable_across_retries_so_receivers_can_dedupe(
    inbox: tuple[Inbox, int],
) -> None:
    """§7 "never twice": a retried delivery carries the same Message-ID."""
    handler, port = inbox
    sender = SmtpMailSender("127.0.0.1", port, SENDER)
    for _ in range(2):
        sender.send(to="a@example.org", subject="s", body="b\n", message_id="notif-7")
    ids = {m["Message-ID"] for m in handler.messages()}
    assert ids == {"<notif-7@opendmp.example>"}


def test_message_id_already_in_rfc_form_is_kept() -> None:
    assert format_message_id("<x@y.example>", SENDER) == "<x@y.example>"
    assert format_message_id("x", "bare") == "<x@localhost>"


def test_refused_recipient_raises_a_permanent_error_without_the_address(
    inbox: tuple[Inbox, int],
) -> None:
    handler, port = inbox
    with pytest.raises(MailDeliveryError) as caught:
        SmtpMailSender("127.0.0.1", port, SENDER).send(
            to="gone@example.org", subject="s", body="b", message_id="m"
        )
    assert caught.value.permanent
    assert "gone@example.org" not in str(caught.value)  # SEC-4
    assert handler.envelopes == []


def test_connection_failure_raises() -> None:
    port = _free_port()  # nothing listens there
    with pytest.raises(MailDeliveryError, match="connect failed") as caught:
        SmtpMailSender("127.0.0.1", port, SENDER, timeout=2).send(
            to="a@example.org", subject="s", body="b", message_id="m"
        )
    assert not caught.value.permanent  # the outbox retries


def test_header_injection_is_refused() -> None:
    sender = SmtpMailSender("127.0.0.1", 25, SENDER)
    with pytest.raises(ValueError, match="line breaks"):
        sender.build_message(
            to="a@example.org", subject="hi\r\nBcc: x@evil.example", body="b", message_id="m"
        )


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_and_login(tmp_path: Path) -> None:
    """The production path: STARTTLS with a verified certificate, then AUTH."""
    cert_path, key_path = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    client_tls = ssl.create_default_context(cafile=str(cert_path))

    def authenticate(
        server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"relay-user",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)

    handler = Inbox()
    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        good = SmtpMailSender(
            "localhost",
            port,
            SENDER,
            username="relay-user",
            password="s3cret",
            starttls=True,
            ssl_context=client_tls,
        )
        good.send(to="a@example.org", subject="s", body=BODY, message_id="m-tls")
        assert [_text(m) for m in handler.messages()] == [BODY]

        with pytest.raises(MailDeliveryError, match="login failed with 535") as caught:
            SmtpMailSender(
                "localhost",
                port,
                SENDER,
                username="relay-user",
                password="wrong",
                starttls=True,
                ssl_context=client_tls,
            ).send(to="a@example.org", subject="s", body="b", message_id="m2")
        assert caught.value.permanent

        with pytest.raises(MailDeliveryError, match="starttls failed"):
            SmtpMailSender(  # the default context does not trust the self-signed certificate
                "localhost", port, SENDER, starttls=True
            ).send(to="a@example.org", subject="s", body="b", message_id="m3")
        assert len(handler.envelopes) == 1
    finally:
        controller.stop()
