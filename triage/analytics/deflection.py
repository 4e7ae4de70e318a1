"""Deflection analytics: how often portal suggestions solved the problem, per article and revision, and
the clusters of drafts that were filed as tickets anyway (where the KB has a gap).

A portal session (one suggestion) counts as deflected when the customer marked an article helpful and
did not file a ticket. Rates are over sessions in which at least one article was shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import PortalEvent, PortalSuggestion
from triage.ml.rates import rate
from triage.text.redaction import DEFAULT_REDACTOR
from triage.text.texts import snippet, ticket_text

__all__ = ("deflection_report", "gap_clusters")


def gap_clusters(
    texts: list[str], vectors: np.ndarray, *, max_clusters: int = 5, distance: float = 0.5, examples: int = 3
) -> list[dict[str, Any]]:
    """Group similar drafts (average-linkage clustering on cosine distance below ``distance``); the biggest
    groups first, each with its size and the drafts closest to its centre."""
    if len(texts) == 0:
        return []
    if len(texts) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance
        ).fit_predict(vectors)
    clusters = []
    for rank, (label, size) in enumerate(Counter(labels.tolist()).most_common(max_clusters), start=1):
        members = np.flatnonzero(labels == label)
        centre = vectors[members].mean(axis=0)
        order = members[np.argsort(-(vectors[members] @ centre))]
        clusters.append({"rank": rank, "size": int(size), "examples": [texts[i] for i in order[:examples]]})
    return clusters


def deflection_report(
    session: Session,
    embed: Callable[[list[str]], np.ndarray],
    *,
    since: datetime | None = None,
    max_clusters: int = 5,
) -> dict[str, Any]:
    """Deflection overall, per article and per article revision, and the top KB-gap clusters."""
    query = select(PortalSuggestion)
    if since is not None:
        query = query.where(PortalSuggestion.created_at >= since)
    suggestions = {s.id: s for s in session.scalars(query)}
    events: dict[str, list[PortalEvent]] = defaultdict(list)
    if suggestions:
        for event in session.scalars(select(PortalEvent).where(PortalEvent.suggestion_id.in_(list(suggestions)))):
            events[event.suggestion_id].append(event)

    overall = Counter()
    per_article: dict[str, Counter] = defaultdict(Counter)
    per_revision: dict[tuple[str, int], Counter] = defaultdict(Counter)
    filed_anyway: list[str] = []
    for sid, suggestion in suggestions.items():
        kinds = {e.type for e in events[sid]}
        filed = "ticket_filed" in kinds
        helpful = {e.article_slug for e in events[sid] if e.type == "helpful"}
        deflected = bool(helpful) and not filed
        overall["sessions"] += 1
        overall["nothing_fits"] += suggestion.nothing_fits
        overall["tickets_filed"] += filed
        if suggestion.articles:
            overall["with_articles"] += 1
            overall["deflected"] += deflected
        if filed:
            # drafts are stored redacted; redacting again also covers drafts stored before redaction existed
            filed_anyway.append(snippet(DEFAULT_REDACTOR(ticket_text(suggestion.subject, suggestion.body)), 200))
        for shown in suggestion.articles:
            slug, revision = shown["slug"], shown["revision"]
            counts = Counter({"shown": 1})
            for e in events[sid]:
                if e.article_slug == slug and e.type in ("opened", "helpful", "not_helpful"):
                    counts[e.type] += 1
            counts["deflected"] += deflected and slug in helpful
            per_article[slug].update(counts)
            per_revision[(slug, revision)].update(counts)

    def row(counts: Counter) -> dict[str, Any]:
        return {
            **{k: int(counts[k]) for k in ("shown", "opened", "helpful", "not_helpful", "deflected")},
            "deflection_rate": rate(counts["deflected"], counts["shown"]),
        }

    gaps = gap_clusters(filed_anyway, embed(filed_anyway), max_clusters=max_clusters) if filed_anyway else []
    return {
        "since": since.isoformat() if since else None,
        "sessions": int(overall["sessions"]),
        "sessions_with_articles": int(overall["with_articles"]),
        "nothing_fits": int(overall["nothing_fits"]),
        "tickets_filed": int(overall["tickets_filed"]),
        "deflected": int(overall["deflected"]),
        "deflection_rate": rate(overall["deflected"], overall["with_articles"]),
        "articles": [
            {"slug": slug, **row(counts)}
            for slug, counts in sorted(per_article.items(), key=lambda item: (-item[1]["shown"], item[0]))
        ],
        "revisions": [
            {"slug": slug, "revision": revision, **row(counts)}
            for (slug, revision), counts in sorted(per_revision.items(), key=lambda item: (item[0][0], item[0][1]))
        ],
        "kb_gaps": gaps,
    }
