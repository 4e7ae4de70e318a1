"""Suggestions for a ticket or draft: articles, similar resolved tickets and per-field predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.tickets import LABEL_FIELDS
from triage.bundles.loading import LoadedBundle
from triage.desk.predictions import FieldPrediction, SimilarTicket, field_prediction
from triage.errors import InvalidQuery
from triage.knowledge.retrieval import ArticleHit, KnowledgeSearch, article_hits
from triage.ml.encoder import Encoder
from triage.ml.inputs import make_inputs
from triage.ml.novelty import OpenTickets, recent_alike, recent_closeness, word_set
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


def _predict_many(
    bundle: LoadedBundle,
    vectors: np.ndarray,
    texts: Sequence[str],
    similars: Sequence[list[SimilarTicket]],
    stages: Stages = UNTIMED,
    recent: OpenTickets | None = None,
) -> list[dict[str, FieldPrediction]]:
    """Every field's prediction for several texts, each classifier called once for all of them (``recent``:
    the recent open tickets, which the new-kind check compares with)."""
    predictions: list[dict[str, FieldPrediction]] = [{} for _ in texts]
    vectors = vectors.reshape(len(texts), -1)
    X = make_inputs(list(texts), vectors)
    shared = SharedInputs(X)  # features and similarities the fields' classifiers have in common, once
    closeness, words = None, []
    if recent is not None:
        words = [word_set(text) for text in texts]  # a resend with a word more or less is a copy, not alike
        closeness = recent_closeness(vectors, recent.vectors, words=words, recent_words=recent.words)
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
            by_recent = np.zeros(len(novel), dtype=bool)  # new only because recent open tickets are like it
            if recent is not None and novel.any():  # judged again alone: the new rows only
                rows = np.flatnonzero(novel)
                by_recent[rows] = ~clf.novel(X[rows], proba=proba[rows])
        with stages("evidence"):
            for i, row in enumerate(predictions):
                alike = _alike(recent, vectors[i], words[i]) if by_recent[i] else []
                row[name] = field_prediction(
                    bundle,
                    name,
                    clf,
                    proba[i],
                    int(chosen[i]),
                    sets[i],
                    bool(abstain[i]),
                    similars[i],
                    bool(novel[i]),
                    alike,
                )
    return predictions


def _alike(recent: OpenTickets, vector: np.ndarray, words: frozenset[str]) -> list[int]:
    """The ids of the recent open tickets that made a ticket new (the ones its closeness averaged)."""
    return recent.ids[recent_alike(vector, recent.vectors, words=words, recent_words=recent.words)].tolist()


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
    recent: OpenTickets | None = None,
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
    recent: OpenTickets | None = None,
) -> Suggestions:
    """Encode the text once and return published articles, similar resolved tickets and predictions.

    With no bundle, the answer degrades: articles only, no tickets, predictions ``unavailable``.
    ``recent``: the recent open tickets; a draft more like several of them than like the
    resolved tickets counts as more likely a new kind (see :mod:`triage.ml.novelty`), and names them.
    """
    (result,) = suggest_many(bundle, knowledge, encoder, [(subject, body, top_k)], recent=recent)
    if isinstance(result, InvalidQuery):
        raise result
    return result
