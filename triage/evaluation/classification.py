"""Offline evaluation: train on a split of a labelled file, measure the triage classifier beside baselines.

``evaluate_file`` is what ``helpdesk evaluate`` and the notebooks call. It reports, per field: accuracy,
macro-F1, per-class precision/recall/F1/support, the confusion matrix, calibration error (ECE),
conformal coverage achieved, precision and coverage at the abstention threshold, and the same run's
baselines (majority class, TF-IDF + logistic regression, embeddings + logistic regression); optionally
an open-set check (labels held out of training entirely: does the abstain score single them out?).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score
from sklearn.pipeline import make_pipeline

from triage.errors import InvalidImport
from triage.evaluation.labelled import adaptation_rows, load_labelled, split_rows
from triage.evaluation.open_set import open_set_auroc
from triage.ml.calibration import expected_calibration_error
from triage.ml.classifiers import TriageClassifier
from triage.ml.decisions import DECISIONS, decide
from triage.ml.inputs import make_inputs, texts_of, vectors_of

__all__ = (
    "ece_noise_floor",
    "evaluate_arrays",
    "evaluate_file",
    "open_set_auroc",  # re-exported from triage.evaluation.open_set
)


BANDS = ((1, 9), (10, 49), (50, None))  # training rows per label: rare, uncommon, common


def _baselines(
    X_train, y_train, X_test, y_test, class_weight: str | None, known_labels: Sequence[str]
) -> dict[str, dict[str, Any]]:
    majority = Counter(y_train).most_common(1)[0][0]
    models = {
        "tfidf_logreg": (
            make_pipeline(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                LogisticRegression(C=10.0, class_weight=class_weight, max_iter=3000),
            ),
            texts_of,
        ),
        "embedding_logreg": (LogisticRegression(C=10.0, class_weight=class_weight, max_iter=3000), vectors_of),
    }
    results = {"majority": _scores(y_test, np.array([majority] * len(y_test)), known_labels, y_train)}
    for name, (model, view) in models.items():
        start = time.perf_counter()
        model.fit(view(X_train), y_train)
        results[name] = {
            **_scores(y_test, model.predict(view(X_test)), known_labels, y_train),
            "fit_seconds": round(time.perf_counter() - start, 2),
        }
    return results


def _macro_f1(y_true, y_pred, labels: Sequence[str] | None = None) -> float:
    return round(float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)), 4)


def _scores(y_true, y_pred, known_labels: Sequence[str], y_train) -> dict[str, Any]:
    """Accuracy, macro-F1 over every label, macro-F1 over the labels with enough training rows, and
    macro-F1 per band of training rows per label (the test labels in that band)."""
    counts = Counter(str(label) for label in y_train)
    bands = {}
    for low, high in BANDS:
        labels = sorted({str(t) for t in y_true if low <= counts[str(t)] and (high is None or counts[str(t)] <= high)})
        name = f"{low}-{high}" if high else f"{low}+"
        bands[name] = {"labels": len(labels), "macro_f1": _macro_f1(y_true, y_pred, labels) if labels else None}
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": _macro_f1(y_true, y_pred),
        "macro_f1_known_labels": _macro_f1(y_true, y_pred, list(known_labels)),
        "macro_f1_by_band": bands,
    }


def ece_noise_floor(confidence: np.ndarray, *, draws: int = 200, seed: int = 0) -> dict[str, float]:
    """The ECE a perfectly calibrated model with these confidences would show on this many rows.

    ECE is biased upwards on a finite test set; this says how much of the measured value is sampling.
    """
    rng = np.random.default_rng(seed)
    confidence = np.asarray(confidence, dtype=np.float64)
    values = [expected_calibration_error(confidence, rng.random(len(confidence)) < confidence) for _ in range(draws)]
    return {"mean": round(float(np.mean(values)), 4), "p95": round(float(np.quantile(values, 0.95)), 4)}


def _decision_report(clf: TriageClassifier, decision: str, proba, novel, y_test, y_train, known) -> dict[str, Any]:
    """Scores, and precision and coverage at the abstention threshold (new kinds of tickets abstain too),
    under one decision rule."""
    rule = clf.decisions_[decision]
    chosen = decide(proba, clf.log_prior_, rule["exponent"])
    pred = clf.classes_[chosen].astype(str)
    correct = pred == y_test
    answered = (proba[np.arange(len(chosen)), chosen] >= rule["abstention"]["threshold"]) & ~novel
    return {
        **_scores(y_test, pred, known, y_train),
        "exponent": rule["exponent"],
        "abstention": {
            "threshold": rule["abstention"]["threshold"] if rule["abstention"]["reachable"] else None,
            "precision": round(float(correct[answered].mean()), 4) if answered.any() else None,
            "coverage": round(float(answered.mean()), 4),
        },
    }


def evaluate_arrays(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    min_examples: int = 2,
    coverage: float = 0.9,
    target_precision: float = 0.9,
    decision: str = "most_probable",
    baseline_class_weight: str | None = "balanced",
) -> dict[str, Any]:
    """Fit a :class:`TriageClassifier` on the train rows and report everything on the test rows: the
    decision rule in use as ``model``, and both rules side by side under ``decisions``."""
    start = time.perf_counter()
    clf = TriageClassifier(
        min_examples=min_examples, coverage=coverage, target_precision=target_precision, decision=decision
    )
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    proba, sets, abstain, novel = clf.assess(X_test)
    pred = clf.classes_[clf.decide(proba)].astype(str)
    correct = pred == y_test
    top_correct = clf.classes_[proba.argmax(axis=1)].astype(str) == y_test  # calibration is of the top label
    ece = expected_calibration_error(proba.max(axis=1), top_correct)
    index = {label: i for i, label in enumerate(clf.classes_)}
    known = [str(c) for c in clf.classes_]
    covered = [index.get(label, -1) in s for label, s in zip(y_test, sets, strict=True)]
    known_rows = np.array([label in index for label in y_test])
    answered = ~abstain
    labels = sorted(set(y_test) | set(pred))
    decisions = {kind: _decision_report(clf, kind, proba, novel, y_test, y_train, known) for kind in DECISIONS}
    return {
        "rows": {"train": len(y_train), "test": len(y_test), "test_with_unknown_label": int((~known_rows).sum())},
        "labels": known,
        "insufficient_data": clf.insufficient_labels_,
        "model": {
            **_scores(y_test, pred, known, y_train),
            "decision": decision,
            "stacker": clf.stacker_,
            "fit_seconds": round(fit_seconds, 2),
        },
        "decisions": decisions,
        "baselines": _baselines(X_train, y_train, X_test, y_test, baseline_class_weight, known),
        "per_class": classification_report(y_test, pred, labels=labels, output_dict=True, zero_division=0),
        "confusion_matrix": {"labels": labels, "matrix": confusion_matrix(y_test, pred, labels=labels).tolist()},
        "calibration": {
            "ece": round(float(ece), 4),
            "ece_if_perfectly_calibrated": ece_noise_floor(proba.max(axis=1)),
            "temperature": round(clf.temperature_, 4),
        },
        "conformal": {
            "target_coverage": coverage,
            "coverage": round(float(np.mean(covered)), 4),
            "coverage_known_labels": (
                round(float(np.mean(np.array(covered)[known_rows])), 4) if known_rows.any() else None
            ),
            "mean_set_size": round(float(np.mean([len(s) for s in sets])), 3),
        },
        "abstention": {
            "target_precision": target_precision,
            "threshold": clf.abstention_["threshold"] if clf.abstention_["reachable"] else None,
            "precision": round(float(correct[answered].mean()), 4) if answered.any() else None,
            "coverage": round(float(answered.mean()), 4),
        },
    }


def evaluate_file(
    path: Path,
    mapping: Mapping[str, str],
    fields: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
    *,
    test_path: Path | None = None,
    test_size: float = 0.2,
    seed: int = 42,
    min_examples: int = 2,
    coverage: float = 0.9,
    target_precision: float = 0.9,
    decision: str = "most_probable",
    open_set_unknown: int = 0,
    adapt: Callable[[list[str], dict[str, list[str | None]]], Callable[[list[str]], np.ndarray]] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Evaluate every field in ``fields`` on ``path`` (or train on ``path``, test on ``test_path``). ``adapt``
    (texts, labels per field of the rows no field tests on) returns the embedding function to use instead."""
    data = load_labelled(path, mapping, fields)
    test_data = load_labelled(test_path, mapping, fields) if test_path else None
    for field in fields:
        if len({label for label in data.labels[field] if label}) < 2:
            raise InvalidImport(f"the {field} column has fewer than two distinct labels", field=f"map.{field}")
    splits = (
        {}
        if test_data
        else {f: split_rows(data.labels[f], data.created_at, test_size=test_size, seed=seed) for f in fields}
    )
    if adapt is not None:  # no test label, and no label the open-set check holds out, reaches the encoder
        rows = adaptation_rows(data, fields, splits, open_set_unknown=open_set_unknown, seed=seed)
        embed = adapt([data.texts[i] for i in rows], {f: [data.labels[f][i] for i in rows] for f in fields})
    progress(f"encoding {len(data.texts) + (len(test_data.texts) if test_data else 0)} texts")
    X_all = make_inputs(data.texts, embed(data.texts))
    X_test_file = make_inputs(test_data.texts, embed(test_data.texts)) if test_data else None
    report: dict[str, Any] = {
        "file": path.name,
        "test_file": test_path.name if test_path else None,
        "settings": {
            "min_examples": min_examples,
            "coverage": coverage,
            "target_precision": target_precision,
            "decision": decision,
            "test_size": None if test_path else test_size,
            "seed": seed,
        },
        "fields": {},
    }
    for field in fields:
        labels = data.labels[field]
        progress(f"evaluating {field}")
        if test_data:
            train = np.array([i for i, label in enumerate(labels) if label])
            test_rows = np.array([i for i, label in enumerate(test_data.labels[field]) if label])
            X_train, y_train = X_all[train], np.array([labels[i] for i in train])
            X_test, y_test = X_test_file[test_rows], np.array([test_data.labels[field][i] for i in test_rows])
            split = f"train on {path.name}, test on {test_path.name}"
        else:
            train, test, split = splits[field]
            X_train, y_train = X_all[train], np.array([labels[i] for i in train])
            X_test, y_test = X_all[test], np.array([labels[i] for i in test])
        result = evaluate_arrays(
            X_train,
            y_train,
            X_test,
            y_test,
            min_examples=min_examples,
            coverage=coverage,
            target_precision=target_precision,
            decision=decision,
        )
        result["split"] = split
        if open_set_unknown:
            progress(f"open-set check for {field}")
            result["open_set"] = open_set_auroc(
                X_train, y_train, X_test, y_test, n_unknown=open_set_unknown, seed=seed, min_examples=min_examples
            )
        report["fields"][field] = result
    return report
