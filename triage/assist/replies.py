"""Recommended replies: the resolutions of the most similar resolved tickets and the best-matching KB
sections, near-identical ones merged, each citing its sources. Nothing is written here: a reply's text
is its best source's text, verbatim (only placeholders get filled)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from triage.assist.macros import fill
from triage.knowledge.retrieval import KnowledgeSearch
from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import Encoder

__all__ = ("Candidate", "Reply", "article_candidates", "recommend_replies", "resolution_candidates")

SUPPORT_BONUS = 0.03  # per extra source agreeing with a reply, up to five


@dataclass(frozen=True)
class Candidate:
    """A text that could be sent, where it comes from, and how similar its source is to the ticket."""

    text: str
    score: float
    source: dict[str, Any]
    language: str | None = None


@dataclass
class Reply:
    """A recommended reply: its text (its first source's, verbatim), score, language and every source."""

    id: str
    text: str
    score: float
    language: str | None
    sources: list[dict[str, Any]] = field(default_factory=list)
    unfilled: list[str] = field(default_factory=list)


def resolution_candidates(
    neighbours: Sequence[tuple[Mapping[str, Any], float]], *, min_similarity: float = 0.5
) -> list[Candidate]:
    """What was done on similar resolved tickets: (ticket item, similarity) pairs with a resolution."""
    return [
        Candidate(
            text=" ".join(item["resolution"].split()),
            score=round(float(similarity), 4),
            source={"type": "ticket", "id": item["id"], "similarity": round(float(similarity), 4)},
            language=item.get("language"),
        )
        for item, similarity in neighbours
        if item.get("resolution") and similarity >= min_similarity
    ]


def article_candidates(
    knowledge: KnowledgeSearch | None,
    vector: np.ndarray,
    text: str,
    *,
    language: str,
    top_k: int = 3,
    min_similarity: float = 0.5,
) -> list[Candidate]:
    """The best-matching sections of published articles, each citing slug, revision and heading."""
    if knowledge is None:
        return []
    candidates = []
    for hit in knowledge.search(vector, text, top_k=top_k, statuses=("published",), language=language):
        section = knowledge.section(hit.slug, hit.anchor)
        if section is None or hit.similarity < min_similarity or not section["text"].strip():
            continue
        source = {
            "type": "article",
            "slug": hit.slug,
            "revision": hit.revision,
            "heading": hit.heading,
            "url": hit.url,
            "similarity": hit.similarity,
        }
        candidates.append(Candidate(section["text"].strip(), hit.similarity, source, hit.language))
    return candidates


def _reply_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def recommend_replies(
    candidates: Sequence[Candidate],
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    language: str | None = None,
    top_k: int = 3,
    same_at: float = 0.9,
    values: Mapping[str, str] | None = None,
) -> list[Reply]:
    """Merge near-identical candidates (cosine at least ``same_at``, or the same text) into one reply
    citing all their sources, prefer the ticket's ``language`` when any candidate is in it, and rank by
    the best source's similarity plus a small bonus for each agreeing source."""
    if language and any(c.language == language for c in candidates):
        candidates = [c for c in candidates if c.language == language]
    if not candidates:
        return []
    ordered = sorted(candidates, key=lambda c: -c.score)
    vectors = encode_cached(encoder, [c.text for c in ordered], cache)
    groups: list[list[int]] = []
    for i, candidate in enumerate(ordered):
        home = next(
            (
                g
                for g in groups
                if ordered[g[0]].text.lower() == candidate.text.lower() or float(vectors[g[0]] @ vectors[i]) >= same_at
            ),
            None,
        )
        if home is None:
            groups.append([i])
        else:
            home.append(i)
    replies = []
    for group in groups:
        best = ordered[group[0]]
        text, unfilled = fill(best.text, values or {})
        bonus = SUPPORT_BONUS * min(len(group) - 1, 5)
        replies.append(
            Reply(
                id=_reply_id(best.text),
                text=text,
                score=round(min(1.0, best.score + bonus), 4) if math.isfinite(best.score) else 0.0,
                language=best.language,
                sources=[ordered[i].source for i in group],
                unfilled=unfilled,
            )
        )
    return sorted(replies, key=lambda r: -r.score)[:top_k]
