"""The cross-fitted views of a :class:`~triage.ml.classifiers.TriageClassifier`, averaged over folds in a
few matrix products instead of one scikit-learn call per fold and view.

A fitted classifier keeps each fold's linear SVM, logistic regression and training rows. Scoring a new
ticket averages the three views over the folds. Done fold by fold, that is 10 scikit-learn calls (each
validating its input) and 5 copies of the training embeddings per field and request: most of a
suggestion's cost. Here the work is arranged once per loaded classifier:

- the SVM margin is linear in its weights, so the folds' average margin is one product with the
  averaged weights;
- every fold's logistic-regression logits come from one product with the folds' weights side by side,
  then each fold's softmax (or sigmoid, for two labels);
- the neighbour vote computes the similarities to all training rows once, and each fold votes over its
  own columns of them.

The result equals the fold-by-fold average up to floating-point rounding (a test holds them together).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, softmax
from sklearn.model_selection import StratifiedKFold

__all__ = ("FoldAverage", "cross_fit_folds")


def _linear(model) -> tuple[np.ndarray, np.ndarray]:
    """A linear model's weights as (features, outputs) and its intercepts."""
    return np.atleast_2d(model.coef_).T, np.atleast_1d(model.intercept_)


@dataclass(frozen=True)
class FoldAverage:
    """The fold models' weights arranged for scoring many folds at once."""

    text_weights: np.ndarray  # (text features, 1 or labels): the folds' mean SVM weights
    text_intercept: np.ndarray
    embedding_weights: np.ndarray  # (dimension, folds * outputs)
    embedding_intercept: np.ndarray
    train_rows: tuple[np.ndarray, ...]  # each fold's training rows

    @classmethod
    def of(cls, fold_views) -> FoldAverage:
        """Arrange ``fold_views`` (``[((svm, logistic_regression), train_rows), ...]``)."""
        text = [_linear(svm) for (svm, _), _ in fold_views]
        embedding = [_linear(lr) for (_, lr), _ in fold_views]
        return cls(
            text_weights=np.mean([w for w, _ in text], axis=0),
            text_intercept=np.mean([b for _, b in text], axis=0),
            embedding_weights=np.hstack([w for w, _ in embedding]),
            embedding_intercept=np.concatenate([b for _, b in embedding]),
            train_rows=tuple(train for _, train in fold_views),
        )

    def view_scores(self, text_matrix, vectors: np.ndarray, sims: np.ndarray, train_y, vote) -> np.ndarray:
        """The three views' per-label scores averaged over the folds, side by side (as the stacker
        saw them in training), from the rows' text features, embeddings and similarities to every
        training row. ``vote(sims, labels)`` is the neighbour vote of one fold's rows."""
        margin = np.asarray(text_matrix @ self.text_weights) + self.text_intercept
        if margin.shape[1] == 1:  # two labels: the SVM gives the second label's margin only
            margin = np.hstack([-margin, margin])
        logits = (vectors @ self.embedding_weights + self.embedding_intercept).reshape(
            len(vectors), len(self.train_rows), -1
        )
        if logits.shape[2] == 1:  # two labels: a sigmoid of the second label's logit
            second = expit(logits[:, :, 0])
            proba = np.stack([1 - second, second], axis=2)
        else:
            proba = softmax(logits, axis=2)
        votes = np.mean([vote(sims[:, rows], train_y[rows]) for rows in self.train_rows], axis=0)
        return np.hstack([margin, proba.mean(axis=1), votes])


def cross_fit_folds(y_idx: np.ndarray, n_splits: int, random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, held-out) folds over rows with a known label (``y_idx >= 0``); rows with a label
    too rare to predict join the held-out parts. A label with fewer rows than folds is spread over as
    many folds as it has rows, so every fold still trains on at least one of its rows when it has two;
    when no label has ``n_splits`` rows, there are as many folds as the largest label has rows."""
    known = np.flatnonzero(y_idx >= 0)
    rare = np.flatnonzero(y_idx < 0)
    n_splits = max(2, min(n_splits, int(np.bincount(y_idx[known]).max())))  # a small history: fewer folds
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():  # the warning about labels with fewer rows than folds is expected
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split(known, y_idx[known]))
    return [
        (known[train], np.sort(np.concatenate([known[test], rare[i::n_splits]])))
        for i, (train, test) in enumerate(splits)
    ]
