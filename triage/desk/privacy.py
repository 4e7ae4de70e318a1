"""GDPR: export everything held about a requester, and erase their personal data (ticket text, the
requester field, suggestions made for their tickets, incident events that quote them, portal drafts with
the same text, their vectors in the embedding cache, the outbox events webhooks send about them),
recording an erasure so that every serving process drops their tickets from the indexes it holds. The
requester is named in the audit trail and the erasure record only by a keyed hash
(:func:`models.secrets.keyed_identity`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from models import Erasure, Feedback, InboundMail, IncidentEvent, PortalSuggestion, Suggestion, Ticket, TicketMessage
from models.audit import Actor, record_audit
from models.base import utcnow
from models.errors import InvalidInput, NotFound
from models.outbox import OutboxEvent
from models.secrets import IDENTITY_SECRET, deployment_secret, keyed_identity
from triage.ml.embedding_cache import EmbeddingCache
from triage.text.redaction import DEFAULT_REDACTOR, Redactor, ticket_texts
from triage.text.texts import ticket_text

__all__ = ("ERASED", "erase_requester", "erased_ticket_ids", "erasures_stamp", "export_requester")

ERASED = "[erased]"


FIELD = "requester"  # the body field that names the requester


def _identity(session: Session, requester: str) -> str:
    return keyed_identity(deployment_secret(session, IDENTITY_SECRET), requester)


def _tickets(session: Session, requester: str) -> Sequence[Ticket]:
    requester = requester.strip()
    if not requester or len(requester) > 320:
        raise InvalidInput("requester must be 1 to 320 characters", field=FIELD)
    return session.scalars(select(Ticket).where(Ticket.requester == requester).order_by(Ticket.id)).all()


def _nothing_held() -> NotFound:
    return NotFound("nothing is held about this requester", field=FIELD)  # the address is not echoed


def export_requester(session: Session, requester: str, *, actor: Actor | None = None) -> dict[str, Any]:
    """Every ticket of ``requester`` as stored (original text), with the suggestions made for them and
    the agents' decisions on them; 404 when nothing is held. The export is audited under ``actor``."""
    tickets = _tickets(session, requester)
    if not tickets:
        raise _nothing_held()
    ids = [t.id for t in tickets]
    suggestions = session.scalars(select(Suggestion).where(Suggestion.ticket_id.in_(ids))).all()
    feedback = session.scalars(select(Feedback).where(Feedback.ticket_id.in_(ids))).all()
    columns = [c.key for c in Ticket.__table__.columns if c.key != "content_hash"]
    record_audit(
        session, actor, "requester.exported", f"requester:{_identity(session, requester)[:16]}", tickets=len(tickets)
    )
    return {
        "requester": requester,
        "exported_at": utcnow(),
        "tickets": [{name: getattr(t, name) for name in columns} for t in tickets],
        "suggestions": [
            {"ticket_id": s.ticket_id, "bundle_version": s.bundle_version, "predictions": s.predictions}
            for s in suggestions
        ],
        "feedback": [
            {"ticket_id": f.ticket_id, "field": f.field, "value": f.value, "action": f.action, "at": f.created_at}
            for f in feedback
        ],
        **_mail_export(session, requester, ids),
    }


def _mail_export(session: Session, requester: str, ids: list[int]) -> dict[str, Any]:
    messages, inbound = _mail_of(requester, ids)
    fields = ("ticket_id", "direction", "kind", "author", "subject", "original", "attachments", "created_at")
    records = ("ticket_id", "outcome", "reason", "sender", "subject", "created_at")
    return {
        "messages": [
            {f: getattr(m, f) for f in fields} for m in session.scalars(select(TicketMessage).where(messages))
        ],
        "inbound_mail": [
            {f: getattr(r, f) for f in records} for r in session.scalars(select(InboundMail).where(inbound))
        ],
    }


def erase_requester(
    session: Session,
    requester: str,
    *,
    caches: Sequence[EmbeddingCache] = (),
    redactor: Redactor | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Erase the personal fields of every ticket of ``requester`` (subject, body, resolution, requester;
    labels stay for the statistics), delete the suggestions made for them, erase the copies of their text
    (incident events, portal drafts), replace the outbox events about them with ``{"ticket": {"id": ...,
    "erased": true}}`` (what a pending webhook delivery then sends), drop their texts' vectors from
    ``caches`` and record the erasure (serving processes then drop the tickets from their indexes).
    Erasing again is harmless; 404 when nothing was ever held."""
    tickets = _tickets(session, requester)
    digest = _identity(session, requester)
    if not tickets:
        earlier = session.scalar(select(func.count()).select_from(Erasure).where(Erasure.requester_hash == digest))
        if not earlier:
            raise _nothing_held()
        return {"tickets_erased": 0, "ticket_ids": [], "already_erased": True}
    ids = [t.id for t in tickets]
    raw = [ticket_text(t.subject, t.body) for t in tickets]
    texts = raw + ticket_texts(tickets, redactor)  # as stored and as training encoded them
    for cache in caches:
        cache.delete([cache.key(text) for text in texts])
    _erase_copies(session, tickets, ids, redactor)
    _erase_mail(session, requester, ids)
    for event in session.scalars(select(OutboxEvent).where(OutboxEvent.subject.in_([f"ticket:{i}" for i in ids]))):
        event.payload = {"ticket": {"id": int(event.subject.split(":", 1)[1]), "erased": True}}
    _erase_mentions(session, requester.strip(), tickets, redactor, caches)
    now = utcnow()
    for t in tickets:
        t.subject, t.body, t.resolution, t.requester, t.erased_at = ERASED, "", None, None, now
        t.content_hash = hashlib.sha256(f"erased:{t.id}".encode()).hexdigest()
    session.execute(delete(Suggestion).where(Suggestion.ticket_id.in_(ids)))
    session.add(Erasure(requester_hash=digest, ticket_ids=ids))
    record_audit(session, actor, "requester.erased", f"requester:{digest[:16]}", tickets=len(ids))
    return {"tickets_erased": len(ids), "ticket_ids": ids, "already_erased": False}


def _erase_copies(session: Session, tickets: Sequence[Ticket], ids: list[int], redactor: Redactor | None) -> None:
    """Erase the other stored copies of these tickets' text: the subject an incident event quotes when one
    of them represents it, and portal drafts with the same subject (stored redacted, so compared both as
    stored and as redacted) that the KB-gap report would quote."""
    for event in session.scalars(select(IncidentEvent).where(IncidentEvent.representative_id.in_(ids))):
        quoted, event.subject = event.subject, ERASED
        _rewrite_events(session, f"incident:{event.id}", lambda text, quoted=quoted: ERASED if text == quoted else text)
    subjects = {t.subject.strip() for t in tickets if t.subject and t.subject.strip()}
    subjects |= {redactor(s) for s in subjects} if redactor else set()
    if subjects:
        drafts = select(PortalSuggestion).where(or_(*(PortalSuggestion.subject == s for s in subjects)))
        for draft in session.scalars(drafts):
            draft.subject, draft.body = ERASED, ""


def _mail_of(requester: str, ids: list[int]) -> tuple[Any, Any]:
    """Conditions for the ticket messages and inbound-mail records of a requester (by address or ticket)."""
    address = requester.strip().lower()
    return (
        or_(TicketMessage.ticket_id.in_(ids), func.lower(TicketMessage.author) == address),
        or_(InboundMail.ticket_id.in_(ids), func.lower(InboundMail.sender) == address),
    )


def _erase_mail(session: Session, requester: str, ids: list[int]) -> None:
    """Erase the mail of these tickets and of this requester: messages' text, author and attachment names,
    and the inbound-mail records' sender, subject and kept raw bytes (their outcome stays, for the counts)."""
    messages, inbound = _mail_of(requester, ids)
    for message in session.scalars(select(TicketMessage).where(messages)):
        message.subject, message.body, message.original, message.author = ERASED, "", "", None
        message.attachments = []
    for record in session.scalars(select(InboundMail).where(inbound)):
        record.sender, record.subject, record.detail, record.raw = None, ERASED, None, None


SHARED_VALUE_TICKETS = 5  # a value quoted by more other tickets than this is shared (a service desk's number)


def _personal_values(tickets: Sequence[Ticket], redactor: Redactor | None) -> set[str]:
    """The personal values the redactor finds in ``tickets`` (addresses, phone numbers, IBANs, card numbers,
    the operator's own patterns; not IP addresses, which in IT tickets are mostly servers)."""
    redact = redactor or DEFAULT_REDACTOR
    values = set()
    for ticket in tickets:
        for text in (ticket.subject, ticket.body, ticket.resolution):
            if text:
                values |= {text[f.start : f.end] for f in redact.redact(text)[1] if f.kind != "IP"}
    return values


def _erase_mentions(
    session: Session,
    requester: str,
    tickets: Sequence[Ticket],
    redactor: Redactor | None,
    caches: Sequence[EmbeddingCache],
) -> None:
    """Other requesters' tickets that quote the erased requester's address (a colleague who writes "please
    call jan@example.nl") or a personal value from their tickets (their phone number, their IBAN) keep
    their text with the value replaced by :data:`ERASED`. A value that more than
    :data:`SHARED_VALUE_TICKETS` other tickets quote is shared, not theirs, and stays (the address always
    goes)."""
    ids = [t.id for t in tickets]
    values = _personal_values(tickets, redactor) | ({requester} if "@" in requester else set())
    columns = (Ticket.subject, Ticket.body, Ticket.resolution)
    for value in sorted(values, key=len, reverse=True):  # the longest first: a number inside an address
        like = "%" + value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        quoting = select(Ticket).where(
            Ticket.id.not_in(ids), or_(*(func.lower(c).like(like, escape="\\") for c in columns))
        )
        others = session.scalars(quoting.limit(SHARED_VALUE_TICKETS + 1)).all()
        if len(others) > SHARED_VALUE_TICKETS:  # a shared value stays; the address goes from every ticket
            if value.lower() != requester.lower():
                continue
            others = session.scalars(quoting).all()
        pattern = re.compile(re.escape(value), re.IGNORECASE)
        for ticket in others:
            for cache in caches:
                cache.delete([cache.key(ticket_text(ticket.subject, ticket.body))])
            ticket.subject = pattern.sub(ERASED, ticket.subject or "")
            ticket.body = pattern.sub(ERASED, ticket.body or "")
            if ticket.resolution:
                ticket.resolution = pattern.sub(ERASED, ticket.resolution)
            _rewrite_events(session, f"ticket:{ticket.id}", lambda text, pattern=pattern: pattern.sub(ERASED, text))


def _rewrite_strings(value: Any, rewrite: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, dict):
        return {key: _rewrite_strings(item, rewrite) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite_strings(item, rewrite) for item in value]
    return value


def _rewrite_events(session: Session, subject: str, rewrite: Callable[[str], str]) -> None:
    """Pass every string in the payloads of the outbox events about ``subject`` through ``rewrite`` (the
    events webhooks have yet to send, or would send again, quote the text as it was)."""
    for event in session.scalars(select(OutboxEvent).where(OutboxEvent.subject == subject)):
        event.payload = _rewrite_strings(event.payload, rewrite)


def erased_ticket_ids(session: Session) -> set[int]:
    """Every ticket whose requester was erased (serving indexes must not hold them)."""
    return {i for ids in session.scalars(select(Erasure.ticket_ids)) for i in ids}


def erasures_stamp(session: Session) -> int:
    """Changes when an erasure is recorded (the newest erasure's id)."""
    return session.scalar(select(func.max(Erasure.id))) or 0
