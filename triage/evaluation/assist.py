"""Measuring agent assist: duplicate detection on a labelled query set (same group = duplicate), and
reply recommendation on the deployment's own resolved tickets (held out by time)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from triage.assist.replies import article_candidates, recommend_replies, resolution_candidates
from triage.bundles.snapshot import holdout_split, training_snapshot
from triage.knowledge.retrieval import KnowledgeSearch
from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import Encoder
from triage.ml.index import VectorIndex
from triage.text.redaction import DEFAULT_REDACTOR, ticket_texts

__all__ = ("evaluate_duplicates", "evaluate_replies", "render_assist_markdown")

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.5, 0.96, 0.05))


def evaluate_duplicates(
    queries: Sequence[tuple[str, str]],
    history: Sequence[tuple[str, str]],
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    n_queries: int = 500,
    seed: int = 42,
) -> dict[str, Any]:
    """``n_queries`` (text, group) queries, sampled with ``seed``, against (text, group) history: a
    history item of the query's group is a duplicate. Precision@1 and @5 of the candidates, and the
    precision and recall of flagging the best candidate as a duplicate at each similarity threshold."""
    sample = random.Random(seed).sample(list(queries), min(n_queries, len(queries)))
    q = encode_cached(encoder, [t for t, _ in sample], cache)
    h = encode_cached(encoder, [t for t, _ in history], cache)
    groups = np.array([g for _, g in history])
    wanted = np.array([g for _, g in sample])
    scores = q @ h.T
    top = np.argsort(-scores, axis=1)[:, :5]
    same = groups[top] == wanted[:, None]
    best = scores[np.arange(len(sample)), top[:, 0]]
    curve = []
    for threshold in THRESHOLDS:
        flagged = best >= threshold
        right = flagged & same[:, 0]
        curve.append(
            {
                "threshold": threshold,
                "flagged": int(flagged.sum()),
                "precision": round(float(right.sum() / flagged.sum()), 4) if flagged.any() else None,
                "recall": round(float(right.sum() / len(sample)), 4),
            }
        )
    return {
        "queries": len(sample),
        "history": len(history),
        "precision@1": round(float(same[:, 0].mean()), 4),
        "precision@5": round(float(same.mean()), 4),
        "curve": curve,
    }


def evaluate_replies(
    session: Session,
    encoder: Encoder,
    cache: EmbeddingCache,
    knowledge: KnowledgeSearch | None,
    *,
    holdout: float = 0.2,
    top_k: int = 3,
    min_similarity: float = 0.5,
) -> dict[str, Any]:
    """For each held-out resolved ticket (the newest ``holdout`` share), recommend replies from the older
    tickets and the KB, and count how often the top ``top_k`` include the resolution of a ticket with the
    same category. The chance figure is what ``top_k`` resolutions drawn at random would give."""
    tickets = training_snapshot(session).tickets
    train, held = holdout_split(len(tickets), holdout)
    redact = DEFAULT_REDACTOR
    texts = ticket_texts(tickets, redact)
    vectors = encode_cached(encoder, texts, cache)
    index = VectorIndex(encoder.dimension)
    index.add([tickets[i].id for i in train], vectors[list(train)])
    items = {
        tickets[i].id: {
            "id": tickets[i].id,
            "resolution": redact(tickets[i].resolution or ""),
            "language": tickets[i].language,
            "category": tickets[i].category,
        }
        for i in train
    }
    hits = answered = replies_shown = 0
    judged = 0
    for i in held:
        ticket = tickets[i]
        if not ticket.category:
            continue
        judged += 1
        neighbours = [(items[j], s) for j, s in index.search(vectors[i], 10)]
        candidates = resolution_candidates(neighbours, min_similarity=min_similarity)
        candidates += article_candidates(
            knowledge, vectors[i], texts[i], language=ticket.language or "en", min_similarity=min_similarity
        )
        replies = recommend_replies(candidates, encoder, cache, language=ticket.language, top_k=top_k)
        replies_shown += len(replies)
        answered += bool(replies)
        categories = {items[s["id"]]["category"] for r in replies for s in r.sources if s["type"] == "ticket"}
        hits += ticket.category in categories
    counts = Counter(items[tickets[i].id]["category"] for i in train)
    total = sum(counts.values())
    held_categories = [tickets[i].category for i in held if tickets[i].category]
    chance = np.mean([1 - (1 - counts.get(c, 0) / total) ** top_k for c in held_categories]) if total else 0.0
    return {
        "history": len(train),
        "held_out": judged,
        "top_k": top_k,
        "same_category_in_top_k": round(hits / judged, 4) if judged else None,
        "chance": round(float(chance), 4),
        "with_any_reply": round(answered / judged, 4) if judged else None,
        "replies_per_ticket": round(replies_shown / judged, 2) if judged else None,
    }


def render_assist_markdown(report: dict[str, Any]) -> str:
    """A duplicates or replies report as Markdown."""
    lines = [f"# {report.get('title', 'Agent assist')}", "", f"Command: `{report.get('command', '')}`", ""]
    if "curve" in report:
        lines += [
            f"{report['queries']} queries against {report['history']} history items.",
            "",
            f"- precision@1: {report['precision@1']:.3f}",
            f"- precision@5: {report['precision@5']:.3f}",
            "",
            "| threshold | flagged | precision | recall |",
            "|---|---|---|---|",
        ]
        for row in report["curve"]:
            precision = "–" if row["precision"] is None else f"{row['precision']:.3f}"
            lines.append(f"| {row['threshold']:.2f} | {row['flagged']} | {precision} | {row['recall']:.3f} |")
    else:
        lines += [f"- {key}: {value}" for key, value in report.items() if key not in {"title", "command"}]
    return "\n".join(lines) + "\n"
