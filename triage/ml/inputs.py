"""The input rows our classifiers take: a text and its embedding, side by side in one object array.

Keeping both in one array lets scikit-learn's splitters, ``cross_val_score`` and grid search slice rows
as usual, while each model picks the column it needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ("make_inputs", "text_features", "texts_of", "usable_labels", "vectors_of")


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


def usable_labels(labels, min_examples: int) -> list[str]:
    """The labels with at least ``min_examples`` rows, sorted: the closed set a classifier may predict."""
    return sorted(label for label, n in Counter(str(label) for label in labels).items() if n >= min_examples)


def text_features():
    """Word (1-2) and character (2-5, within word boundaries) n-gram TF-IDF, sublinear term frequency (a
    scikit-learn ``FeatureUnion``; imported here, so reading inputs does not load scikit-learn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, strip_accents="unicode")),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
        ]
    )
