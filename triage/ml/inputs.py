"""The input rows our classifiers take: a text and its embedding, side by side in one object array.

Keeping both in one array lets scikit-learn's splitters, ``cross_val_score`` and grid search slice rows
as usual, while each model picks the column it needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ("make_inputs", "texts_of", "vectors_of")


def make_inputs(texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """Pack texts and their embeddings into an ``(n, 2)`` object array."""
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
    X = np.empty((len(texts), 2), dtype=object)
    X[:, 0] = list(texts)
    for i, vector in enumerate(vectors):
        X[i, 1] = np.asarray(vector, dtype=np.float32)
    return X


def texts_of(X: np.ndarray) -> list[str]:
    """The text column."""
    return [str(t) for t in X[:, 0]]


def vectors_of(X: np.ndarray) -> np.ndarray:
    """The embedding column as a float32 matrix."""
    if len(X) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.ascontiguousarray(np.stack(X[:, 1]), dtype=np.float32)
