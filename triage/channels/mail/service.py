"""A mail poller wired to the desk: new tickets get suggestions from the bundle and KB index a process
holds, and acknowledgements list the articles that fit. The serving process builds one over what it
serves; ``helpdesk mail poll`` builds one over what it loads itself."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from models.settings import Settings
from triage.channels.mail.acknowledge import Acknowledger
from triage.channels.mail.poller import MailPoller
from triage.channels.standalone import load_standalone
from triage.desk.suggest import Suggestions
from triage.knowledge.kb_index import Knowledge
from triage.knowledge.portal import fitting_articles
from triage.knowledge.retrieval import ArticleHit
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
    loaded = load_standalone(settings, sessions, encoder)
    return desk_poller(
        settings, sessions, loaded.suggest, lambda: loaded.knowledge, lambda: encoder, loaded.suggest_many
    )
