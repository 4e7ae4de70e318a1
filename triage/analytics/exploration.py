"""What analysts look at in the notebooks: the resolved-ticket history and a bundle's held-out results."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from models import Ticket
from models.fields import field_names, label_of
from triage.bundles.snapshot import resolved_at, training_snapshot

__all__ = ("HeldOut", "held_out", "history_summary")


def history_summary(session: Session, *, since: datetime | None = None, top: int = 10) -> dict[str, Any]:
    """The resolved tickets a retrain would learn from: row count, the most common labels per field,
    volume per month, languages and channels."""
    snapshot = training_snapshot(session, since=since)
    tickets = snapshot.tickets

    def counts(values: list[str | None]) -> dict[str, int]:
        return dict(Counter(v or "(none)" for v in values).most_common(top))

    return {
        "training_set": snapshot.description,
        "labels": {name: counts([label_of(t, name) for t in tickets]) for name in field_names(session)},
        "per_month": dict(sorted(Counter(resolved_at(t).strftime("%Y-%m") for t in tickets).items())),
        "languages": counts([t.language for t in tickets]),
        "channels": counts([t.channel for t in tickets]),
    }


@dataclass(frozen=True)
class HeldOut:
    """One field's held-out rows of a bundle: final label, prediction and its calibrated probability."""

    field: str
    ticket_ids: list[int]
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        return self.true == self.predicted


def held_out(session: Session, bundle_path: Path, field: str) -> HeldOut:
    """The held-out predictions a bundle made while it was trained, against the tickets' labels now
    (rows without a label, or whose ticket is gone, are left out)."""
    data = json.loads((Path(bundle_path) / "holdout.json").read_text(encoding="utf-8"))
    if field not in data.get("predictions", {}):
        raise KeyError(f"the bundle has no held-out predictions for {field!r}")
    labels = {t.id: getattr(t, field) for t in session.query(Ticket).filter(Ticket.id.in_(data["ids"]))}
    rows = [
        (ticket_id, labels[ticket_id], p, c)
        for ticket_id, p, c in zip(data["ids"], data["predictions"][field], data["confidence"][field], strict=True)
        if labels.get(ticket_id)
    ]
    return HeldOut(
        field=field,
        ticket_ids=[r[0] for r in rows],
        true=np.array([r[1] for r in rows], dtype=object),
        predicted=np.array([r[2] for r in rows], dtype=object),
        confidence=np.array([r[3] for r in rows], dtype=float),
    )
