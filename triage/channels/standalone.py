"""What a channel's command-line worker serves from when no server is running: the active bundle (without
erased tickets) and the KB index, loaded once here, with suggestions and recommended replies over them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.db import session_scope
from models.settings import Settings
from triage.assist.assistant import Assistant
from triage.assist.recent import RecentTickets
from triage.bundles.adaptation import bundle_encoder
from triage.bundles.loading import LoadedBundle, load_bundle
from triage.bundles.registry import get_active
from triage.bundles.training import KIND
from triage.desk.privacy import erased_ticket_ids
from triage.desk.suggest import Suggestions, suggest, suggest_many
from triage.knowledge.kb_index import Knowledge, load_knowledge
from triage.ml.embedding_cache import EmbeddingCache
from triage.ml.encoder import Encoder
from triage.ml.novelty import OpenTickets
from triage.text.redaction import Redactor

__all__ = ("Standalone", "load_standalone")


@dataclass(frozen=True)
class Standalone:
    """A bundle (or none yet), the KB index and the encoder, as one process loaded them."""

    bundle: LoadedBundle | None
    knowledge: Knowledge
    encoder: Encoder
    cache: EmbeddingCache
    redactor: Redactor
    top_k: int
    sessions: sessionmaker[Session] | None = None  # where recent open tickets are read, for the new-kind check
    recent: RecentTickets = field(default_factory=RecentTickets)

    def suggest(self, subject: str, body: str) -> Suggestions:
        """Suggestions for one ticket."""
        search, recent = self.knowledge.search, self.recent_tickets()
        return suggest(self.bundle, search, self.encoder, subject=subject, body=body, top_k=self.top_k, recent=recent)

    def suggest_many(self, drafts: list[tuple[str, str]]) -> list:
        """Suggestions for several tickets at once (one encoder batch)."""
        batch = [(s, b, self.top_k) for s, b in drafts]
        return suggest_many(self.bundle, self.knowledge.search, self.encoder, batch, recent=self.recent_tickets())

    def recent_tickets(self) -> OpenTickets | None:
        """The recent open tickets for the new-kind check (see :mod:`triage.assist.recent`)."""
        if self.bundle is None or self.sessions is None:
            return None
        return self.recent.read_with(self.sessions, self.encoder, self.cache, self.redactor)

    def replies(self, session: Session, ticket_id: int) -> list[dict[str, Any]]:
        """Recommended replies, with their sources, for a stored ticket."""
        assistant = Assistant(self.bundle, self.knowledge.search, self.encoder, self.cache, self.redactor)
        return assistant.assist(session, ticket_id, agent=None)["replies"]


def load_standalone(settings: Settings, sessions: sessionmaker[Session], encoder: Encoder) -> Standalone:
    """Load the active bundle (erased tickets dropped) and build the KB index, with the bundle's own
    encoder when it carries one, else ``encoder``."""
    with session_scope(sessions) as session:
        active = get_active(session, KIND)
        bundle = load_bundle(Path(active.path)).without(erased_ticket_ids(session)) if active else None
        if bundle is not None:  # a bundle with its own fine-tuned encoder is served by it
            encoder = bundle_encoder(bundle.path, bundle.manifest, encoder, lazy=False)
        cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
        knowledge = load_knowledge(
            session,
            encoder,
            cache,
            outcomes_limit=settings.models.kb_outcomes_limit,
            day_one_keep=settings.models.kb_day_one_keep,
        )
    redactor = Redactor(settings.models.redact_patterns)
    recent = RecentTickets(settings.models.new_kind_recent_days)
    return Standalone(bundle, knowledge, encoder, cache, redactor, settings.api.default_top_k, sessions, recent)
