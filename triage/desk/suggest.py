"""Suggestions for a ticket or draft: articles, similar resolved tickets and per-field predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.tickets import LABEL_FIELDS
from triage.bundles.loading import LoadedBundle
from triage.errors import InvalidQuery
from triage.knowledge.retrieval import ArticleHit, KnowledgeSearch, article_hits
from triage.ml.encoder import Encoder
from triage.ml.inputs import make_inputs
from triage.ml.novelty import recent_closeness
from triage.ml.shared_inputs import SharedInputs
from triage.stages import UNTIMED, Stages
from triage.text.drafts import prepare_draft
from triage.text.texts import snippet

__all__ = (
    "FieldPrediction",
    "SimilarTicket",
    "Suggestions",
    "predict_fields",
    "similar_tickets",
    "suggest",
    "suggest_many",
    "unavailable_predictions",
)

NEIGHBOURS = 20  # resolved tickets looked up per draft (the SLA estimate's sample); the first top_k are shown


@dataclass(frozen=True)
class SimilarTicket:
    """A resolved ticket close to the query, with its labels and what was done."""

    id: int
    external_id: str | None
    subject: str
    similarity: float
    category: str | None
    priority: str | None
    assignee: str | None
    resolution: str | None
    labels: dict[str, str | None] = field(default_factory=dict)  # the fields a deployment added

    def label(self, name: str) -> str | None:
        """Its label for field ``name``."""
        return getattr(self, name) if name in LABEL_FIELDS else self.labels.get(name)


@dataclass(frozen=True)
class FieldPrediction:
    """One field's prediction.

    ``status`` is ``ok`` (a label), ``abstained`` (no label: too unsure for the bundle's target
    precision; the prediction set and the reason say why) or ``unavailable`` (no classifier). ``label``
    is the committed label only; ``top`` names the most probable label and its calibrated probability
    whether or not the field abstains, and ``alternatives`` the next ones.
    """

    status: str
    label: str | None = None
    confidence: float | None = None
    abstained: bool = False
    prediction_set: list[str] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] | None = None
    reason: str | None = None
    bundle_version: str | None = None
    top: dict[str, Any] | None = None  # the most probable label and its probability, committed or not


@dataclass(frozen=True)
class Suggestions:
    """Everything suggested for one text, the text's detected language, and the bundle version."""

    bundle_version: str | None
    language: str | None
    articles: list[ArticleHit]
    similar_tickets: list[SimilarTicket]
    predictions: dict[str, FieldPrediction]
    neighbours: tuple[tuple[int, float], ...] = ()  # the nearest resolved tickets (id, similarity): SLA estimates


def unavailable_predictions(reason: str, fields: Sequence[str] = LABEL_FIELDS) -> dict[str, FieldPrediction]:
    """Every field marked unavailable with the same reason."""
    return {name: FieldPrediction(status="unavailable", reason=reason) for name in fields}


def similar_tickets(
    bundle: LoadedBundle, vector: np.ndarray, top_k: int, nearest: list[tuple[int, float]] | None = None
) -> list[SimilarTicket]:
    """The ``top_k`` resolved tickets of ``bundle`` nearest to ``vector`` (or the first of ``nearest``, a
    search already made), with their labels."""
    hits = []
    found = nearest[:top_k] if nearest is not None else bundle.ticket_index.search(vector, top_k)
    for ticket_id, score in found:
        t = bundle.tickets[ticket_id]
        hits.append(
            SimilarTicket(
                id=ticket_id,
                external_id=t.get("external_id"),
                subject=t["subject"],
                similarity=round(score, 4),
                category=t.get("category"),
                priority=t.get("priority"),
                assignee=t.get("assignee"),
                resolution=snippet(t["resolution"]) if t.get("resolution") else None,
                labels={name: t.get(name) for name in bundle.fields if name not in LABEL_FIELDS},
            )
        )
    return hits


def _evidence(name: str, label: str, similar: list[SimilarTicket]) -> dict[str, Any]:
    votes = sum(1 for t in similar if t.label(name) == label)
    return {
        "summary": f"{votes} of the {len(similar)} most similar resolved tickets went to {label}",
        "tickets": [
            {"id": t.id, "external_id": t.external_id, "label": t.label(name), "similarity": t.similarity}
            for t in similar
        ],
    }


def _field_prediction(
    bundle: LoadedBundle,
    name: str,
    clf,
    proba,
    chosen: int,
    members,
    abstained,
    similar,
    novel: bool = False,
    by_recent: bool = False,
) -> FieldPrediction:
    """One field's prediction: the committed label (``chosen`` under the bundle's decision rule, which is
    the most probable label unless the rule is "balanced"), or why not, and the most probable one
    (``by_recent``: it is new only because recent open tickets are like it)."""
    order = np.argsort(proba)[::-1]
    best, confidence = str(clf.classes_[chosen]), round(float(proba[chosen]), 4)
    threshold = clf.abstention_["threshold"]
    reason = None
    if by_recent:
        reason = "a new kind of ticket: more like several recent open tickets than like the resolved ones"
    elif novel:
        share = 1 - getattr(clf, "novelty_rate", 0.0)
        reason = f"a new kind of ticket: less like the resolved tickets than {share:.0%} of them are like one another"
        if getattr(clf, "novelty_weight_", 0.0):  # the doubt counts (bundles trained since 2026-12-01)
            reason = (
                f"a new kind of ticket: less like the resolved tickets, and less clearly of one label, than "
                f"{share:.0%} of them"
            )
    elif abstained:
        reason = (
            f"confidence {confidence:.2f} is below {threshold:.2f}, the threshold for "
            f"{clf.target_precision:.0%} precision"
            if clf.abstention_["reachable"]
            else f"{clf.target_precision:.0%} precision was not reachable on held-out tickets for {name}"
        )
    others = [i for i in order if i not in (order[0], chosen)]
    return FieldPrediction(
        status="abstained" if abstained else "ok",
        label=None if abstained else best,
        confidence=confidence,
        abstained=abstained,
        prediction_set=[str(clf.classes_[i]) for i in members],
        alternatives=[{"label": str(clf.classes_[i]), "probability": round(float(proba[i]), 4)} for i in others[:3]],
        evidence=_evidence(name, best, similar) if similar else None,
        reason=reason,
        bundle_version=bundle.version,
        top={"label": str(clf.classes_[order[0]]), "probability": round(float(proba[order[0]]), 4)},
    )


def _predict_many(
    bundle: LoadedBundle,
    vectors: np.ndarray,
    texts: Sequence[str],
    similars: Sequence[list[SimilarTicket]],
    stages: Stages = UNTIMED,
    recent: np.ndarray | None = None,
) -> list[dict[str, FieldPrediction]]:
    """Every field's prediction for several texts, each classifier called once for all of them (``recent``:
    the vectors of recent open tickets, which the new-kind check compares with)."""
    predictions: list[dict[str, FieldPrediction]] = [{} for _ in texts]
    X = make_inputs(list(texts), vectors.reshape(len(texts), -1))
    shared = SharedInputs(X)  # features and similarities the fields' classifiers have in common, once
    closeness = None if recent is None else recent_closeness(vectors.reshape(len(texts), -1), recent)
    for name in bundle.fields:
        clf = bundle.classifiers.get(name)
        if clf is None:
            reason = bundle.manifest.get("classifiers_skipped", {}).get(name, "no classifier in this bundle")
            for row in predictions:
                row[name] = FieldPrediction(status="unavailable", reason=reason, bundle_version=bundle.version)
            continue
        with stages("classify"):
            proba, sets, abstain, novel = clf.assess(X, shared, recent=closeness)
            chosen = clf.decide(proba)
            alone = clf.novel(X, shared, proba) if closeness is not None and novel.any() else novel
            by_recent = novel & ~alone  # new only because recent open tickets are like it
        with stages("evidence"):
            for i, row in enumerate(predictions):
                row[name] = _field_prediction(
                    bundle,
                    name,
                    clf,
                    proba[i],
                    int(chosen[i]),
                    sets[i],
                    bool(abstain[i]),
                    similars[i],
                    bool(novel[i]),
                    bool(by_recent[i]),
                )
    return predictions


def predict_fields(
    bundle: LoadedBundle, vector: np.ndarray, text: str, similar: list[SimilarTicket]
) -> dict[str, FieldPrediction]:
    """Every field's prediction for one encoded text (what :func:`suggest` does after encoding and search)."""
    return _predict_many(bundle, vector.reshape(1, -1), [text], [similar])[0]


def suggest_many(
    bundle: LoadedBundle | None,
    knowledge: KnowledgeSearch | None,
    encoder: Encoder,
    drafts: Sequence[tuple[str | None, str | None, int]],
    stages: Stages = UNTIMED,
    recent: np.ndarray | None = None,
) -> list[Suggestions | InvalidQuery]:
    """:func:`suggest` for several (subject, body, top_k) drafts at once: one encoder batch and one call
    per classifier for all of them. A draft without text gets its :class:`InvalidQuery` in its place.
    ``stages`` times each stage (see :mod:`triage.stages`); ``recent``: see :func:`suggest`."""
    redactor = bundle.redactor if bundle else None
    prepared: list[tuple[str, str | None] | InvalidQuery] = []
    for subject, body, _ in drafts:
        try:
            prepared.append(prepare_draft(subject, body, redactor, stages))
        except InvalidQuery as error:
            prepared.append(error)
    valid = [i for i, p in enumerate(prepared) if not isinstance(p, InvalidQuery)]
    texts = [prepared[i][0] for i in valid]
    with stages("encode"):
        vectors = encoder.encode_batch(texts) if texts else np.zeros((0, encoder.dimension), dtype=np.float32)
    nearest: list[list[tuple[int, float]]] = []
    similars: list[list[SimilarTicket]] = []
    with stages("ticket search"):
        if bundle and valid:  # one search for the batch, as deep as its deepest draft asks
            found = bundle.ticket_index.search_many(vectors, max(NEIGHBOURS, *(drafts[i][2] for i in valid)))
            for n, i in enumerate(valid):
                nearest.append(found[n][: max(drafts[i][2], NEIGHBOURS)])
                similars.append(similar_tickets(bundle, vectors[n], drafts[i][2], nearest[n]))
    predictions = _predict_many(bundle, vectors, texts, similars, stages, recent) if bundle and texts else []
    results: list[Suggestions | InvalidQuery] = list(prepared)  # errors stay where they are
    for n, i in enumerate(valid):
        text, language = prepared[i]
        top_k = drafts[i][2]
        with stages("KB passage search"):
            articles = article_hits(knowledge, vectors[n], text, top_k, language=language or "en")
        if bundle is None:
            unavailable = unavailable_predictions("no trained bundle is active yet")
            results[i] = Suggestions(None, language, articles, [], unavailable)
        else:
            neighbours = tuple((int(t), round(float(score), 4)) for t, score in nearest[n])
            results[i] = Suggestions(bundle.version, language, articles, similars[n], predictions[n], neighbours)
    return results


def suggest(
    bundle: LoadedBundle | None,
    knowledge: KnowledgeSearch | None,
    encoder: Encoder,
    *,
    subject: str | None,
    body: str | None,
    top_k: int = 5,
    recent: np.ndarray | None = None,
) -> Suggestions:
    """Encode the text once and return published articles, similar resolved tickets and predictions.

    With no bundle, the answer degrades: articles only, no tickets, predictions ``unavailable``.
    ``recent``: the vectors of recent open tickets; a draft more like several of them than like the
    resolved tickets counts as more likely a new kind (see :mod:`triage.ml.novelty`).
    """
    (result,) = suggest_many(bundle, knowledge, encoder, [(subject, body, top_k)], recent=recent)
    if isinstance(result, InvalidQuery):
        raise result
    return result
