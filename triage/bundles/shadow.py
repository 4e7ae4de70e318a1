"""Shadow evaluation: replay the last resolved tickets through a candidate bundle and the active one, and
report where they differ from each other and from the agents' final labels, before promoting.

A candidate is usually trained on those very tickets, so its figures on them are optimistic; the report
also gives both bundles' figures on the tickets neither was trained on, when there are any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ArtifactVersion, Ticket
from models.fields import label_of
from triage.bundles import registry
from triage.bundles.adaptation import bundle_inputs
from triage.bundles.loading import load_bundle
from triage.bundles.promotion import find_version
from triage.bundles.snapshot import RESOLVED
from triage.bundles.training import trained_ticket_ids
from triage.ml.encoder import Encoder
from triage.ml.rates import share
from triage.text.redaction import bundle_redactor

__all__ = ("shadow_evaluate",)


def _predictions(row: ArtifactVersion, inputs: np.ndarray) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per field: the committed label (were it not abstained) and the abstain mask of every ticket, from
    one bundle."""
    bundle = load_bundle(Path(row.path))
    out = {}
    for name, clf in bundle.classifiers.items():
        proba, _, abstain = clf.predict_sets(inputs)
        out[name] = ([str(label) for label in clf.classes_[clf.decide(proba)]], abstain)
    return out


def shadow_evaluate(
    session: Session,
    kind: str,
    version: str,
    encoder: Encoder,
    artifacts_dir: Path,
    *,
    last: int = 200,
    examples: int = 5,
) -> dict[str, Any]:
    """Replay the ``last`` resolved tickets through ``version`` and the active bundle.

    Per field: each bundle's accuracy against the final labels (over all replayed tickets and over
    those neither bundle was trained on) and abstention rate, how often the two agree, and among the
    disagreements how many the candidate fixes (it is right, the active one is wrong) or breaks, with
    examples.
    """
    candidate = find_version(session, kind, version)
    version = candidate.version
    active = registry.get_active(session, kind)
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(RESOLVED), Ticket.erased_at.is_(None))
            .order_by(Ticket.resolved_at.desc().nulls_last(), Ticket.id.desc())
            .limit(last)
        )
    )
    report: dict[str, Any] = {
        "candidate": version,
        "active": active.version if active else None,
        "replayed": len(tickets),
        "fields": {},
    }
    if not tickets:
        return report
    redactor = bundle_redactor(candidate.manifest)

    def inputs(row: ArtifactVersion) -> np.ndarray:  # each bundle sees the tickets through its own encoder
        return bundle_inputs(row.folder(artifacts_dir), row.manifest, tickets, encoder, artifacts_dir, redactor)

    ours = _predictions(candidate, inputs(candidate))
    theirs = _predictions(active, inputs(active)) if active and active.version != version else {}
    seen = trained_ticket_ids(candidate.folder(artifacts_dir))
    if theirs:
        seen |= trained_ticket_ids(active.folder(artifacts_dir))
    unseen = np.array([t.id not in seen for t in tickets])
    report["unseen_by_both"] = int(unseen.sum())
    for name in ours:
        final = np.array([label_of(t, name) or "" for t in tickets], dtype=object)
        labelled = final != ""
        new, new_abstain = np.array(ours[name][0], dtype=object), ours[name][1]
        field: dict[str, Any] = {
            "labelled": int(labelled.sum()),
            "candidate": {
                "accuracy": share((new == final)[labelled]),
                "accuracy_unseen": share((new == final)[labelled & unseen]),
                "abstention_rate": share(new_abstain),
            },
        }
        if name in theirs:
            old, old_abstain = np.array(theirs[name][0], dtype=object), theirs[name][1]
            changed = new != old
            fixed, broken = changed & (new == final) & labelled, changed & (old == final) & labelled
            field["active"] = {
                "accuracy": share((old == final)[labelled]),
                "accuracy_unseen": share((old == final)[labelled & unseen]),
                "abstention_rate": share(old_abstain),
            }
            field["agreement"] = share(~changed)
            field["changed"] = {"total": int(changed.sum()), "fixed": int(fixed.sum()), "broken": int(broken.sum())}
            field["examples"] = [
                {
                    "ticket_id": tickets[i].id,
                    "subject": redactor(tickets[i].subject),
                    "active": old[i],
                    "candidate": new[i],
                    "final": final[i] or None,
                }
                for i in np.flatnonzero(changed)[:examples]
            ]
        report["fields"][name] = field
    return report
