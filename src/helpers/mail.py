"""The SMTP sender's core: settings from the environment, a STARTTLS session, one delivery.

A low layer (it imports only :mod:`helpers.config`, through nothing else), used by the
campaign sender (:mod:`helpers.outreach`) and the report digest
(:mod:`helpers.reports.digest`), which may not import each other.

Settings come only from the environment (:meth:`SmtpSettings.from_env`): HELPERS_SMTP_HOST,
HELPERS_SMTP_PORT (default 587), HELPERS_SMTP_FROM, HELPERS_SMTP_USER and
HELPERS_SMTP_PASSWORD (together or neither), HELPERS_SMTP_CAFILE. A session always upgrades to
TLS (STARTTLS) before anything is sent or any password given; a server without it is a
:class:`SendError`. Errors name the host and port, never the credentials.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage

__all__ = ["SendError", "SmtpSettings", "deliver", "start_session"]


class SendError(RuntimeError):
    """The SMTP delivery failed; ``sent`` messages were delivered (and logged) before it."""

    def __init__(self, message: str, sent: int = 0):
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class SmtpSettings:
    """SMTP connection settings, read only from the environment by :meth:`from_env`.

    HELPERS_SMTP_HOST, HELPERS_SMTP_PORT (default 587), HELPERS_SMTP_FROM (required),
    HELPERS_SMTP_USER and HELPERS_SMTP_PASSWORD (optional, together), HELPERS_SMTP_CAFILE
    (optional: a CA bundle to trust, e.g. a private relay's). The password is never shown.
    """

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_env(cls, environ=None) -> SmtpSettings:
        env = os.environ if environ is None else environ
        missing = [k for k in ("HELPERS_SMTP_HOST", "HELPERS_SMTP_FROM") if not env.get(k)]
        if missing:
            raise ValueError(f"environment variable(s) {missing} must be set to send")
        user, password = env.get("HELPERS_SMTP_USER"), env.get("HELPERS_SMTP_PASSWORD")
        if bool(user) != bool(password):
            raise ValueError("set both HELPERS_SMTP_USER and HELPERS_SMTP_PASSWORD, or neither")
        try:
            port = int(env.get("HELPERS_SMTP_PORT", "587"))
        except ValueError as e:
            raise ValueError("HELPERS_SMTP_PORT must be an integer") from e
        return cls(
            host=env["HELPERS_SMTP_HOST"],
            port=port,
            sender=env["HELPERS_SMTP_FROM"],
            user=user or None,
            password=password or None,
            cafile=env.get("HELPERS_SMTP_CAFILE") or None,
        )


def start_session(smtp: smtplib.SMTP, settings: SmtpSettings, where: str) -> None:
    """EHLO, STARTTLS (a server without it is a :class:`SendError`: never send in clear),
    EHLO again and the login when ``settings`` has a user."""
    smtp.ehlo()
    if not smtp.has_extn("starttls"):
        raise SendError(f"SMTP server {where} does not offer STARTTLS: not sending in clear")
    smtp.starttls(context=ssl.create_default_context(cafile=settings.cafile))
    smtp.ehlo()
    if settings.user:
        try:
            smtp.login(settings.user, settings.password)
        except smtplib.SMTPException as e:
            raise SendError(f"SMTP login to {where} failed ({type(e).__name__})") from None


def deliver(msg: EmailMessage, settings: SmtpSettings) -> None:
    """Send one message (its From, To and Cc headers say who to) over one STARTTLS session;
    any failure is a :class:`SendError` naming the server."""
    where = f"{settings.host}:{settings.port}"
    try:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    except OSError as e:
        raise SendError(f"cannot connect to SMTP server {where}: {e.strerror or e}") from None
    try:
        start_session(smtp, settings, where)
        smtp.send_message(msg)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
        raise SendError(f"SMTP delivery via {where} failed: {type(e).__name__}") from None
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
