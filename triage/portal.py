"""The self-service portal: article suggestions while a customer types, and what they did with them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from models import PortalEvent, PortalSuggestion
from models.portal import EVENT_TYPES
from triage.encoder import Encoder
from triage.errors import InvalidQuery, SuggestionNotFound
from triage.language import detect_language
from triage.retrieval import ArticleHit, KnowledgeSearch
from triage.suggest import article_hits
from triage.texts import ticket_text

__all__ = ("PortalAnswer", "portal_suggest", "record_event")

ARTICLE_EVENTS = ("opened", "helpful", "not_helpful")  # these must name an article that was shown


@dataclass(frozen=True)
class PortalAnswer:
    """What the portal shows: published articles, or nothing when nothing fits well enough."""

    suggestion_id: str
    language: str | None
    nothing_fits: bool
    articles: list[ArticleHit]
    min_similarity: float


def portal_suggest(
    session: Session,
    knowledge: KnowledgeSearch | None,
    encoder: Encoder,
    *,
    subject: str | None,
    body: str | None,
    top_k: int,
    min_similarity: float,
) -> PortalAnswer:
    """Suggest published articles for a draft and record what was shown (with each article's revision).

    Articles whose best section is less similar than ``min_similarity`` are not shown; when none is left
    the answer is "nothing fits", so the portal shows nothing rather than noise.
    """
    text = ticket_text(subject, body)
    if not text:
        raise InvalidQuery("give a subject or a body", field="subject")
    vector = encoder.encode_batch([text])[0]
    language = detect_language(text)
    hits = [
        h
        for h in article_hits(knowledge, vector, text, top_k, language=language or "en")
        if h.similarity >= min_similarity
    ]
    row = PortalSuggestion(
        id=uuid.uuid4().hex,
        subject=subject or "",
        body=body or "",
        nothing_fits=not hits,
        articles=[
            {"slug": h.slug, "revision": h.revision, "rank": rank, "similarity": h.similarity}
            for rank, h in enumerate(hits, start=1)
        ],
    )
    session.add(row)
    session.flush()
    return PortalAnswer(
        suggestion_id=row.id, language=language, nothing_fits=not hits, articles=hits, min_similarity=min_similarity
    )


def record_event(session: Session, suggestion_id: str, event_type: str, article: str | None = None) -> PortalEvent:
    """Record a customer's action on a suggestion; the error names the field at fault."""
    if event_type not in EVENT_TYPES:
        raise InvalidQuery(f"type must be one of {', '.join(EVENT_TYPES)}", field="type")
    suggestion = session.get(PortalSuggestion, suggestion_id)
    if suggestion is None:
        raise SuggestionNotFound(f"no portal suggestion {suggestion_id!r}", field="suggestion_id")
    shown = {a["slug"]: a["revision"] for a in suggestion.articles}
    if event_type in ARTICLE_EVENTS and not article:
        raise InvalidQuery(f"a {event_type} event names the article it is about", field="article")
    if article is not None and article not in shown:
        raise InvalidQuery(f"article {article!r} was not shown in suggestion {suggestion_id}", field="article")
    event = PortalEvent(
        suggestion_id=suggestion_id,
        type=event_type,
        article_slug=article,
        article_revision=shown.get(article) if article else None,
    )
    session.add(event)
    session.flush()
    return event
