"""Similar and duplicate tickets: what was done last time (resolved tickets in the bundle's index), open
tickets that ask the same within a time window (duplicate candidates), and merging a duplicate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Ticket
from models.audit import Actor, record_audit
from models.base import as_utc, utcnow
from triage.desk.events import emit_ticket_event
from triage.desk.lifecycle import OPEN_STATUSES
from triage.desk.tickets import get_ticket
from triage.errors import InvalidTransition
from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import Encoder
from triage.sla.store import ticket_status_changed
from triage.text.redaction import DEFAULT_REDACTOR, Redactor, ticket_texts
from triage.text.texts import snippet

__all__ = ("duplicate_candidates", "live_open_tickets", "merge_ticket", "text_vectors", "ticket_vectors")


def ticket_vectors(
    tickets: Sequence[Ticket], encoder: Encoder, cache: EmbeddingCache, redactor: Redactor
) -> np.ndarray:
    """Embeddings of tickets' redacted texts (as training encodes them, so the cache is shared)."""
    return text_vectors(ticket_texts(tickets, redactor), encoder, cache)


def text_vectors(texts: Sequence[str], encoder: Encoder, cache: EmbeddingCache) -> np.ndarray:
    """Embeddings of ``texts`` through ``cache`` (no rows for no texts)."""
    if not texts:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    return encode_cached(encoder, list(texts), cache)


def live_open_tickets() -> tuple:
    """The conditions of a ticket still open and live: not resolved or closed, not merged, not erased."""
    return Ticket.status.in_(OPEN_STATUSES), Ticket.merged_into_id.is_(None), Ticket.erased_at.is_(None)


def duplicate_candidates(
    session: Session,
    ticket: Ticket,
    vector: np.ndarray,
    vectors_of: Callable[[Sequence[Ticket]], np.ndarray],
    *,
    window_days: float = 7.0,
    threshold: float = 0.8,
    top_k: int = 5,
    redactor: Redactor | None = None,
) -> list[dict[str, Any]]:
    """Open tickets created within ``window_days`` of ``ticket`` whose text is at least ``threshold``
    similar to it, most similar first (merged and erased tickets are never candidates). They are other
    requesters' tickets: their subjects are shown redacted (``redactor``, built-in kinds by default)."""
    redact = redactor or DEFAULT_REDACTOR
    created = as_utc(ticket.created_at)
    window = timedelta(days=window_days)
    others = session.scalars(
        select(Ticket).where(
            Ticket.id != ticket.id,
            *live_open_tickets(),
            Ticket.created_at >= created - window,
            Ticket.created_at <= created + window,
        )
    ).all()
    if not others:
        return []
    scores = vectors_of(others) @ vector
    ranked = sorted(zip(others, scores.tolist(), strict=True), key=lambda pair: -pair[1])
    return [
        {
            "id": t.id,
            "subject": snippet(redact(t.subject), 200),
            "status": t.status,
            "created_at": t.created_at,
            "similarity": round(float(score), 4),
        }
        for t, score in ranked[:top_k]
        if score >= threshold
    ]


def merge_ticket(
    session: Session, duplicate_id: int, primary_id: int, *, notify: bool = True, actor: Actor | None = None
) -> Ticket:
    """Merge ``duplicate_id`` into ``primary_id``: the duplicate is closed and points at its primary, its
    history (text, suggestions, feedback) stays; with ``notify`` it is marked as told to the requester.
    409 when merging a ticket into itself, a merged ticket again, or into a merged ticket."""
    if duplicate_id == primary_id:
        raise InvalidTransition("a ticket cannot be merged into itself", field="primary_id")
    duplicate, primary = get_ticket(session, duplicate_id), get_ticket(session, primary_id)
    if duplicate.merged_into_id is not None:
        raise InvalidTransition(
            f"ticket {duplicate_id} was already merged into {duplicate.merged_into_id}", field="ticket_id"
        )
    if primary.merged_into_id is not None:
        raise InvalidTransition(
            f"ticket {primary_id} was merged into {primary.merged_into_id}; merge into that one", field="primary_id"
        )
    duplicate.merged_into_id = primary.id
    before, duplicate.status = duplicate.status, "closed"
    ticket_status_changed(session, duplicate, before)  # its SLA clock stops: the primary carries the work
    if notify:
        duplicate.requester_notified_at = utcnow()
    record_audit(session, actor, "ticket.merged", f"ticket:{duplicate.id}", primary=primary.id, notified=notify)
    changes = {"status": "closed", "merged_into_id": primary.id}
    emit_ticket_event(session, "ticket.updated", duplicate, changes=changes)
    return duplicate
