"""Build a triage bundle from the database: article chunks, resolved tickets, per-field classifiers."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Ticket
from models.hashing import content_hash
from triage import registry
from triage.bundle import new_version, read_manifest, write_bundle
from triage.classifiers import TriageClassifier, usable_labels
from triage.embedding_cache import EmbeddingCache, encode_cached
from triage.encoder import Encoder
from triage.index import VectorIndex
from triage.inputs import make_inputs
from triage.suggest import FIELDS
from triage.texts import ticket_text

__all__ = ("KIND", "TrainResult", "field_metrics", "train_bundle")

KIND = "triage"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainResult:
    """The bundle that was written and activated."""

    version: str
    path: Path
    manifest: dict[str, Any]


def field_metrics(clf: TriageClassifier, labels: Sequence[str]) -> dict[str, Any]:
    """What the manifest records of a fitted classifier: labels, out-of-fold quality, calibration."""
    majority = Counter(labels).most_common(1)[0][1] / len(labels)
    return {
        "labels": [str(c) for c in clf.classes_],
        "insufficient_data": clf.insufficient_labels_,
        "rows": clf.n_train_,
        "stacker": clf.stacker_,
        "oof_accuracy": round(clf.calibration_["oof_accuracy"], 4),
        "oof_ece": round(clf.calibration_["oof_ece"], 4),
        "majority_baseline_accuracy": round(majority, 4),
        "temperature": round(clf.temperature_, 4),
        "conformal": {"coverage": clf.coverage, "quantile": round(clf.conformal_quantile_, 4)},
        "abstention": {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in clf.abstention_.items()
        },
    }


def _resolved_tickets(session: Session) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.status.in_(("resolved", "closed"))).order_by(Ticket.id)))


def train_bundle(
    session: Session,
    encoder: Encoder,
    artifacts_dir: Path,
    *,
    min_examples: int = 10,
    coverage: float = 0.9,
    target_precision: float = 0.9,
    activate: bool = True,
    progress: Progress = lambda step, done, total: None,
) -> TrainResult:
    """Encode resolved tickets, fit one classifier per labelled field, write an immutable bundle and
    register it (activated unless ``activate`` is false).

    Articles are not part of a bundle: serving indexes them from the database (:mod:`triage.knowledge`).
    With no ticket history the bundle's predictions say ``unavailable``.
    """
    tickets = _resolved_tickets(session)
    cache = EmbeddingCache.in_artifacts(artifacts_dir, encoder)
    texts = [ticket_text(t.subject, t.body) for t in tickets]
    ticket_vectors = encode_cached(encoder, texts, cache, progress=lambda done, total: progress("tickets", done, total))
    inputs = make_inputs(texts, ticket_vectors)

    classifiers: dict[str, TriageClassifier] = {}
    skipped: dict[str, str] = {}
    metrics: dict[str, Any] = {}
    for step, name in enumerate(FIELDS, start=1):
        rows = [i for i, t in enumerate(tickets) if getattr(t, name)]
        labels = [getattr(tickets[i], name) for i in rows]
        if len(usable_labels(labels, min_examples)) < 2:
            skipped[name] = f"needs resolved tickets with at least 2 {name} labels of {min_examples}+ examples each"
        else:
            clf = TriageClassifier(min_examples=min_examples, coverage=coverage, target_precision=target_precision)
            classifiers[name] = clf.fit(inputs[rows], labels)
            metrics[name] = field_metrics(clf, labels)
        progress("classifiers", step, len(FIELDS))

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

        index = VectorIndex(encoder.dimension)
        index.add([item["id"] for item in ticket_items], ticket_vectors)
        index.save(folder / "tickets.faiss")
        (folder / "tickets.json").write_text(json.dumps(ticket_items, ensure_ascii=False), encoding="utf-8")
        (folder / "classifiers").mkdir()
        for name, clf in classifiers.items():
            sio.dump(clf, folder / "classifiers" / f"{name}.skops")

    times = [t.created_at for t in tickets if t.created_at]
    manifest = {
        "encoder": encoder.describe(),
        "inputs": {
            "tickets": {
                "rows": len(tickets),
                "id_hash": content_hash(*(str(t.id) for t in tickets)),
                "window": [min(times).isoformat(), max(times).isoformat()] if times else None,
            },
        },
        "classifiers": {name: {"type": "TriageClassifier", **clf.get_params()} for name, clf in classifiers.items()},
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
