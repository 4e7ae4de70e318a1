"""One field's prediction for a ticket or draft, and the resolved tickets shown as its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.tickets import LABEL_FIELDS
from triage.bundles.loading import LoadedBundle

__all__ = ("FieldPrediction", "SimilarTicket", "field_prediction")


@dataclass(frozen=True)
class SimilarTicket:
    """A resolved ticket close to the query, with its labels and what was done."""

    id: int
    external_id: str | None
    subject: str
    similarity: float
    category: str | None
    priority: str | None
    assignee: str | None
    resolution: str | None
    labels: dict[str, str | None] = field(default_factory=dict)  # the fields a deployment added

    def label(self, name: str) -> str | None:
        """Its label for field ``name``."""
        return getattr(self, name) if name in LABEL_FIELDS else self.labels.get(name)


@dataclass(frozen=True)
class FieldPrediction:
    """One field's prediction.

    ``status`` is ``ok`` (a label), ``abstained`` (no label: too unsure for the bundle's target
    precision; the prediction set and the reason say why) or ``unavailable`` (no classifier). ``label``
    is the committed label only; ``top`` names the most probable label and its calibrated probability
    whether or not the field abstains, and ``alternatives`` the next ones.
    """

    status: str
    label: str | None = None
    confidence: float | None = None
    abstained: bool = False
    prediction_set: list[str] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] | None = None
    reason: str | None = None
    bundle_version: str | None = None
    top: dict[str, Any] | None = None  # the most probable label and its probability, committed or not


def _evidence(name: str, label: str, similar: list[SimilarTicket]) -> dict[str, Any]:
    votes = sum(1 for t in similar if t.label(name) == label)
    return {
        "summary": f"{votes} of the {len(similar)} most similar resolved tickets went to {label}",
        "tickets": [
            {"id": t.id, "external_id": t.external_id, "label": t.label(name), "similarity": t.similarity}
            for t in similar
        ],
    }


def field_prediction(
    bundle: LoadedBundle,
    name: str,
    clf,
    proba,
    chosen: int,
    members,
    abstained,
    similar,
    novel: bool = False,
    alike: list[int] | None = None,
) -> FieldPrediction:
    """One field's prediction: the committed label (``chosen`` under the bundle's decision rule, which is
    the most probable label unless the rule is "balanced"), or why not, and the most probable one
    (``alike``: the recent open tickets that alone made it new, when they did)."""
    order = np.argsort(proba)[::-1]
    best, confidence = str(clf.classes_[chosen]), round(float(proba[chosen]), 4)
    threshold = clf.abstention_["threshold"]
    reason = None
    if alike:
        tickets = ", ".join(f"#{ticket_id}" for ticket_id in alike)
        reason = f"a new kind of ticket: more like recent open tickets ({tickets}) than like the resolved ones"
    elif novel:
        share = 1 - getattr(clf, "novelty_rate", 0.0)
        reason = f"a new kind of ticket: less like the resolved tickets than {share:.0%} of them are like one another"
        if getattr(clf, "novelty_weight_", 0.0):  # the doubt counts (bundles trained since 2026-12-01)
            reason = (
                f"a new kind of ticket: less like the resolved tickets, and less clearly of one label, than "
                f"{share:.0%} of them"
            )
    elif abstained:
        reason = (
            f"confidence {confidence:.2f} is below {threshold:.2f}, the threshold for "
            f"{clf.target_precision:.0%} precision"
            if clf.abstention_["reachable"]
            else f"{clf.target_precision:.0%} precision was not reachable on held-out tickets for {name}"
        )
    others = [i for i in order if i not in (order[0], chosen)]
    return FieldPrediction(
        status="abstained" if abstained else "ok",
        label=None if abstained else best,
        confidence=confidence,
        abstained=abstained,
        prediction_set=[str(clf.classes_[i]) for i in members],
        alternatives=[{"label": str(clf.classes_[i]), "probability": round(float(proba[i]), 4)} for i in others[:3]],
        evidence=_evidence(name, best, similar) if similar else None,
        reason=reason,
        bundle_version=bundle.version,
        top={"label": str(clf.classes_[order[0]]), "probability": round(float(proba[order[0]]), 4)},
    )
