"""The new-kind check of a fitted classifier: how ordinary each ticket looks next to the resolved tickets
it learned from, and whether that is below the threshold set at fitting (see :mod:`triage.ml.novelty`)."""

from __future__ import annotations

import numpy as np

from triage.ml.inputs import vectors_of
from triage.ml.novelty import familiarity, familiarity_of, new_kind_score
from triage.ml.shared_inputs import SharedInputs

__all__ = ("NewKindCheck",)


class NewKindCheck:
    """Mixin for a fitted classifier with ``train_vectors_``, ``novelty_weight_``, ``novelty_threshold_``,
    ``recent_gate_`` and ``predict_proba(X, shared)``."""

    def new_kind_scores(
        self,
        X: np.ndarray,
        shared: SharedInputs | None = None,
        proba: np.ndarray | None = None,
        recent: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per row: :func:`~triage.ml.novelty.new_kind_score`, lower for a new kind (``proba``, if computed;
        ``recent``: each row's :func:`~triage.ml.novelty.recent_closeness` to the recent open tickets)."""
        sims = shared.similarities(self.train_vectors_) if shared is not None else None
        familiar = familiarity(vectors_of(X), self.train_vectors_) if sims is None else familiarity_of(sims)
        gate = self.recent_gate_  # -inf in a classifier saved before recent open tickets counted
        if not self.novelty_weight_:  # a classifier saved before the doubt counted: familiarity alone
            return new_kind_score(familiar, None, 0.0, recent, gate)
        proba = self.predict_proba(X, shared) if proba is None else proba
        return new_kind_score(familiar, proba.max(axis=1), self.novelty_weight_, recent, gate)

    def novel(
        self,
        X: np.ndarray,
        shared: SharedInputs | None = None,
        proba: np.ndarray | None = None,
        recent: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per row: is it a new kind of ticket (its :meth:`new_kind_scores` below the threshold)?"""
        threshold = getattr(self, "novelty_threshold_", float("-inf"))  # none in bundles saved before
        if not np.isfinite(threshold):
            return np.zeros(len(X), dtype=bool)
        return self.new_kind_scores(X, shared, proba, recent) < threshold
