"""Retrieval evaluation for a KB folder and a labelled query file: ``helpdesk evaluate-kb`` and notebooks.

For each query the right answer is an article slug, or nothing (the query is unanswerable). The report
gives recall@1, recall@3, recall@5 and MRR for dense, BM25, hybrid and RRF ranking in one run, with
plain dense retrieval over titles and sections as the baseline they should beat, and, when
some queries are unanswerable, how well the no-answer score separates them (AUROC) and what a
threshold chosen on half of the queries does on the other half.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from triage.desk.ticket_import import check_columns, read_rows, require_mapped
from triage.errors import InvalidImport
from triage.evaluation.kb_folders import load_kb_sections, slug_of
from triage.knowledge.day_one import fit_from_kb
from triage.knowledge.nothing_fits import SHOWN, fit_nothing_fits
from triage.knowledge.retrieval import METHODS, PASSAGES_PER_SECTION, KnowledgeSearch, section_passages
from triage.ml.calibration import expected_calibration_error
from triage.text.language import detect_language

__all__ = ("evaluate_kb", "no_answer_threshold")


def no_answer_threshold(scores: np.ndarray, unanswerable: np.ndarray, *, min_refused: float = 0.8) -> float:
    """The lowest no-answer score threshold that refuses at least ``min_refused`` of unanswerable queries.

    Queries scoring at or above the threshold get nothing; keeping it as high as the target allows
    keeps as many answerable queries answered as possible.
    """
    refused_scores = np.sort(np.asarray(scores)[np.asarray(unanswerable, dtype=bool)])
    if not len(refused_scores):
        return float("inf")
    return float(refused_scores[int(np.floor((1 - min_refused) * len(refused_scores) + 1e-9))])


def _ranks(matches_per_query: list[list[str]], expected: list[str | None]) -> np.ndarray:
    """1-based rank of the expected slug per answerable query, 0 when it is not returned."""
    return np.array(
        [(m.index(e) + 1 if e in m else 0) for m, e in zip(matches_per_query, expected, strict=True) if e is not None]
    )


def _retrieval_metrics(ranks: np.ndarray) -> dict[str, float]:
    reciprocal = np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)
    return {
        "recall@1": round(float(np.mean(ranks == 1)), 4),
        "recall@3": round(float(np.mean((ranks >= 1) & (ranks <= 3))), 4),
        "recall@5": round(float(np.mean((ranks >= 1) & (ranks <= 5))), 4),
        "mrr": round(float(np.mean(reciprocal)), 4),
    }


def evaluate_kb(
    folder: Path,
    queries_path: Path,
    mapping: Mapping[str, str],
    embed: Callable[[list[str]], np.ndarray],
    *,
    remove: int = 0,
    seed: int = 42,
    top_k: int = 5,
    language: str | None = None,
    history: Path | None = None,
    nothing_fits_probability: float = 0.5,
    day_one_keep: float = 0.97,
    min_similarity: float = 0.5,
    multilingual: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Rank the KB for every query with each method; with ``remove``, that many articles are taken out
    (seeded) and their queries become unanswerable for the no-answer check.

    ``history`` is a file of earlier queries with the same columns, standing in for the portal's recorded
    outcomes: a row's article helped it, or nothing did when the article is empty, unknown or removed.
    The "nothing fits" model (:mod:`triage.knowledge.nothing_fits`) is fitted on it and judged on the queries at
    ``nothing_fits_probability``. What a fresh deployment has instead is judged too: the model calibrated
    on the (remaining) KB alone (:mod:`triage.knowledge.day_one`, ``day_one_keep``) and, for a KB too small
    for that, the ``min_similarity`` floor.

    ``mapping`` needs ``text`` (the query column) and ``article`` (the expected slug or a label that
    slugifies to it; empty means no article should be shown). With ``language``, only the KB's articles
    in that language are searched (e.g. Dutch questions against the English articles).
    """
    require_mapped(mapping, ("text", "article"))
    columns, rows = read_rows(queries_path)
    if not rows:
        raise InvalidImport(f"{queries_path.name} has no rows", field="file")
    check_columns(mapping, columns, queries_path.name)
    texts, expected = _labelled_queries(rows, mapping)
    chunks = [c for c in load_kb_sections(folder) if language is None or c["language"] == language]
    slugs = sorted({c["slug"] for c in chunks})
    if not slugs:
        raise InvalidImport(f"{folder} holds no articles", field="kb")
    unknown = sorted({e for e in expected if e and e not in slugs})
    if unknown:
        raise InvalidImport(f"queries expect articles the KB lacks: {unknown[:5]}", field=f"map.{'article'}")
    removed = sorted(np.random.default_rng(seed).choice(slugs, size=remove, replace=False).tolist()) if remove else []
    kept_chunks = [c for c in chunks if c["slug"] not in removed]
    expected = [None if e in removed else e for e in expected]
    passages = [p for c in kept_chunks for p in section_passages(c)]

    progress(f"encoding {len(passages)} passages of {len(kept_chunks)} sections and {len(texts)} queries")
    passage_vectors = embed([text for _, text in passages])
    query_vectors = embed(texts)
    search = KnowledgeSearch.build(
        kept_chunks, [pid for pid, _ in passages], passage_vectors, cross_language_lexical=not multilingual
    )

    report: dict[str, Any] = {
        "kb": str(folder),
        "kb_language": language,
        "queries": queries_path.name,
        "articles": len(slugs) - len(removed),
        "sections": len(kept_chunks),
        "passages": len(passages),
        "rows": {"queries": len(texts), "unanswerable": sum(e is None for e in expected)},
        "removed_articles": removed,
        "methods": {},
    }
    languages = [detect_language(text, default="en") for text in texts]
    hybrid_top: list[list[Any]] = []
    for method in METHODS:
        progress(f"ranking with {method}")
        results = [
            search.search(vector, text, top_k=top_k, method=method, language=query_language)
            for vector, text, query_language in zip(query_vectors, texts, languages, strict=True)
        ]
        if method == "hybrid":
            hybrid_top = results
        report["methods"][method] = _retrieval_metrics(_ranks([[m.slug for m in r] for r in results], expected))
    plain = _plain_dense(kept_chunks, passages, passage_vectors, query_vectors, top_k)
    report["methods"]["plain_dense"] = _retrieval_metrics(_ranks(plain, expected))
    if removed:
        report["no_answer"] = _no_answer(hybrid_top, expected, seed)
    report["similarity_floor"] = _floor(hybrid_top, expected, min_similarity)
    progress("calibrating nothing-fits on the KB itself")
    report["nothing_fits_from_kb"] = _day_one(search, embed, hybrid_top, query_vectors, expected, day_one_keep)
    if history is not None:
        report["nothing_fits"] = _nothing_fits(
            search, history, mapping, embed, hybrid_top, query_vectors, expected, nothing_fits_probability, progress
        )
    return report


def _plain_dense(
    chunks: list[dict[str, Any]],
    passages: list[tuple[int, str]],
    passage_vectors: np.ndarray,
    query_vectors: np.ndarray,
    top_k: int,
) -> list[list[str]]:
    """The baseline: plain dense retrieval over titles and sections. An article scores the best cosine of
    its sections' embeddings (heading path and text) and their heading paths alone; the ``top_k`` slugs
    per query, best first."""
    rows: dict[int, list[int]] = defaultdict(list)  # a section's rows of ``passages``, in order
    for n, (pid, _) in enumerate(passages):
        rows[pid // PASSAGES_PER_SECTION].append(n)
    owners: dict[str, list[int]] = defaultdict(list)
    for chunk in chunks:
        found = rows[chunk["id"]]
        owners[chunk["slug"]] += [found[0], found[-1]]  # the whole section, its heading path alone
    slugs = list(owners)
    sims = np.asarray(query_vectors) @ np.asarray(passage_vectors).T
    per_article = np.stack([sims[:, owners[slug]].max(axis=1) for slug in slugs], axis=1)
    return [[slugs[n] for n in np.argsort(-scores, kind="stable")[:top_k]] for scores in per_article]


def _labelled_queries(rows: list[dict[str, Any]], mapping: Mapping[str, str]) -> tuple[list[str], list[str | None]]:
    """Query texts (whitespace collapsed; an empty one is an error) and their expected slugs."""
    texts = [" ".join(str(r.get(mapping["text"]) or "").split()) for r in rows]
    for n, text in enumerate(texts, start=1):
        if not text:
            raise InvalidImport(f"row {n}: the query text is empty", field=f"row {n}.text")
    return texts, [slug_of(str(r.get(mapping["article"]) or "")) or None for r in rows]


def _nothing_fits(
    search: KnowledgeSearch,
    history: Path,
    mapping: Mapping[str, str],
    embed: Callable[[list[str]], np.ndarray],
    results: list[list[Any]],
    query_vectors: np.ndarray,
    expected: list[str | None],
    probability: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Fit the "nothing fits" model on the history's outcomes, then judge it on the queries."""
    columns, rows = read_rows(history)
    check_columns(mapping, columns, history.name)
    texts, helped = _labelled_queries(rows, mapping)
    kb_slugs = {c["slug"] for c in search.chunks.values()}
    helped = [h if h in kb_slugs else None for h in helped]
    progress(f"fitting the nothing-fits model on {len(texts)} earlier outcomes")
    model = fit_nothing_fits(search, texts, embed(texts), helped)
    if model is None:
        raise InvalidImport(f"{history.name} needs 30+ rows with both outcomes", field="history")
    p = model.probabilities(query_vectors, results)
    return {"history": history.name, "model": model.describe(), **_judged(p, probability, results, expected)}


def _day_one(
    search: KnowledgeSearch,
    embed: Callable[[list[str]], np.ndarray],
    results: list[list[Any]],
    query_vectors: np.ndarray,
    expected: list[str | None],
    keep: float,
) -> dict[str, Any] | None:
    """Calibrate "nothing fits" on the KB alone (as a fresh deployment does), then judge it on the queries."""
    model = fit_from_kb(search, embed, keep=keep)
    if model is None:
        return None
    p = model.probabilities(query_vectors, results)
    return {"model": model.describe(), "keep": keep, **_judged(p, model.cutoff, results, expected)}


def _floor(results: list[list[Any]], expected: list[str | None], min_similarity: float) -> dict[str, Any]:
    """What the similarity floor decides: nothing when the best section is less similar than it."""
    unanswerable, in_top3 = _outcomes(results, expected)
    refused = np.array([not r or r[0].similarity < min_similarity for r in results])
    return {
        "min_similarity": min_similarity,
        "unanswerable_refused": round(float(refused[unanswerable].mean()), 4) if unanswerable.any() else None,
        "answerable_answered_with_article_in_top3": round(float((~refused & in_top3)[~unanswerable].mean()), 4),
    }


def _judged(p: np.ndarray, threshold: float, results: list[list[Any]], expected: list[str | None]) -> dict[str, Any]:
    """How P(nothing fits) ranks and, at ``threshold``, decides the queries."""
    unanswerable, in_top3 = _outcomes(results, expected)
    refused = p >= threshold
    report: dict[str, Any] = {
        "probability_threshold": round(threshold, 4),
        "unanswerable_refused": round(float(refused[unanswerable].mean()), 4) if unanswerable.any() else None,
        "answerable_answered_with_article_in_top3": round(float((~refused & in_top3)[~unanswerable].mean()), 4),
        "calibration_ece": round(expected_calibration_error(p, ~in_top3), 4),
    }
    if unanswerable.any():
        report["auroc"] = round(float(roc_auc_score(unanswerable, p)), 4)
    return report


def _outcomes(results: list[list[Any]], expected: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Per query: whether it has no article, and whether its article is among the :data:`SHOWN` first."""
    unanswerable = np.array([e is None for e in expected])
    shown = [[m.slug for m in r[:SHOWN]] for r in results]
    return unanswerable, np.array([e is not None and e in s for s, e in zip(shown, expected, strict=True)])


def _no_answer(results: list[list[Any]], expected: list[str | None], seed: int) -> dict[str, Any]:
    """AUROC of the no-answer score, and a threshold chosen on half of the queries applied to the rest."""
    scores = np.array([1.0 - (r[0].similarity if r else 0.0) for r in results])
    unanswerable, in_top3 = _outcomes(results, expected)
    order = np.random.default_rng(seed).permutation(len(scores))
    fit, held = order[: len(order) // 2], order[len(order) // 2 :]
    threshold = no_answer_threshold(scores[fit], unanswerable[fit])
    refused = scores[held] >= threshold
    answerable = ~unanswerable[held]
    return {
        "score": "1 - cosine similarity of the best section",
        "auroc": round(float(roc_auc_score(unanswerable, scores)), 4),
        "threshold": round(threshold, 4),
        "similarity_threshold": round(1.0 - threshold, 4),
        "held_out": {
            "unanswerable_refused": round(float(refused[~answerable].mean()), 4),
            "answerable_answered_with_article_in_top3": round(float((~refused & in_top3[held])[answerable].mean()), 4),
        },
    }
