"""Build a triage bundle from the database: article chunks, resolved tickets, per-field classifiers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Article, ArticleChunk, Ticket
from models.hashing import content_hash
from triage import registry
from triage.bundle import new_version, read_manifest, write_bundle
from triage.classifiers import EmbeddingClassifier
from triage.encoder import Encoder
from triage.index import VectorIndex
from triage.suggest import FIELDS
from triage.texts import chunk_text, ticket_text

__all__ = ("KIND", "TrainResult", "evaluate_holdout", "train_bundle")

KIND = "triage"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainResult:
    """The bundle that was written and activated."""

    version: str
    path: Path
    manifest: dict[str, Any]


def _encode(encoder: Encoder, texts: Sequence[str], label: str, progress: Progress, batch: int = 64) -> np.ndarray:
    parts = [np.zeros((0, encoder.dimension), dtype=np.float32)]
    for start in range(0, len(texts), batch):
        parts.append(encoder.encode_batch(texts[start : start + batch]))
        progress(label, min(start + batch, len(texts)), len(texts))
    return np.vstack(parts)


def evaluate_holdout(
    X: np.ndarray, y: Sequence[str], *, min_examples: int, seed: int = 42, test_size: float = 0.2
) -> dict[str, Any]:
    """Accuracy and macro-F1 of :class:`EmbeddingClassifier` on a stratified hold-out split, beside the
    accuracy of always answering the most frequent training label."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    counts = Counter(y)
    keep = np.array([counts[label] >= max(min_examples, 2) for label in y])
    X, y = X[keep], np.asarray(y, dtype=object)[keep]
    if len(set(y)) < 2 or len(y) < 10:
        return {"holdout": "skipped: too few labelled tickets"}
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    model = EmbeddingClassifier(min_examples=min_examples).fit(X_tr, y_tr)
    pred = model.predict(X_te)
    majority = Counter(y_tr.tolist()).most_common(1)[0][0]
    return {
        "holdout_rows": len(y_te),
        "majority_baseline_accuracy": round(float(np.mean(y_te == majority)), 4),
        "accuracy": round(float(accuracy_score(y_te, pred)), 4),
        "macro_f1": round(float(f1_score(y_te, pred, average="macro", zero_division=0)), 4),
    }


def _published_chunks(session: Session) -> list[tuple[ArticleChunk, Article]]:
    rows = session.execute(
        select(ArticleChunk, Article)
        .join(Article, ArticleChunk.article_id == Article.id)
        .where(Article.status == "published")
        .order_by(ArticleChunk.id)
    )
    return [(chunk, article) for chunk, article in rows]


def _resolved_tickets(session: Session) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.status.in_(("resolved", "closed"))).order_by(Ticket.id)))


def train_bundle(
    session: Session,
    encoder: Encoder,
    artifacts_dir: Path,
    *,
    min_examples: int = 2,
    activate: bool = True,
    progress: Progress = lambda step, done, total: None,
) -> TrainResult:
    """Encode published article chunks and resolved tickets, fit one classifier per labelled field,
    write an immutable bundle and register it (activated unless ``activate`` is false).

    With no ticket history the bundle still suggests articles; its predictions say ``unavailable``.
    """
    chunks = _published_chunks(session)
    tickets = _resolved_tickets(session)
    chunk_vectors = _encode(encoder, [chunk_text(c.heading_path, c.text) for c, _ in chunks], "articles", progress)
    ticket_vectors = _encode(encoder, [ticket_text(t.subject, t.body) for t in tickets], "tickets", progress)

    classifiers: dict[str, EmbeddingClassifier] = {}
    skipped: dict[str, str] = {}
    metrics: dict[str, Any] = {}
    for step, name in enumerate(FIELDS, start=1):
        rows = [i for i, t in enumerate(tickets) if getattr(t, name)]
        labels = [getattr(tickets[i], name) for i in rows]
        usable = [label for label, n in Counter(labels).items() if n >= min_examples]
        if len(usable) < 2:
            skipped[name] = f"needs resolved tickets with at least 2 {name} labels of {min_examples}+ examples each"
        else:
            X = ticket_vectors[rows]
            metrics[name] = evaluate_holdout(X, labels, min_examples=min_examples)
            classifiers[name] = EmbeddingClassifier(min_examples=min_examples).fit(X, labels)
            metrics[name]["labels"] = sorted(map(str, classifiers[name].classes_))
            metrics[name]["insufficient_data"] = classifiers[name].insufficient_labels_
        progress("classifiers", step, len(FIELDS))

    chunk_items = [
        {
            "id": c.id,
            "article_id": a.id,
            "slug": a.slug,
            "title": a.title,
            "language": a.language,
            "revision": c.revision,
            "heading": c.heading,
            "heading_path": c.heading_path,
            "anchor": c.anchor,
            "text": c.text,
        }
        for c, a in chunks
    ]
    ticket_items = [
        {
            "id": t.id,
            "external_id": t.external_id,
            "subject": t.subject,
            "category": t.category,
            "priority": t.priority,
            "assignee": t.assignee,
            "resolution": t.resolution,
            "language": t.language,
        }
        for t in tickets
    ]

    def write_files(folder: Path) -> None:
        import skops.io as sio

        for name, vectors, items in (
            ("articles", chunk_vectors, chunk_items),
            ("tickets", ticket_vectors, ticket_items),
        ):
            index = VectorIndex(encoder.dimension)
            index.add([item["id"] for item in items], vectors)
            index.save(folder / f"{name}.faiss")
            (folder / f"{name}.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        (folder / "classifiers").mkdir()
        for name, clf in classifiers.items():
            sio.dump(clf, folder / "classifiers" / f"{name}.skops")

    times = [t.created_at for t in tickets if t.created_at]
    manifest = {
        "encoder": encoder.describe(),
        "inputs": {
            "articles": len({a.id for _, a in chunks}),
            "chunks": len(chunks),
            "tickets": {
                "rows": len(tickets),
                "id_hash": content_hash(*(str(t.id) for t in tickets)),
                "window": [min(times).isoformat(), max(times).isoformat()] if times else None,
            },
        },
        "classifiers": {name: {"type": "EmbeddingClassifier", **clf.get_params()} for name, clf in classifiers.items()},
        "classifiers_skipped": skipped,
        "metrics": metrics,
    }
    version = new_version()
    path = write_bundle(artifacts_dir, KIND, version, manifest, write_files)
    full = read_manifest(path)
    registry.register(session, KIND, version, str(path), full)
    if activate:
        registry.activate(session, KIND, version)
    progress("done", 1, 1)
    return TrainResult(version=version, path=path, manifest=full)
