"""A mail poller wired to the desk: new tickets get suggestions from the bundle and KB index a process
holds, and acknowledgements list the articles that fit. The serving process builds one over what it
serves; ``helpdesk mail poll`` builds one over what it loads itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from models.db import session_scope
from models.settings import Settings
from triage.bundles.loading import load_bundle
from triage.bundles.registry import get_active
from triage.bundles.training import KIND
from triage.channels.mail.acknowledge import Acknowledger
from triage.channels.mail.poller import MailPoller
from triage.desk.privacy import erased_ticket_ids
from triage.desk.suggest import Suggestions, suggest, suggest_many
from triage.knowledge.kb_index import Knowledge, load_knowledge
from triage.knowledge.portal import fitting_articles
from triage.knowledge.retrieval import ArticleHit
from triage.ml.embedding_cache import EmbeddingCache
from triage.ml.encoder import Encoder
from triage.text.redaction import Redactor

__all__ = ("desk_poller", "standalone_poller")

ACKNOWLEDGED_ARTICLES = 3


def desk_poller(
    settings: Settings,
    sessions: sessionmaker[Session],
    suggest_ticket: Callable[[str, str], Suggestions],
    knowledge: Callable[[], Knowledge | None],
    encoder: Callable[[], Encoder],
    suggest_tickets: Callable[[list[tuple[str, str]]], list] | None = None,
) -> MailPoller:
    """A poller whose new tickets get ``suggest_ticket(subject, body)`` (or, a poll's mails together,
    ``suggest_tickets(drafts)``) and whose acknowledgements list the articles that fit by the KB index
    ``knowledge()`` holds now."""
    models = settings.models
    redactor = Redactor(models.redact_patterns)

    def find_articles(subject: str, body: str) -> list[ArticleHit]:
        held = knowledge()
        hits, _, _ = fitting_articles(
            held.search if held else None,
            encoder(),
            subject=subject,
            body=body,
            top_k=ACKNOWLEDGED_ARTICLES,
            min_similarity=models.kb_min_similarity,
            model=held.nothing_fits if held else None,
            max_probability=models.kb_nothing_fits_probability,
            redactor=redactor,
        )
        return hits

    acknowledge = Acknowledger(settings.mail, sessions, find_articles, settings.api.base_url())
    return MailPoller(settings.mail, sessions, suggest_ticket, after_ticket=acknowledge, suggest_batch=suggest_tickets)


def standalone_poller(settings: Settings, sessions: sessionmaker[Session], encoder: Encoder) -> MailPoller:
    """A poller over the active bundle (without erased tickets) and the KB index, loaded here once."""
    with session_scope(sessions) as session:
        active = get_active(session, KIND)
        bundle = load_bundle(Path(active.path)).without(erased_ticket_ids(session)) if active else None
        cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
        knowledge = load_knowledge(session, encoder, cache, outcomes_limit=settings.models.kb_outcomes_limit)
    top_k = settings.api.default_top_k

    def suggest_ticket(subject: str, body: str) -> Suggestions:
        return suggest(bundle, knowledge.search, encoder, subject=subject, body=body, top_k=top_k)

    def suggest_tickets(drafts: list[tuple[str, str]]) -> list:
        return suggest_many(bundle, knowledge.search, encoder, [(s, b, top_k) for s, b in drafts])

    return desk_poller(settings, sessions, suggest_ticket, lambda: knowledge, lambda: encoder, suggest_tickets)
