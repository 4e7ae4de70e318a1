"""The open-set check of ``helpdesk evaluate --open-set-unknown N``: labels held out of training entirely,
and how well the new-kind check singles out their test rows (see :mod:`triage.ml.novelty`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from triage.evaluation.labelled import unknown_labels
from triage.ml.classifiers import TriageClassifier
from triage.ml.inputs import texts_of, vectors_of
from triage.ml.novelty import closeness_in_arrival_order, familiarity, word_set

__all__ = ("open_set_auroc",)


def open_set_auroc(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    n_unknown: int,
    seed: int = 0,
    min_examples: int = 2,
) -> dict[str, Any]:
    """Hold ``n_unknown`` labels out of training: how well ``1 - max probability``, unfamiliarity and the
    new-kind score that decides (see :mod:`triage.ml.novelty`) single out their test rows (AUROC), and how
    many abstain, as a new kind of ticket or for low confidence, against the known rows. Each row is
    judged alone (the first of its kind), and again in a seeded arrival order, each test row with the
    ones before it as the recent open tickets (``in_arrival_order``)."""
    unknown = unknown_labels(y_train, n_unknown, seed)
    keep = ~np.isin(y_train, unknown)
    clf = TriageClassifier(min_examples=min_examples).fit(X_train[keep], y_train[keep])
    proba, _, abstain, novel = clf.assess(X_test)
    is_unknown = np.isin(y_test, unknown)
    familiar = familiarity(vectors_of(X_test), clf.train_vectors_)
    score = clf.new_kind_scores(X_test, proba=proba)
    order = np.random.default_rng(seed).permutation(len(X_test))
    words = [word_set(text) for text in texts_of(X_test)]
    recent = closeness_in_arrival_order(vectors_of(X_test), order, words=words)
    arrival_score = clf.new_kind_scores(X_test, proba=proba, recent=recent)
    arrival_novel = arrival_score < clf.novelty_threshold_  # what novel() decides, without scoring again
    arrival_abstain = (abstain & ~novel) | arrival_novel
    return {
        "held_out_labels": unknown,
        "auroc": round(float(roc_auc_score(is_unknown, 1.0 - proba.max(axis=1))), 4),
        "auroc_familiarity": round(float(roc_auc_score(is_unknown, -familiar)), 4),
        "auroc_new_kind": round(float(roc_auc_score(is_unknown, -score)), 4),
        "novelty_rate": clf.novelty_rate,
        "unknown_rows_abstained": round(float(abstain[is_unknown].mean()), 4),
        "known_rows_abstained": round(float(abstain[~is_unknown].mean()), 4),
        "unknown_rows_new_kind": round(float(novel[is_unknown].mean()), 4),
        "known_rows_new_kind": round(float(novel[~is_unknown].mean()), 4),
        "in_arrival_order": {
            "auroc_new_kind": round(float(roc_auc_score(is_unknown, -arrival_score)), 4),
            "unknown_rows_abstained": round(float(arrival_abstain[is_unknown].mean()), 4),
            "known_rows_abstained": round(float(arrival_abstain[~is_unknown].mean()), 4),
            "unknown_rows_new_kind": round(float(arrival_novel[is_unknown].mean()), 4),
            "known_rows_new_kind": round(float(arrival_novel[~is_unknown].mean()), 4),
        },
    }
