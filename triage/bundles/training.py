"""Build a triage bundle from the database: article chunks, resolved tickets, per-field classifiers."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sqlalchemy.orm import Session

from models.fields import active_fields, label_of
from models.hashing import content_hash
from triage.bundles import registry
from triage.bundles.adaptation import ENCODER_FOLDER, FineTuning, adapted_encoder
from triage.bundles.snapshot import holdout_split, training_snapshot
from triage.ml.bundle import new_version, read_manifest, write_bundle
from triage.ml.classifiers import TriageClassifier
from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import Encoder
from triage.ml.index import VectorIndex
from triage.ml.inputs import make_inputs, usable_labels
from triage.ml.rates import accuracy
from triage.text.redaction import BUILTIN_KINDS, Redactor, ticket_texts

__all__ = (
    "KIND",
    "TrainResult",
    "field_metrics",
    "holdout_metrics",
    "train_bundle",
    "trained_ticket_ids",
)

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


def trained_ticket_ids(bundle_path: Path) -> set[int]:
    """The ids of the resolved tickets a bundle was trained on (its ``tickets.json``)."""
    return {item["id"] for item in json.loads((bundle_path / "tickets.json").read_text(encoding="utf-8"))}


def holdout_metrics(true: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy (the gate's primary metric) and macro-F1 of held-out predictions."""
    return {
        "rows": len(true),
        "accuracy": accuracy(true, predicted),
        "macro_f1": round(float(f1_score(true, predicted, average="macro", zero_division=0)), 4) if len(true) else None,
    }


def _judge_field(
    inputs: np.ndarray,
    labels: Sequence[str | None],
    train_part: range,
    held_part: range,
    fit: Callable[[np.ndarray, list[str]], TriageClassifier | None],
) -> tuple[list[str], list[float], dict[str, Any]] | None:
    """Fit on the older part, predict every held-out row (label and its calibrated probability); the
    metrics count the labelled rows."""
    early = [i for i in train_part if labels[i]]
    judged = fit(inputs[early], [labels[i] for i in early]) if held_part else None
    if judged is None:
        return None
    proba = judged.predict_proba(inputs[list(held_part)])
    chosen = judged.decide(proba)
    predicted = [str(p) for p in judged.classes_[chosen]]
    pairs = [(labels[i], p) for i, p in zip(held_part, predicted, strict=True) if labels[i]]
    confidence = [round(float(c), 4) for c in proba[np.arange(len(chosen)), chosen]]
    return predicted, confidence, holdout_metrics([t for t, _ in pairs], [p for _, p in pairs])


def _scratch(artifacts_dir: Path) -> tempfile.TemporaryDirectory:
    """A temporary folder under the artifacts for a fine-tuned encoder until the bundle copies it."""
    (artifacts_dir / "scratch").mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="finetune-", dir=artifacts_dir / "scratch")


def _label(ticket, spec) -> str | None:
    """A ticket's label for ``spec`` as training sees it: a label outside a fixed set is no label."""
    label = label_of(ticket, spec.name)
    return label if label and (spec.labels is None or label in spec.labels) else None


def train_bundle(
    session: Session,
    encoder: Encoder,
    artifacts_dir: Path,
    *,
    min_examples: int = 2,
    coverage: float = 0.9,
    target_precision: float = 0.9,
    decision: str = "most_probable",
    activate: bool = True,
    since: datetime | None = None,
    until: datetime | None = None,
    holdout: float = 0.2,
    redact_patterns: Mapping[str, str] | None = None,
    ann_exact_limit: int = 100_000,
    finetune: FineTuning | None = None,
    progress: Progress = lambda step, done, total: None,
) -> TrainResult:
    """Encode the resolved tickets of a window, fit one classifier per labelled field, write an
    immutable bundle and register it (activated unless ``activate`` is false).

    The newest ``holdout`` share of the snapshot is first held out: classifiers fitted on the rest
    predict it, and those predictions (``holdout.json``) and their metrics are what the promotion gate
    compares. The bundle's classifiers are then fitted on the whole snapshot. Articles are not part of a
    bundle: serving indexes them from the database (:mod:`triage.knowledge.kb_index`). With no ticket history
    the bundle's predictions say ``unavailable``.

    Personal data (e-mail addresses, phone numbers, IBANs, card numbers, IP addresses and the operator's
    ``redact_patterns``) is redacted from the texts before they are encoded, and from the subjects and
    resolutions the bundle keeps as evidence; the ticket store keeps the originals.

    The similar-ticket index is exact up to ``ann_exact_limit`` tickets and HNSW above it.

    With ``finetune``, MiniLM is first fine-tuned on the tickets before the held-out share and the KB
    (:mod:`triage.bundles.adaptation`); every vector of the bundle comes from it and the bundle carries it.
    """
    snapshot = training_snapshot(session, since=since, until=until)
    tickets = snapshot.tickets
    specs = active_fields(session)
    field_labels = {spec.name: [_label(t, spec) for t in tickets] for spec in specs}
    redact = Redactor(redact_patterns)
    texts = ticket_texts(tickets, redact)
    train_part, held_part = holdout_split(len(tickets), holdout)
    with _scratch(artifacts_dir) if finetune is not None else contextlib.nullcontext("") as scratch:
        tuned = Path(scratch) / ENCODER_FOLDER
        if finetune is not None:  # on the tickets the held-out check does not judge, so it stays honest
            encoder = adapted_encoder(
                session,
                [tickets[i] for i in train_part],
                [texts[i] for i in train_part],
                finetune,
                tuned,
                batch_size=getattr(encoder, "batch_size", 16),
                threads=getattr(encoder, "threads", None),
                progress=lambda done, total: progress("finetune", done, total),
            )
        cache = EmbeddingCache.in_artifacts(artifacts_dir, encoder)
        ticket_vectors = encode_cached(encoder, texts, cache, progress=partial(progress, "tickets"))
        inputs = make_inputs(texts, ticket_vectors)

        classifiers: dict[str, TriageClassifier] = {}
        skipped: dict[str, str] = {}
        metrics: dict[str, Any] = {}
        held_out: dict[str, Any] = {
            "ids": [tickets[i].id for i in held_part],
            "predictions": {},
            "confidence": {},
            "metrics": {},
        }

        def fit(X: np.ndarray, y: list[str]) -> TriageClassifier | None:
            if len(usable_labels(y, min_examples)) < 2:
                return None
            params = {"min_examples": min_examples, "coverage": coverage, "target_precision": target_precision}
            return TriageClassifier(**params, decision=decision).fit(X, y)

        for step, spec in enumerate(specs, start=1):
            name, column = spec.name, field_labels[spec.name]
            rows = [i for i, label in enumerate(column) if label]
            labels = [column[i] for i in rows]
            clf = fit(inputs[rows], labels)
            if clf is None:
                skipped[name] = f"needs resolved tickets with at least 2 {name} labels of {min_examples}+ examples each"
            else:
                classifiers[name], metrics[name] = clf, field_metrics(clf, labels)
                judged = _judge_field(inputs, column, train_part, held_part, fit)
                if judged is not None:
                    held_out["predictions"][name], held_out["confidence"][name], held_out["metrics"][name] = judged
            progress("classifiers", step, len(specs))

        ticket_items = [
            {
                "id": t.id,
                "external_id": t.external_id,
                "subject": redact(t.subject),
                "category": t.category,
                "priority": t.priority,
                "assignee": t.assignee,
                **{spec.name: field_labels[spec.name][k] for spec in specs},
                "resolution": redact(t.resolution) if t.resolution else t.resolution,
                "language": t.language,
            }
            for k, t in enumerate(tickets)
        ]

        def write_files(folder: Path) -> None:
            import skops.io as sio

            index = VectorIndex.for_size(encoder.dimension, len(ticket_items), exact_limit=ann_exact_limit)
            index.add([item["id"] for item in ticket_items], ticket_vectors)
            index.save(folder / "tickets.faiss")
            (folder / "tickets.json").write_text(json.dumps(ticket_items, ensure_ascii=False), encoding="utf-8")
            (folder / "holdout.json").write_text(json.dumps(held_out, ensure_ascii=False), encoding="utf-8")
            (folder / "classifiers").mkdir()
            for name, clf in classifiers.items():
                sio.dump(clf, folder / "classifiers" / f"{name}.skops")
            if finetune is not None:  # the bundle carries the encoder its vectors came from
                shutil.copytree(tuned, folder / ENCODER_FOLDER)

        manifest = {
            "encoder": encoder.describe(),
            "inputs": {"tickets": snapshot.description},
            "holdout": {
                "fraction": holdout,
                "rows": len(held_part),
                "id_hash": content_hash(*(str(i) for i in held_out["ids"])),
                "metrics": held_out["metrics"],
            },
            "classifiers": {
                name: {"type": "TriageClassifier", **clf.get_params()} for name, clf in classifiers.items()
            },
            "classifiers_skipped": skipped,
            "fields": [spec.to_dict() for spec in specs],  # the fields declared when it was trained
            "metrics": metrics,
            "redaction": {"builtin": list(BUILTIN_KINDS), "operator_patterns": dict(redact_patterns or {})},
        }
        version = new_version()
        progress("bundle", 0, 1)
        path = write_bundle(artifacts_dir, KIND, version, manifest, write_files)
        progress("bundle", 1, 1)  # before the registry write: a progress writer must not wait on our lock
        full = read_manifest(path)
        registry.register(session, KIND, version, str(path), full)
        if activate:
            registry.activate(session, KIND, version)
        return TrainResult(version=version, path=path, manifest=full)
