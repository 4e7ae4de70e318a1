"""Acknowledgements: an automatic answer to a new ticket from mail with the published articles that fit
it (links to their help pages), sent only when the "nothing fits" decision says an article fits. It
follows RFC 3834: marked ``Auto-Submitted: auto-replied``, sent only to a person's mail (never to
auto-generated mail or to system addresses), threaded to the mail it answers, and at most one per
requester per period."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Ticket, TicketMessage
from models.base import utcnow
from models.channel_settings import MailSettings
from models.db import session_scope
from triage.channels.mail.parsing import ParsedMail, token_subject
from triage.knowledge.retrieval import ArticleHit

__all__ = ("Acknowledger", "never_answered")

SYSTEM_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply", "bounce")


def never_answered(address: str, own: str = "") -> bool:
    """Whether RFC 3834 (and sense) says not to answer ``address``: our own address, system mailboxes,
    list owners (``owner-*``, ``*-request``)."""
    local = address.split("@", 1)[0].lower()
    return (
        address.lower() == own.lower()
        or local in SYSTEM_SENDERS
        or local.startswith(("owner-", "bounce"))
        or local.endswith("-request")
    )


class Acknowledger:
    """Sends acknowledgements through the configured SMTP server; ``find_articles(subject, body)`` gives
    the articles that fit (none when nothing fits)."""

    def __init__(
        self,
        settings: MailSettings,
        sessions: sessionmaker[Session],
        find_articles: Callable[[str, str], Sequence[ArticleHit]],
        base_url: str,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.find_articles = find_articles
        self.base_url = base_url.rstrip("/")

    def _recently_acknowledged(self, session: Session, requester: str) -> bool:
        since = utcnow() - timedelta(hours=self.settings.acknowledge_period_hours)
        query = (
            select(TicketMessage.id)
            .join(Ticket, Ticket.id == TicketMessage.ticket_id)
            .where(
                TicketMessage.kind == "acknowledgement",
                TicketMessage.created_at >= since,
                Ticket.requester == requester,
            )
            .limit(1)
        )
        return session.scalar(query) is not None

    def compose(self, ticket_id: int, mail: ParsedMail, articles: Sequence[ArticleHit]) -> EmailMessage:
        """The acknowledgement for a ticket: the articles with their links, threaded to ``mail``."""
        message = EmailMessage()
        message["From"] = self.settings.from_address
        message["To"] = mail.sender
        message["Subject"] = token_subject(f"Re: {mail.subject}" if mail.subject else "Your request", ticket_id)
        message["Message-ID"] = make_msgid(domain=self.settings.from_address.rsplit("@", 1)[-1] or None)
        message["In-Reply-To"] = mail.message_id
        message["References"] = " ".join([*mail.references, mail.message_id])
        message["Auto-Submitted"] = "auto-replied"  # RFC 3834
        message["X-Auto-Response-Suppress"] = "All"  # and Exchange's way of saying so
        lines = [
            f"We received your request and filed it as ticket #{ticket_id}.",
            "",
            "These articles may already answer it:",
            "",
        ]
        for hit in articles:
            lines += [f"- {hit.title}", f"  {self.base_url}/help/{hit.slug}"]
        lines += ["", "If one of them solves it, there is nothing more to do.", "Otherwise, reply to this mail:"]
        lines += ["an agent will answer you.", ""]
        message.set_content("\n".join(lines))
        return message

    def send(self, message: EmailMessage) -> None:
        """Send through the SMTP server (TLS as configured, login when a user is set)."""
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=30, context=context)
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30)
        with client:
            if s.smtp_security == "starttls":
                client.starttls(context=context)
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password)
            client.send_message(message)

    def __call__(self, ticket_id: int, mail: ParsedMail) -> bool:
        """Acknowledge a new ticket from ``mail`` when allowed and an article fits; returns whether sent."""
        s = self.settings
        if not (s.acknowledge and s.smtp_host and s.from_address) or mail.auto_generated or not mail.sender:
            return False
        if never_answered(mail.sender, s.from_address):
            return False
        with session_scope(self.sessions) as session:
            if self._recently_acknowledged(session, mail.sender):
                return False
        articles = list(self.find_articles(mail.subject, mail.reply_text))
        if not articles:
            return False
        message = self.compose(ticket_id, mail, articles)
        self.send(message)
        with session_scope(self.sessions) as session:
            session.add(
                TicketMessage(
                    ticket_id=ticket_id,
                    channel="email",
                    direction="out",
                    kind="acknowledgement",
                    author=s.from_address,
                    subject=str(message["Subject"]),
                    body=message.get_content(),
                    original=message.get_content(),
                    message_id=str(message["Message-ID"]),
                    references=[mail.message_id],
                )
            )
        return True
