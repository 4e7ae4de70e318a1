"""GDPR: export everything held about a requester, and erase their personal data (ticket text, the
requester field, suggestions made for their tickets, their vectors in the embedding cache), recording an
erasure so that every serving process drops their tickets from the indexes it holds."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models import Erasure, Feedback, Suggestion, Ticket
from models.audit import Actor, record_audit
from models.base import utcnow
from models.errors import InvalidInput, NotFound
from triage.embedding_cache import EmbeddingCache
from triage.redaction import Redactor, ticket_texts
from triage.texts import ticket_text

__all__ = ("ERASED", "erase_requester", "erased_ticket_ids", "erasures_stamp", "export_requester")

ERASED = "[erased]"


def _requester_hash(requester: str) -> str:
    return hashlib.sha256(requester.strip().lower().encode("utf-8")).hexdigest()


def _tickets(session: Session, requester: str) -> Sequence[Ticket]:
    requester = requester.strip()
    if not requester or len(requester) > 320:
        raise InvalidInput("requester_id must be 1 to 320 characters", field="requester_id")
    return session.scalars(select(Ticket).where(Ticket.requester == requester).order_by(Ticket.id)).all()


def export_requester(session: Session, requester: str, *, actor: Actor | None = None) -> dict[str, Any]:
    """Every ticket of ``requester`` as stored (original text), with the suggestions made for them and
    the agents' decisions on them; 404 when nothing is held. The export is audited under ``actor``."""
    tickets = _tickets(session, requester)
    if not tickets:
        raise NotFound(f"nothing is held about requester {requester!r}", field="requester_id")
    ids = [t.id for t in tickets]
    suggestions = session.scalars(select(Suggestion).where(Suggestion.ticket_id.in_(ids))).all()
    feedback = session.scalars(select(Feedback).where(Feedback.ticket_id.in_(ids))).all()
    columns = [c.key for c in Ticket.__table__.columns if c.key != "content_hash"]
    record_audit(session, actor, "requester.exported", None, tickets=len(tickets))
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
    labels stay for the statistics), delete the suggestions made for them, drop their texts' vectors from
    ``caches`` and record the erasure (serving processes then drop the tickets from their indexes).
    Erasing again is harmless; 404 when nothing was ever held."""
    digest = _requester_hash(requester)
    tickets = _tickets(session, requester)
    if not tickets:
        earlier = session.scalar(select(func.count()).select_from(Erasure).where(Erasure.requester_hash == digest))
        if not earlier:
            raise NotFound(f"nothing is held about requester {requester!r}", field="requester_id")
        return {"tickets_erased": 0, "ticket_ids": [], "already_erased": True}
    ids = [t.id for t in tickets]
    raw = [ticket_text(t.subject, t.body) for t in tickets]
    texts = raw + ticket_texts(tickets, redactor)  # as stored and as training encoded them
    for cache in caches:
        cache.delete([cache.key(text) for text in texts])
    now = utcnow()
    for t in tickets:
        t.subject, t.body, t.resolution, t.requester, t.erased_at = ERASED, "", None, None, now
        t.content_hash = hashlib.sha256(f"erased:{t.id}".encode()).hexdigest()
    session.execute(delete(Suggestion).where(Suggestion.ticket_id.in_(ids)))
    session.add(Erasure(requester_hash=digest, ticket_ids=ids))
    record_audit(session, actor, "requester.erased", f"requester:{digest[:16]}", tickets=len(ids))
    return {"tickets_erased": len(ids), "ticket_ids": ids, "already_erased": False}


def erased_ticket_ids(session: Session) -> set[int]:
    """Every ticket whose requester was erased (serving indexes must not hold them)."""
    return {i for ids in session.scalars(select(Erasure.ticket_ids)) for i in ids}


def erasures_stamp(session: Session) -> int:
    """Changes when an erasure is recorded (the newest erasure's id)."""
    return session.scalar(select(func.max(Erasure.id))) or 0
