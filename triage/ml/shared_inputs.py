"""Work that the classifiers of one bundle would each repeat for the same tickets, done once.

Every field's classifier turns a ticket's text into TF-IDF features and compares its embedding with the
training tickets (the neighbour vote and the new-kind check). Fields trained on the same tickets fitted
equal featurisers and hold equal training embeddings: :func:`share_fitted` makes them one object when a
bundle loads, and :class:`SharedInputs` computes the features and the similarities once per object for a
batch of tickets, whichever classifier asks first. The numbers are the ones each classifier computed
alone; only the repeats are gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy import sparse

from triage.ml.inputs import texts_of, vectors_of

__all__ = ("SharedInputs", "share_fitted", "tfidf_features")


def tfidf_features(union: Any, texts: list[str]) -> sparse.csr_matrix:
    """The fitted word and character TF-IDF ``FeatureUnion``'s features of ``texts``: what its
    ``transform`` gives, without the input validation scikit-learn repeats for every transformer (on one
    short ticket that took longer than the weighting itself). Counting is scikit-learn's own."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

    blocks = []
    for _, vectorizer in union.transformer_list:
        counts = sparse.csr_matrix(CountVectorizer.transform(vectorizer, texts), dtype=np.float64)
        if vectorizer.sublinear_tf:
            np.log(counts.data, counts.data)
            counts.data += 1.0
        if vectorizer.use_idf:
            counts.data *= vectorizer.idf_[counts.indices]
        if vectorizer.norm == "l2":
            inplace_csr_row_normalize_l2(counts)  # what scikit-learn's own normalize calls
        elif vectorizer.norm is not None:
            raise ValueError(f"unsupported TF-IDF norm {vectorizer.norm!r}")
        blocks.append(counts)
    return sparse.hstack(blocks).tocsr()


def _same_featuriser(a: Any, b: Any) -> bool:
    if a.get_params(deep=False).keys() != b.get_params(deep=False).keys():
        return False
    pairs = list(zip(a.transformer_list, b.transformer_list, strict=False))
    if len(pairs) != len(a.transformer_list) or len(pairs) != len(b.transformer_list):
        return False
    return all(
        name_a == name_b
        and repr(t_a.get_params()) == repr(t_b.get_params())
        and t_a.vocabulary_ == t_b.vocabulary_
        and np.array_equal(getattr(t_a, "idf_", ()), getattr(t_b, "idf_", ()))
        for (name_a, t_a), (name_b, t_b) in pairs
    )


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


def share_fitted(classifiers: Iterable[Any]) -> dict[str, int]:
    """Make classifiers that hold equal fitted featurisers (``vectorizer_``) or equal training embeddings
    (``train_vectors_``) hold the same object; returns how many distinct ones of each remain."""
    featurisers: list[Any] = []
    embeddings: list[np.ndarray] = []
    for clf in classifiers:
        if not hasattr(clf, "vectorizer_"):
            continue
        same = next((f for f in featurisers if f is clf.vectorizer_ or _same_featuriser(f, clf.vectorizer_)), None)
        if same is None:
            featurisers.append(clf.vectorizer_)
        else:
            clf.vectorizer_ = same
        vectors = clf.train_vectors_
        same = next((v for v in embeddings if v is vectors or _same_array(v, vectors)), None)
        if same is None:
            embeddings.append(vectors)
        else:
            clf.train_vectors_ = same
    return {"featurisers": len(featurisers), "training_embeddings": len(embeddings)}


class SharedInputs:
    """One batch of classifier inputs (:func:`triage.ml.inputs.make_inputs` rows) with the features and
    similarities computed so far, by the identity of the fitted featuriser or training embeddings."""

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self.texts = texts_of(X)
        self.vectors = vectors_of(X)
        self._features: dict[int, tuple[Any, sparse.csr_matrix]] = {}
        self._similarities: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def features(self, featuriser: Any) -> sparse.csr_matrix:
        """``featuriser``'s TF-IDF features of the batch's texts."""
        held = self._features.get(id(featuriser))
        if held is None or held[0] is not featuriser:
            held = self._features[id(featuriser)] = (featuriser, tfidf_features(featuriser, self.texts))
        return held[1]

    def similarities(self, train_vectors: np.ndarray) -> np.ndarray:
        """Cosine similarities of the batch's embeddings to ``train_vectors`` (rows by columns)."""
        held = self._similarities.get(id(train_vectors))
        if held is None or held[0] is not train_vectors:
            held = self._similarities[id(train_vectors)] = (train_vectors, self.vectors @ train_vectors.T)
        return held[1]
