"""One parsed inbound mail into the desk, in one transaction: a new ticket with its suggestions, a message
on the ticket it answers (threaded by ``In-Reply-To``/``References``, else by a ``[#123]`` token in the
subject from the ticket's own people), or a record that it was ignored (auto-generated) or quarantined.
Every outcome is keyed by the mail's ``Message-ID``: the same mail is never processed twice."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import InboundMail, Ticket, TicketMessage
from models.audit import Actor
from models.base import utcnow
from models.db import page
from triage.channels.mail.parsing import ParsedMail, ticket_token
from triage.desk.events import emit_ticket_event
from triage.desk.suggest import Suggestions
from triage.desk.tickets import intake_ticket
from triage.sla.store import ticket_status_changed

__all__ = (
    "MailOutcome",
    "earlier_outcome",
    "find_thread",
    "list_inbound",
    "message_key",
    "record_mail",
    "record_quarantine",
    "ticket_fields",
)

MAX_TICKET_ID = 2_147_483_647  # ids are 32-bit integers: a larger [#token] names no ticket (PostgreSQL would refuse it)
QUARANTINE_RAW_BYTES = 256 * 1024  # of a quarantined mail's raw bytes, this much is kept for inspection
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]{1,990}>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class MailOutcome:
    """What became of a mail: ``ticket``, ``reply``, ``ignored`` or ``quarantined`` (and whether it had
    been processed before, by an earlier run)."""

    outcome: str
    ticket_id: int | None = None
    reason: str | None = None
    repeat: bool = False


def message_key(raw: bytes) -> str:
    """The mail's ``Message-ID`` as found in its raw header (even when the rest cannot be parsed), else a
    hash of its bytes: the key that stops a mail being processed twice."""
    header = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _MESSAGE_ID.search(header)
    if found:
        return found.group(1).decode("ascii", "replace").strip()
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@helpdesk.invalid>"


def earlier_outcome(session: Session, key: str) -> MailOutcome | None:
    """What an earlier run made of the mail with this key, if it processed it."""
    row = session.scalar(select(InboundMail).where(InboundMail.message_key == key))
    return MailOutcome(row.outcome, row.ticket_id, row.reason, repeat=True) if row else None


def _live(session: Session, ticket: Ticket) -> Ticket:
    seen = set()
    while ticket.merged_into_id and ticket.merged_into_id not in seen:  # merged: the survivor takes the mail
        seen.add(ticket.id)
        ticket = session.get(Ticket, ticket.merged_into_id) or ticket
    return ticket


def find_thread(session: Session, mail: ParsedMail) -> Ticket | None:
    """The ticket a mail answers: one whose thread holds a message it names in ``In-Reply-To`` or
    ``References``; else the ticket of a ``[#id]`` subject token, when the sender is its requester or wrote
    on it before (a token alone must not let a stranger write into someone's ticket)."""
    named = [*mail.in_reply_to, *reversed(mail.references)]
    if named:
        found = session.scalars(select(TicketMessage).where(TicketMessage.message_id.in_(named))).all()
        by_id = {m.message_id: m for m in found}
        for message_id in named:
            if message_id in by_id:
                return _live(session, session.get(Ticket, by_id[message_id].ticket_id))
    token = ticket_token(mail.subject)
    ticket = session.get(Ticket, token) if token and token <= MAX_TICKET_ID else None
    if ticket is None or not mail.sender:
        return None
    authors = set(session.scalars(select(TicketMessage.author).where(TicketMessage.ticket_id == ticket.id)))
    if mail.sender == (ticket.requester or "").lower() or mail.sender in authors:
        return _live(session, ticket)
    return None


def ticket_fields(mail: ParsedMail) -> tuple[str, str]:
    """The subject and body a new ticket from ``mail`` gets (a mail without a subject is named by its
    first line)."""
    return mail.subject or mail.reply_text.split("\n", 1)[0][:200], mail.reply_text


def _message(ticket_id: int, mail: ParsedMail) -> TicketMessage:
    return TicketMessage(
        ticket_id=ticket_id,
        channel="email",
        direction="in",
        kind="message",
        author=mail.sender,
        subject=mail.subject[:1000],
        body=mail.reply_text,
        original=mail.text,
        message_id=mail.message_id,
        references=[*mail.references, *[i for i in mail.in_reply_to if i not in mail.references]],
        attachments=[asdict(a) for a in mail.attachments],
    )


def _reply(session: Session, ticket: Ticket, mail: ParsedMail) -> None:
    message = _message(ticket.id, mail)
    session.add(message)
    before = ticket.status
    reopened = before in ("resolved", "pending")
    if reopened:  # the customer answered a resolved ticket, or one waiting for them: it is open again
        ticket.status, ticket.resolved_at = "open", None
        ticket_status_changed(session, ticket, before)  # the SLA clock carries on
    ticket.updated_at = utcnow()
    session.flush()
    summary = {"id": message.id, "author": message.author, "subject": message.subject, "body": message.body}
    changes = {"status": "open"} if reopened else {}
    emit_ticket_event(session, "ticket.updated", ticket, changes=changes, message=summary)


def record_mail(
    session: Session,
    mail: ParsedMail,
    suggest: Callable[[str, str], Suggestions],
    *,
    mailbox: str,
) -> MailOutcome:
    """Turn a parsed mail into its outcome in ``session``'s transaction (commit it, then move the mail)."""
    earlier = earlier_outcome(session, mail.message_id)
    if earlier is not None:
        return earlier
    record = InboundMail(
        message_key=mail.message_id, mailbox=mailbox, sender=mail.sender, subject=mail.subject[:1000], size=mail.size
    )
    if mail.auto_generated:
        record.outcome, record.reason = "ignored", mail.auto_generated
    else:
        ticket = find_thread(session, mail)
        if ticket is not None and ticket.status != "closed":
            _reply(session, ticket, mail)
            record.outcome, record.ticket_id = "reply", ticket.id
        else:  # new, or a follow-up to a closed ticket: a ticket of its own
            subject, body = ticket_fields(mail)
            ticket, _ = intake_ticket(
                session,
                suggest,
                Actor(f"mail:{mailbox}"),
                subject=subject,
                body=body,
                requester=mail.sender,
                channel="email",
            )
            session.add(_message(ticket.id, mail))
            record.outcome, record.ticket_id = "ticket", ticket.id
    session.add(record)
    session.flush()
    return MailOutcome(record.outcome, record.ticket_id, record.reason)


def record_quarantine(session: Session, raw: bytes, reason: str, detail: str, *, mailbox: str) -> MailOutcome:
    """Keep a mail that cannot become a ticket: the reason, and its first bytes for inspection."""
    key = message_key(raw)
    earlier = earlier_outcome(session, key)
    if earlier is not None:
        return earlier
    session.add(
        InboundMail(
            message_key=key,
            mailbox=mailbox,
            outcome="quarantined",
            reason=reason,
            detail=detail[:2000],
            size=len(raw),
            raw=raw[:QUARANTINE_RAW_BYTES],
        )
    )
    session.flush()
    return MailOutcome("quarantined", reason=reason)


def list_inbound(
    session: Session, *, outcome: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[InboundMail], int]:
    """A page of inbound-mail records, newest first (only ``outcome`` when given)."""
    query = select(InboundMail)
    if outcome:
        query = query.where(InboundMail.outcome == outcome)
    return page(session, query, InboundMail.id.desc(), limit=limit, offset=offset)
