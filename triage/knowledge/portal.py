"""The self-service portal: article suggestions while a customer types, and what they did with them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import PortalEvent, PortalSuggestion
from models.portal import EVENT_TYPES
from triage.errors import InvalidQuery, SuggestionNotFound
from triage.knowledge.day_one import KbNothingFitsModel
from triage.knowledge.nothing_fits import NothingFitsModel
from triage.knowledge.retrieval import ArticleHit, KnowledgeSearch, article_hits
from triage.ml.encoder import Encoder
from triage.text.drafts import encode_draft
from triage.text.redaction import DEFAULT_REDACTOR, Redactor

__all__ = ("PortalAnswer", "fitting_articles", "portal_suggest", "record_event")

ARTICLE_EVENTS = ("opened", "helpful", "not_helpful")  # these must name an article that was shown


@dataclass(frozen=True)
class PortalAnswer:
    """What the portal shows: published articles, or nothing when nothing fits well enough."""

    suggestion_id: str
    language: str | None
    nothing_fits: bool
    articles: list[ArticleHit]
    decided_by: str  # "outcomes" (learned from them), "kb" (calibrated on the KB, before enough outcomes) or
    # "similarity" (the floor, for a KB too small to calibrate on)
    nothing_fits_probability: float | None
    min_similarity: float


def fitting_articles(
    knowledge: KnowledgeSearch | None,
    encoder: Encoder,
    *,
    subject: str | None,
    body: str | None,
    top_k: int,
    min_similarity: float,
    model: NothingFitsModel | KbNothingFitsModel | None = None,
    max_probability: float = 0.5,
    redactor: Redactor = DEFAULT_REDACTOR,
) -> tuple[list[ArticleHit], float | None, str | None]:
    """The published articles that fit a text, none when nothing fits: decided by the "nothing fits"
    ``model`` when there is one (nothing when its probability reaches its threshold: ``max_probability``
    for a model fitted on outcomes), else by the ``min_similarity`` floor. Returns the articles, the
    model's probability and the text's language."""
    text, vector, language = encode_draft(encoder, subject, body, redactor)
    hits = article_hits(knowledge, vector, text, top_k, language=language or "en")
    probability = None
    if model is not None and hits:
        probability = round(float(model.probabilities(vector[None, :], [hits])[0]), 4)
        hits = [] if probability >= model.threshold(max_probability) else hits
    else:
        hits = [h for h in hits if h.similarity >= min_similarity]
    return hits, probability, language


def portal_suggest(
    session: Session,
    knowledge: KnowledgeSearch | None,
    encoder: Encoder,
    *,
    subject: str | None,
    body: str | None,
    top_k: int,
    min_similarity: float,
    model: NothingFitsModel | KbNothingFitsModel | None = None,
    max_probability: float = 0.5,
    redactor: Redactor | None = None,
) -> PortalAnswer:
    """Suggest published articles for a draft and record what was shown (with each article's revision).

    With a "nothing fits" ``model`` (fitted on earlier outcomes, or on the KB before there are enough),
    nothing is shown when its probability reaches its threshold. Without one, articles whose best section
    is less similar than ``min_similarity`` are not shown. Either way the portal shows nothing rather than
    noise. The draft is searched and stored with personal data redacted (``redactor``, built-in kinds by
    default).
    """
    redactor = redactor or DEFAULT_REDACTOR
    hits, probability, language = fitting_articles(
        knowledge,
        encoder,
        subject=subject,
        body=body,
        top_k=top_k,
        min_similarity=min_similarity,
        model=model,
        max_probability=max_probability,
        redactor=redactor,
    )
    row = PortalSuggestion(
        id=uuid.uuid4().hex,
        subject=redactor(subject or ""),
        body=redactor(body or ""),
        nothing_fits=not hits,
        articles=[
            {"slug": h.slug, "revision": h.revision, "rank": rank, "similarity": h.similarity}
            for rank, h in enumerate(hits, start=1)
        ],
    )
    session.add(row)
    session.flush()
    return PortalAnswer(
        suggestion_id=row.id,
        language=language,
        nothing_fits=not hits,
        articles=hits,
        decided_by=model.source if model is not None else "similarity",
        nothing_fits_probability=probability,
        min_similarity=min_similarity,
    )


def record_event(
    session: Session, suggestion_id: str, event_type: str, article: str | None = None
) -> tuple[PortalEvent, bool]:
    """Record a customer's action on a suggestion: the event and whether it is new. One event of each type
    per suggestion and article counts; a repeat (a replay, a double click, a retry) returns the first
    one (the portal key is public, so anyone could replay). The error names the field at fault."""
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
    earlier = _earlier_event(session, suggestion_id, event_type, article)
    if earlier is not None:
        return earlier, False
    event = PortalEvent(
        suggestion_id=suggestion_id,
        type=event_type,
        article_slug=article,
        article_revision=shown.get(article) if article else None,
    )
    try:
        with session.begin_nested():  # two copies of one event at once: the unique index keeps one
            session.add(event)
    except IntegrityError:
        return _earlier_event(session, suggestion_id, event_type, article), False
    return event, True


def _earlier_event(session: Session, suggestion_id: str, event_type: str, article: str | None) -> PortalEvent | None:
    same_article = PortalEvent.article_slug.is_(None) if article is None else PortalEvent.article_slug == article
    query = select(PortalEvent).where(
        PortalEvent.suggestion_id == suggestion_id, PortalEvent.type == event_type, same_article
    )
    return session.scalar(query)
