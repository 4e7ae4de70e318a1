"""Per-field triage classifiers, following scikit-learn conventions.

:class:`TriageClassifier` stacks three views of a ticket: word and character n-gram TF-IDF (a linear
SVM), the sentence embedding (a logistic regression) and the similarity-weighted label vote of the
nearest resolved tickets. A stacker combines their out-of-fold scores: one weight per view shared by
all labels, or a full logistic regression, whichever has the lower out-of-fold log-loss. The stacker's
own out-of-fold probabilities, never the training rows' fitted ones, fit the temperature, the conformal
quantile and the abstention threshold.

The views are cross-fitted: each fold's models are kept, and a new ticket gets the average of their
scores. Every score the stacker and the calibration saw came from a model that had not seen that row,
trained on the same share of the data, so the held-out calibration carries over to new tickets (a
refit on all rows scores new tickets more confidently than the calibration expects).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from triage.ml.calibration import apply_temperature, expected_calibration_error, fit_confidence_temperature
from triage.ml.conformal import conformal_quantile, prediction_sets
from triage.ml.decisions import DECISIONS, decide, fit_decisions
from triage.ml.fold_average import FoldAverage, cross_fit_folds
from triage.ml.inputs import text_features, texts_of, usable_labels, vectors_of
from triage.ml.new_kind_check import NewKindCheck
from triage.ml.novelty import DOUBT_WEIGHT, RECENT_GATE, novelty_quantiles
from triage.ml.saved_state import SavedState
from triage.ml.shared_inputs import SharedInputs
from triage.ml.stacking import SharedWeightStacker
from triage.ml.voting import knn_vote, vote_from_similarities

__all__ = ("TriageClassifier",)


def _scores_2d(scores: np.ndarray) -> np.ndarray:
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


class TriageClassifier(NewKindCheck, SavedState, ClassifierMixin, BaseEstimator):
    """A calibrated, abstaining classifier for one ticket field over a closed label set.

    ``X`` is an object array from :func:`triage.ml.inputs.make_inputs` (text, embedding per row).

    Args:
        min_examples: labels with fewer training rows are reported in ``insufficient_labels_`` and
            never predicted.
        n_neighbors: how many similar resolved tickets vote.
        text_C: regularisation of the TF-IDF linear SVM.
        embedding_C: regularisation of the embedding logistic regression.
        meta_C: regularisation of the stacking logistic regression; strong by default, since it sees
            three scores per label and few rows per label.
        class_weight: weighting of the three views; "balanced" reweights classes inversely to their
            frequency, so rare queues still shape the text and embedding models.
        meta_class_weight: weighting of the stacker; None keeps the observed label frequencies, which
            the calibrated probabilities must reflect (balancing here trades accuracy and calibration
            for recall on rare labels).
        stacker: how the views are combined: "shared" (one weight per view, a bias per label),
            "full" (a logistic regression over every view's score of every label), or "auto", which
            keeps the one with the lower out-of-fold log-loss.
        cv: folds for out-of-fold scores; each fold's view models are kept and averaged.
        coverage: target coverage of the conformal prediction sets.
        target_precision: the precision the abstention threshold is chosen for.
        decision: which label is committed: "most_probable", or "balanced" (probabilities divided by a
            power of the label frequency chosen for out-of-fold macro-F1, see
            :mod:`triage.ml.decisions`). Both rules are fitted; this one is used, and it may be
            changed with ``set_params`` after fitting.
        novelty_rate: the share of ordinary tickets allowed to abstain as "a new kind of ticket" (less
            familiar to the training tickets, with the classifier's doubt counted, than that share of
            them; see :mod:`triage.ml.novelty`); 0 turns it off.
        random_state: seed of the fold split.
    """

    def __init__(
        self,
        min_examples: int = 2,
        n_neighbors: int = 10,
        text_C: float = 0.5,
        embedding_C: float = 10.0,
        meta_C: float = 0.02,
        class_weight: str | None = "balanced",
        meta_class_weight: str | None = None,
        cv: int = 5,
        coverage: float = 0.9,
        target_precision: float = 0.9,
        stacker: str = "auto",
        decision: str = "most_probable",
        novelty_rate: float = 0.04,
        random_state: int = 0,
    ) -> None:
        self.min_examples = min_examples
        self.n_neighbors = n_neighbors
        self.text_C = text_C
        self.embedding_C = embedding_C
        self.meta_C = meta_C
        self.class_weight = class_weight
        self.meta_class_weight = meta_class_weight
        self.cv = cv
        self.coverage = coverage
        self.target_precision = target_precision
        self.stacker = stacker
        self.decision = decision
        self.novelty_rate = novelty_rate
        self.random_state = random_state

    # -- the three views -------------------------------------------------------------------
    def _fit_views(self, text_matrix, vectors: np.ndarray, y: np.ndarray) -> tuple[LinearSVC, LogisticRegression]:
        text_model = LinearSVC(C=self.text_C, class_weight=self.class_weight).fit(text_matrix, y)
        embedding_model = LogisticRegression(C=self.embedding_C, class_weight=self.class_weight, max_iter=3000)
        return text_model, embedding_model.fit(vectors, y)

    def _view_scores(self, models, train_vectors, train_y, text_matrix, vectors) -> np.ndarray:
        """Per-label scores of each view side by side: SVM margin, probability, neighbour vote."""
        text_model, embedding_model = models
        return np.hstack(
            [
                _scores_2d(text_model.decision_function(text_matrix)),
                embedding_model.predict_proba(vectors),
                knn_vote(train_vectors, train_y, vectors, len(self.classes_), self.n_neighbors),
            ]
        )

    def _meta(self, kind: str):
        if kind == "shared":
            return SharedWeightStacker(n_views=3, share_views=(1, 2))
        return make_pipeline(
            StandardScaler(), LogisticRegression(C=self.meta_C, class_weight=self.meta_class_weight, max_iter=3000)
        )

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y) -> TriageClassifier:
        """Fit the views, the stacker, and the calibration on out-of-fold scores.

        Rows whose label is too rare to predict are left out of training but kept in the held-out
        scores, counted as wrong: confidence, sets and the abstention threshold then reflect the
        tickets that belong to queues the model cannot name.
        """
        if self.stacker not in ("auto", "shared", "full"):
            raise ValueError(f"stacker must be 'auto', 'shared' or 'full', not {self.stacker!r}")
        if self.min_examples < 2:
            raise ValueError(
                f"min_examples must be at least 2 (a label needs a row in every fold), not {self.min_examples}"
            )
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {self.decision!r}")
        y = np.asarray(y, dtype=object).astype(str)
        counts = Counter(y.tolist())
        keep = usable_labels(y, self.min_examples)
        self.insufficient_labels_ = sorted(set(counts) - set(keep))
        if len(keep) < 2:
            raise ValueError(
                f"need at least two labels with {self.min_examples}+ examples each; "
                f"found {len(keep)} ({dict(counts.most_common(5))})"
            )
        self.classes_ = np.array(keep, dtype=object)
        known = np.isin(y, keep)
        y_idx = np.full(len(y), -1)
        y_idx[known] = np.searchsorted(self.classes_, y[known])
        vectors = vectors_of(X)
        self.vectorizer_ = text_features()
        text_matrix = self.vectorizer_.fit_transform(texts_of(X))
        folds = cross_fit_folds(y_idx, self.cv, self.random_state)

        view_oof = np.zeros((len(y), 3 * len(keep)))
        self.fold_views_ = []
        for train, test in folds:
            models = self._fit_views(text_matrix[train], vectors[train], y_idx[train])
            view_oof[test] = self._view_scores(models, vectors[train], y_idx[train], text_matrix[test], vectors[test])
            self.fold_views_.append((models, train))

        candidates = ("shared", "full") if self.stacker == "auto" else (self.stacker,)
        nll, oof = {}, {}
        for kind in candidates:
            oof[kind] = np.zeros((len(y), len(keep)))
            for train, test in folds:
                oof[kind][test] = self._meta(kind).fit(view_oof[train], y_idx[train]).predict_log_proba(view_oof[test])
            nll[kind] = float(-oof[kind][known, y_idx[known]].mean())
        self.stacker_ = min(nll, key=nll.get)
        logits_oof = oof[self.stacker_]

        self.temperature_ = fit_confidence_temperature(logits_oof, y_idx)
        proba_oof = apply_temperature(logits_oof, self.temperature_)
        correct = proba_oof.argmax(axis=1) == y_idx
        self.conformal_quantile_ = conformal_quantile(proba_oof, y_idx, self.coverage)
        self.log_prior_, self.decisions_ = fit_decisions(proba_oof, y_idx, self.target_precision)
        self.calibration_ = {
            "oof_accuracy": float(np.mean(correct)),
            "oof_ece": expected_calibration_error(proba_oof.max(axis=1), correct),
            "stacker_nll": nll,
        }

        self.train_vectors_, self.train_y_ = vectors, y_idx
        self.meta_ = self._meta(self.stacker_).fit(view_oof[known], y_idx[known])
        self.n_train_ = int(known.sum())
        self.novelty_weight_ = DOUBT_WEIGHT
        self.novelty_threshold_, self.recent_gate_ = novelty_quantiles(
            vectors,
            (self.novelty_rate, RECENT_GATE),
            top_probability=proba_oof.max(axis=1),
            weight=DOUBT_WEIGHT,
            seed=self.random_state,
        )
        return self

    # -- predicting -------------------------------------------------------------------------
    def decision_function(self, X: np.ndarray, shared: SharedInputs | None = None) -> np.ndarray:
        """Uncalibrated stacked log-probabilities, columns ordered as ``classes_`` (``shared``: see below)."""
        check_is_fitted(self, "meta_")
        return self.meta_.predict_log_proba(self.fold_view_scores(X, shared=shared))

    def fold_view_scores(self, X: np.ndarray, chunk: int = 1024, shared: SharedInputs | None = None) -> np.ndarray:
        """The three views' scores averaged over the cross-fitted fold models (the stacker's input);
        ``chunk`` rows at a time, which bounds the similarity matrix the neighbour vote needs (``shared``:
        one batch, see :class:`~triage.ml.shared_inputs.SharedInputs`)."""
        check_is_fitted(self, "meta_")
        batches = [shared] if shared is not None else [SharedInputs(X[i : i + chunk]) for i in range(0, len(X), chunk)]
        scores = [
            self._arranged_folds().view_scores(
                batch.features(self.vectorizer_),
                batch.vectors,
                batch.similarities(self.train_vectors_),
                self.train_y_,
                lambda sims, y: vote_from_similarities(sims, y, len(self.classes_), self.n_neighbors),
            )
            for batch in batches
        ]
        return np.vstack(scores) if scores else np.zeros((0, 3 * len(self.classes_)))

    def _arranged_folds(self) -> FoldAverage:
        """The fold models arranged for scoring, built once per fitted or loaded classifier."""
        arranged = self.__dict__.get("_arranged")
        if arranged is None or arranged[0] is not self.fold_views_:
            arranged = (self.fold_views_, FoldAverage.of(self.fold_views_))
            self._arranged = arranged
        return arranged[1]

    def predict_proba(self, X: np.ndarray, shared: SharedInputs | None = None) -> np.ndarray:
        """Calibrated class probabilities."""
        return apply_temperature(self.decision_function(X, shared), self.temperature_)

    def _rule(self) -> dict:
        """The decision rule in use (``exponent``, ``abstention``); a classifier saved before balanced
        decisions existed has "most_probable" only."""
        return self.decisions_.get(self.decision, self.decisions_["most_probable"])

    @property
    def abstention_(self) -> dict:
        """The abstention threshold of the decision rule in use (``threshold``, ``reachable``, ...)."""
        return self._rule()["abstention"]

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """The committed label index per row of ``proba`` under the decision rule in use."""
        return decide(proba, self.log_prior_, self._rule()["exponent"])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The committed label per row (abstention is reported by :meth:`predict_sets`)."""
        return self.classes_[self.decide(self.predict_proba(X))]

    def predict_sets(
        self, X: np.ndarray, novel: np.ndarray | None = None, shared: SharedInputs | None = None
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Calibrated probabilities, conformal sets (class indices) and the abstain mask per row (see
        :meth:`assess`, which also returns which rows are new)."""
        return self.assess(X, shared, novel)[:3]

    def assess(
        self,
        X: np.ndarray,
        shared: SharedInputs | None = None,
        novel: np.ndarray | None = None,
        recent: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
        """Per row: calibrated probabilities, the conformal set (class indices), whether it abstains (the
        committed label's probability is below the rule's threshold, or it is new) and whether it is a
        new kind of ticket (``novel``, from :meth:`novel` with ``recent`` when not given)."""
        proba = self.predict_proba(X, shared)
        sets = prediction_sets(proba, self.conformal_quantile_)
        novel = self.novel(X, shared, proba, recent) if novel is None else novel
        abstain = (proba[np.arange(len(proba)), self.decide(proba)] < self.abstention_["threshold"]) | novel
        return proba, sets, abstain, novel
