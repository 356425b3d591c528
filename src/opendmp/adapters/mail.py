"""The `MailSender` port over SMTP, used by the notification outbox (SPEC.md §7, NOT-1..5).

It sends exactly the plain text it is given (notifications carry no medical content, §7) and
raises on any failure so the outbox retries. The outbox message id becomes the `Message-ID`
header, so a receiver can drop the duplicate of a retried delivery ("never twice").
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, localtime


class MailDeliveryError(Exception):
    """Delivery failed. `permanent` is True for 5xx answers (retrying will not help).

    The message names the SMTP stage and code, never the recipient (SEC-4: logs hold no
    identifier).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _domain_of(address: str) -> str:
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain or "localhost"


def format_message_id(message_id: str, sender: str) -> str:
    """An RFC 5322 `msg-id` for an outbox id: `<id@sender-domain>` unless already one."""
    if message_id.startswith("<") and message_id.endswith(">") and "@" in message_id:
        return message_id
    return f"<{message_id}@{_domain_of(sender)}>"


class SmtpMailSender:
    """Plain-text UTF-8 mail through one SMTP relay, optionally with STARTTLS and login."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together")
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname or _domain_of(sender)

    def build_message(self, *, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
        """The message as sent; header values with line breaks are refused (no injection)."""
        for value in (to, subject, message_id):
            if "\r" in value or "\n" in value:
                raise ValueError("mail header values may not contain line breaks")
        message = EmailMessage(policy=SMTP_POLICY)
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(localtime())
        message["Message-ID"] = format_message_id(message_id, self._sender)
        message.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
        return message

    def send(self, *, to: str, subject: str, body: str, message_id: str) -> None:
        message = self.build_message(to=to, subject=subject, body=body, message_id=message_id)
        stage = "connect"
        try:
            with smtplib.SMTP(
                self._host, self._port, timeout=self._timeout, local_hostname=self._local_hostname
            ) as client:
                stage = "ehlo"
                client.ehlo()
                if self._starttls:
                    stage = "starttls"
                    client.starttls(context=self._ssl_context or ssl.create_default_context())
                    client.ehlo()
                if self._username is not None and self._password is not None:
                    stage = "login"
                    client.login(self._username, self._password)
                stage = "send"
                refused = client.send_message(message, from_addr=self._sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise MailDeliveryError(
                f"SMTP {self._host}:{self._port}: recipient refused ({codes})",
                permanent=all(500 <= code < 600 for code in codes),
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise MailDeliveryError(
                f"SMTP {self._host}:{self._port}: {stage} failed with {exc.smtp_code}",
                permanent=500 <= exc.smtp_code < 600,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            detail = type(exc).__name__
            if isinstance(exc, OSError) and exc.strerror:
                detail = f"{detail}: {exc.strerror}"
            raise MailDeliveryError(
                f"SMTP {self._host}:{self._port}: {stage} failed ({detail})"
            ) from None
        if refused:
            raise MailDeliveryError(f"SMTP {self._host}:{self._port}: recipient refused")

    def __repr__(self) -> str:
        return f"SmtpMailSender({self._host!r}, {self._port}, starttls={self._starttls})"
