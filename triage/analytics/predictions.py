"""Feedback analytics: how often agents accept or override each field's prediction, per bundle version and
over time; how often the model abstains; and drift of recent tickets against the training window."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Feedback, Suggestion, Ticket
from models.base import as_utc, time_bucket, utcnow
from models.fields import field_names
from triage.bundles.loading import LoadedBundle
from triage.ml.rates import rate
from triage.text.texts import ticket_text

__all__ = ("BUCKETS", "prediction_report")

BUCKETS = ("day", "week")
UNSEEN_HEAVY = 0.3  # a ticket counts as mostly new vocabulary when this share of its words is unseen


def _acceptance(rows: list[Feedback]) -> dict[str, Any]:
    accepted = sum(r.action == "accepted" for r in rows)
    return {
        "decisions": len(rows),
        "accepted": accepted,
        "overridden": len(rows) - accepted,
        "acceptance_rate": rate(accepted, len(rows)),
        "override_rate": rate(len(rows) - accepted, len(rows)),
    }


def _words(bundle: LoadedBundle):
    """The training vocabulary (single words) and the word analyser of the bundle's first classifier."""
    clf = next(iter(bundle.classifiers.values()))
    word = dict(clf.vectorizer_.transformer_list)["word"]
    vocabulary = {term for term in word.vocabulary_ if " " not in term}
    analyse = word.build_analyzer()
    return vocabulary, lambda text: [t for t in analyse(text) if " " not in t]


def _unseen(texts: list[str], vocabulary: set[str], words) -> dict[str, Any]:
    shares = []
    for text in texts:
        tokens = words(text)
        if tokens:
            shares.append(sum(t not in vocabulary for t in tokens) / len(tokens))
    return {
        "tickets": len(shares),
        "unseen_word_share": round(float(np.mean(shares)), 4) if shares else None,
        "mostly_unseen_share": round(float(np.mean([s > UNSEEN_HEAVY for s in shares])), 4) if shares else None,
    }


def _drift(session: Session, bundle: LoadedBundle, cutoff: datetime, low_confidence: float) -> dict[str, Any]:
    recent = list(session.scalars(select(Suggestion).where(Suggestion.created_at >= cutoff)))
    low: dict[str, Any] = {}
    for name in bundle.fields:
        shown = [s.predictions.get(name) or {} for s in recent]
        shown = [p for p in shown if p.get("status") in ("ok", "abstained")]
        unsure = sum(p["status"] == "abstained" or (p.get("confidence") or 0) < low_confidence for p in shown)
        coverage = bundle.manifest.get("metrics", {}).get(name, {}).get("abstention", {}).get("coverage")
        low[name] = {
            "recent_predictions": len(shown),
            "recent_low_confidence_share": rate(unsure, len(shown)),
            "training_abstention_share": round(1 - coverage, 4) if coverage is not None else None,
        }
    vocabulary = {}
    if bundle.classifiers:
        words_known, words = _words(bundle)
        recent_tickets = list(session.scalars(select(Ticket).where(Ticket.created_at >= as_utc(cutoff))))
        sample = list(bundle.tickets)[-500:]
        trained = list(session.scalars(select(Ticket).where(Ticket.id.in_(sample)))) if sample else []
        vocabulary = {
            "recent": _unseen([ticket_text(t.subject, t.body) for t in recent_tickets], words_known, words),
            "training_window": _unseen([ticket_text(t.subject, t.body) for t in trained], words_known, words),
        }
    return {"since": cutoff.isoformat(), "low_confidence": low, "vocabulary": vocabulary}


def prediction_report(
    session: Session,
    bundle: LoadedBundle | None,
    *,
    since: datetime | None = None,
    bucket: str = "day",
    recent_days: float = 7.0,
    low_confidence: float = 0.5,
) -> dict[str, Any]:
    """Acceptance and override rates per field, per bundle version and per time bucket; abstention rate
    per field and version; and drift of the last ``recent_days`` against ``bundle``'s training window
    (share of low-confidence predictions, share of words the bundle never saw)."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    feedback_query = select(Feedback).order_by(Feedback.id)
    suggestion_query = select(Suggestion).where(Suggestion.ticket_id.is_not(None))
    if since is not None:
        feedback_query = feedback_query.where(Feedback.created_at >= since)
        suggestion_query = suggestion_query.where(Suggestion.created_at >= since)
    feedback = list(session.scalars(feedback_query))
    by_field: dict[str, list[Feedback]] = defaultdict(list)
    by_version: dict[tuple[str, str], list[Feedback]] = defaultdict(list)
    by_time: dict[tuple[str, str], list[Feedback]] = defaultdict(list)
    for row in feedback:
        by_field[row.field].append(row)
        by_version[(row.field, row.bundle_version or "none")].append(row)
        by_time[(time_bucket(row.created_at, bucket), row.field)].append(row)

    abstained: Counter = Counter()
    predicted: Counter = Counter()
    for suggestion in session.scalars(suggestion_query):
        for name, prediction in (suggestion.predictions or {}).items():
            if prediction.get("status") in ("ok", "abstained"):
                key = (name, suggestion.bundle_version or "none")
                predicted[key] += 1
                abstained[key] += prediction["status"] == "abstained"

    names = dict.fromkeys([*field_names(session), *by_field])  # the fields in force, then any dropped since
    return {
        "since": since.isoformat() if since else None,
        "bucket": bucket,
        "fields": {name: _acceptance(by_field.get(name, [])) for name in names},
        "versions": [
            {"field": name, "bundle_version": version, **_acceptance(rows)}
            for (name, version), rows in sorted(by_version.items())
        ],
        "over_time": [
            {"bucket": when, "field": name, **_acceptance(rows)} for (when, name), rows in sorted(by_time.items())
        ],
        "abstention": [
            {
                "field": name,
                "bundle_version": version,
                "predictions": predicted[(name, version)],
                "abstained": abstained[(name, version)],
                "abstention_rate": rate(abstained[(name, version)], predicted[(name, version)]),
            }
            for name, version in sorted(predicted)
        ],
        "drift": _drift(session, bundle, utcnow() - timedelta(days=recent_days), low_confidence) if bundle else None,
    }
