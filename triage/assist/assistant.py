"""What an agent sees beside a ticket: recommended replies with their sources, suggested macros,
similar resolved tickets and duplicate candidates; what they did with a reply or macro; spikes."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AssistFeedback, Ticket
from models.assist import ASSIST_ACTIONS
from models.errors import InvalidInput
from triage.assist.duplicates import duplicate_candidates, ticket_vectors
from triage.assist.macros import fill, get_macro, list_macros, macro_out, placeholder_values, suggest_macros
from triage.assist.replies import article_candidates, recommend_replies, resolution_candidates
from triage.bundles.loading import LoadedBundle
from triage.desk.tickets import get_ticket
from triage.errors import TicketNotFound
from triage.knowledge.retrieval import KnowledgeSearch
from triage.ml.embedding_cache import EmbeddingCache
from triage.ml.encoder import Encoder
from triage.text.redaction import Redactor
from triage.text.texts import snippet, ticket_text

__all__ = ("Assistant", "assist_report", "record_assist_feedback")


class Assistant:
    """The serving resources assist needs for one request: bundle, KB index, encoder and cache."""

    def __init__(
        self,
        bundle: LoadedBundle | None,
        knowledge: KnowledgeSearch | None,
        encoder: Encoder,
        cache: EmbeddingCache,
        redactor: Redactor,
    ) -> None:
        self.bundle, self.knowledge, self.encoder, self.cache = bundle, knowledge, encoder, cache
        self.redactor = bundle.redactor if bundle else redactor  # embeds texts as the bundle was trained
        self.shown = redactor  # the deployment's: every other ticket's text an agent is shown passes it

    def _ticket(self, session: Session, ticket_id: int) -> Ticket:
        ticket = get_ticket(session, ticket_id)
        if ticket.erased_at is not None:
            raise TicketNotFound(f"ticket {ticket_id} was erased", field="ticket_id")
        return ticket

    def vectors(self, tickets: list[Ticket]):
        """Embeddings of tickets' redacted texts."""
        return ticket_vectors(tickets, self.encoder, self.cache, self.redactor)

    def _neighbours(self, ticket: Ticket, vector, k: int) -> list[tuple[dict[str, Any], float]]:
        """The ``k`` most similar resolved tickets in the bundle, their texts redacted by the deployment's
        redactor (bundle texts were redacted at training; this also applies patterns added since)."""
        if self.bundle is None:
            return []
        hits = self.bundle.ticket_index.search(vector, k + 1)
        items = [(self.bundle.tickets[i], s) for i, s in hits if i != ticket.id and i in self.bundle.tickets][:k]
        return [({**item, **self._redacted(item, "subject", "resolution")}, s) for item, s in items]

    def _redacted(self, item: dict[str, Any], *names: str) -> dict[str, Any]:
        return {name: self.shown(item[name]) for name in names if item.get(name)}

    def assist(
        self, session: Session, ticket_id: int, *, agent: str | None, top_k: int = 3, min_similarity: float = 0.5
    ) -> dict[str, Any]:
        """Recommended replies (each citing its sources) and suggested macros for a ticket (404 when it
        does not exist or was erased)."""
        ticket = self._ticket(session, ticket_id)
        text = self.redactor(ticket_text(ticket.subject, ticket.body))
        vector = self.vectors([ticket])[0]
        language = ticket.language or "en"
        candidates = resolution_candidates(self._neighbours(ticket, vector, 10), min_similarity=min_similarity)
        candidates += article_candidates(
            self.knowledge, vector, text, language=language, top_k=top_k, min_similarity=min_similarity
        )
        values = placeholder_values(ticket, agent)
        replies = recommend_replies(candidates, self.encoder, self.cache, language=language, top_k=top_k, values=values)
        macros = []
        for macro, similarity in suggest_macros(list_macros(session), vector, self.encoder, self.cache, top_k=top_k):
            filled, unfilled = fill(macro.body, values)
            macros.append({**macro_out(macro), "similarity": similarity, "filled": filled, "unfilled": unfilled})
        return {
            "ticket_id": ticket.id,
            "language": ticket.language,
            "bundle_version": self.bundle.version if self.bundle else None,
            "replies": [asdict(r) for r in replies],
            "macros": macros,
        }

    def similar(
        self, session: Session, ticket_id: int, *, top_k: int = 5, window_days: float = 7.0, threshold: float = 0.8
    ) -> dict[str, Any]:
        """Resolved tickets like this one (what was done last time) and open tickets within
        ``window_days`` at least ``threshold`` similar (duplicate candidates)."""
        ticket = self._ticket(session, ticket_id)
        vector = self.vectors([ticket])[0]
        resolved = [
            {
                "id": item["id"],
                "subject": item["subject"],
                "similarity": round(float(score), 4),
                "category": item.get("category"),
                "assignee": item.get("assignee"),
                "resolution": snippet(item["resolution"]) if item.get("resolution") else None,
            }
            for item, score in self._neighbours(ticket, vector, top_k)
        ]
        duplicates = duplicate_candidates(
            session,
            ticket,
            vector,
            self.vectors,
            window_days=window_days,
            threshold=threshold,
            top_k=top_k,
            redactor=self.shown,
        )
        return {"ticket_id": ticket.id, "resolved": resolved, "duplicates": duplicates, "threshold": threshold}


def record_assist_feedback(
    session: Session,
    ticket_id: int,
    *,
    action: str,
    reply_id: str | None = None,
    macro_id: int | None = None,
    sources: list[dict[str, Any]] | None = None,
    actor: str | None = None,
    on_behalf_of: str | None = None,
) -> AssistFeedback:
    """Record what the agent did with a recommended reply or a macro, by ``actor`` (who is authenticated)
    on behalf of ``on_behalf_of`` (the person a request names, unverified); using a macro counts its usage."""
    get_ticket(session, ticket_id)
    if action not in ASSIST_ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ASSIST_ACTIONS)}", field="action")
    if (reply_id is None) == (macro_id is None):
        raise InvalidInput("name either reply_id or macro_id", field="reply_id")
    if macro_id is not None:
        macro = get_macro(session, macro_id)
        if action in ("used", "edited"):
            macro.usage_count += 1
    row = AssistFeedback(
        ticket_id=ticket_id,
        kind="macro" if macro_id is not None else "reply",
        reply_id=reply_id,
        macro_id=macro_id,
        sources=sources or [],
        action=action,
        actor=actor,
        on_behalf_of=on_behalf_of,
    )
    session.add(row)
    session.flush()
    return row


def assist_report(session: Session, since: datetime | None = None) -> dict[str, Any]:
    """How agents used recommended replies and macros: counts per kind and action, the share used as is
    or edited, and the most used sources."""
    query = select(AssistFeedback)
    if since is not None:
        query = query.where(AssistFeedback.created_at >= since)
    rows = session.scalars(query).all()
    report: dict[str, Any] = {}
    for kind in ("reply", "macro"):
        counts = Counter(r.action for r in rows if r.kind == kind)
        total = sum(counts.values())
        report[kind] = {
            "decisions": total,
            **{action: counts.get(action, 0) for action in ASSIST_ACTIONS},
            "used_rate": round((counts["used"] + counts["edited"]) / total, 4) if total else None,
            "edited_rate": round(counts["edited"] / total, 4) if total else None,
        }
    cited = Counter(
        (s.get("type"), s.get("slug") or s.get("id")) for r in rows if r.action in ("used", "edited") for s in r.sources
    )
    report["top_sources"] = [{"type": t, "ref": ref, "used": n} for (t, ref), n in cited.most_common(10)]
    return report
