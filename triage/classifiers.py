"""Per-field classifiers over sentence embeddings, following scikit-learn conventions."""

from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

__all__ = ("EmbeddingClassifier",)


class EmbeddingClassifier(ClassifierMixin, BaseEstimator):
    """Class-balanced logistic regression on embeddings, over a closed label set.

    Labels with fewer than ``min_examples`` training rows are dropped (listed in
    ``insufficient_labels_``) and never predicted.

    Args:
        C: inverse regularisation strength of the logistic regression.
        min_examples: the fewest rows a label needs to be learned.
        class_weight: passed to LogisticRegression; "balanced" counters class imbalance.
    """

    def __init__(self, C: float = 4.0, min_examples: int = 2, class_weight: str | None = "balanced") -> None:
        self.C = C
        self.min_examples = min_examples
        self.class_weight = class_weight

    def fit(self, X: np.ndarray, y: list[str] | np.ndarray) -> EmbeddingClassifier:
        """Fit on embeddings ``X`` and string labels ``y``."""
        y = np.asarray(y, dtype=object)
        counts = Counter(y.tolist())
        keep = {label for label, n in counts.items() if n >= self.min_examples}
        self.insufficient_labels_ = sorted(set(counts) - keep)
        mask = np.array([label in keep for label in y], dtype=bool)
        if len(keep) < 2:
            raise ValueError(f"need at least two labels with {self.min_examples}+ examples, got {len(keep)}")
        self.model_ = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)
        self.model_.fit(np.asarray(X)[mask], y[mask].astype(str))
        self.classes_ = self.model_.classes_
        self.n_train_ = int(mask.sum())
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns ordered as ``classes_``."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(np.asarray(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable label per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
