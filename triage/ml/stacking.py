"""Stackers that combine per-label scores from several views into one probability per label."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ("SharedWeightStacker",)


class SharedWeightStacker(ClassifierMixin, BaseEstimator):
    """A conditional logit: ``logit(label) = sum_v w_v * score_v(label) + b_label``.

    ``X`` holds ``n_views`` blocks of per-label scores side by side (``n_views * n_labels`` columns,
    labels ``0..n_labels-1`` in each block). One weight per view is shared by every label, so the model
    has ``n_views + n_labels`` parameters however many labels there are: it learns how much to trust
    each view without the per-label weights a full logistic regression must estimate from a few rows
    of a rare queue.

    Args:
        n_views: how many blocks ``X`` has.
        share_views: the blocks that hold shares (probabilities, votes); they enter as
            ``log(share + share_floor)`` so that every block adds up like a logit.
        share_floor: keeps the log of a zero share finite.
        l2: L2 penalty on the weights and biases; it keeps the weights finite when the views separate
            the training rows perfectly.
    """

    def __init__(
        self, n_views: int = 3, share_views: tuple[int, ...] = (), share_floor: float = 0.01, l2: float = 0.001
    ) -> None:
        self.n_views = n_views
        self.share_views = share_views
        self.share_floor = share_floor
        self.l2 = l2

    def _blocks(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] % self.n_views:
            raise ValueError(f"X must have a multiple of n_views={self.n_views} columns; got {X.shape}")
        blocks = X.reshape(len(X), self.n_views, -1).copy()
        for view in self.share_views:
            blocks[:, view] = np.log(np.clip(blocks[:, view], 0.0, 1.0) + self.share_floor)
        return blocks

    def fit(self, X: np.ndarray, y: np.ndarray) -> SharedWeightStacker:
        """Maximise the likelihood of ``y`` (label indices) by L-BFGS."""
        blocks = self._blocks(X)
        n, n_views, n_labels = blocks.shape
        y = np.asarray(y, dtype=np.int64)
        onehot = np.zeros((n, n_labels))
        onehot[np.arange(n), y] = 1.0

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            weights, bias = theta[:n_views], theta[n_views:]
            log_p = log_softmax(np.einsum("nvk,v->nk", blocks, weights) + bias, axis=1)
            grad_logits = (np.exp(log_p) - onehot) / n
            value = -np.sum(onehot * log_p) / n + 0.5 * self.l2 * np.sum(theta**2)
            grad = np.concatenate([np.einsum("nk,nvk->v", grad_logits, blocks), grad_logits.sum(0)])
            return float(value), grad + self.l2 * theta

        start = np.concatenate([np.full(n_views, 1.0 / n_views), np.zeros(n_labels)])
        theta = minimize(loss, start, jac=True, method="L-BFGS-B").x
        self.coef_, self.intercept_ = theta[:n_views], theta[n_views:]
        self.classes_ = np.arange(n_labels)
        return self

    def predict_log_proba(self, X: np.ndarray) -> np.ndarray:
        """Log-probabilities per label."""
        check_is_fitted(self, "coef_")
        return log_softmax(np.einsum("nvk,v->nk", self._blocks(X), self.coef_) + self.intercept_, axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities per label."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable label index per row."""
        return self.predict_log_proba(X).argmax(axis=1)
