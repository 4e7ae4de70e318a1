"""How a :class:`~triage.ml.classifiers.TriageClassifier` is pickled into a bundle and read back, including
the state of classifiers saved by earlier releases (each change of the fitted state adds its default here)."""

from __future__ import annotations

from triage.ml.vocabularies import pack_vocabularies, unpack_vocabularies

__all__ = ("SavedState",)


class SavedState:
    """Pickling for the triage classifier (a mixin in front of scikit-learn's ``BaseEstimator``)."""

    def __getstate__(self) -> dict:
        """The fitted state without the arrangement of the fold models, which is rebuilt after loading, and
        with the TF-IDF vocabularies as arrays (see :mod:`triage.ml.vocabularies`)."""
        state = dict(super().__getstate__())
        state.pop("_arranged", None)
        if "vectorizer_" in state:
            state["vectorizer_"], state["vocabularies_"] = pack_vocabularies(state["vectorizer_"])
        return state

    def __setstate__(self, state: dict) -> None:
        """The state :meth:`__getstate__` gave (or that of a classifier saved before vocabularies were packed)."""
        state = dict(state)
        if "decisions_" not in state and "abstention_" in state:  # saved before balanced decisions
            state["decisions_"] = {"most_probable": {"exponent": 0.0, "abstention": state.pop("abstention_")}}
            state.setdefault("log_prior_", None)
        state.setdefault("decision", "most_probable")
        state.setdefault("novelty_rate", 0.0)  # saved before the new-kind check: it never flags
        state.setdefault("novelty_weight_", 0.0)  # saved before the doubt counted: familiarity alone
        state.setdefault("recent_gate_", float("-inf"))  # saved before recent open tickets counted: never
        packed = state.pop("vocabularies_", None)
        if packed is not None:
            state["vectorizer_"] = unpack_vocabularies(state["vectorizer_"], packed)
        super().__setstate__(state)
