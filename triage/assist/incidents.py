"""Incident spikes: groups of similar tickets arriving faster than such tickets usually do.

Tickets created in the recent window are grouped by average-linkage clustering on their embeddings. A
group is a candidate when it has at least ``min_size`` tickets and its rate is at least ``min_ratio``
times the baseline: the rate of tickets as similar to the group's centre in the ``baseline_days``
before the window (at least one such ticket is assumed, so a brand-new topic needs the size alone).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import IncidentEvent, Ticket
from models.base import utcnow
from models.outbox import emit_event
from triage.text.redaction import DEFAULT_REDACTOR

__all__ = ("SpikeSettings", "incident_out", "list_incidents", "record_incidents", "spike_candidates")


@dataclass(frozen=True)
class SpikeSettings:
    """When a group of similar tickets counts as a spike."""

    window_hours: float = 1.0
    baseline_days: float = 14.0
    similarity: float = 0.55
    min_size: int = 5
    min_ratio: float = 3.0


def _tickets(session: Session, since: datetime, until: datetime) -> Sequence[Ticket]:
    return session.scalars(
        select(Ticket)
        .where(Ticket.created_at >= since, Ticket.created_at < until, Ticket.erased_at.is_(None))
        .order_by(Ticket.id)
    ).all()


def _groups(vectors: np.ndarray, similarity: float) -> list[list[int]]:
    if len(vectors) < 2:
        return [[i] for i in range(len(vectors))]
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=1.0 - similarity
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    return list(groups.values())


def spike_candidates(
    session: Session,
    vectors_of: Callable[[Sequence[Ticket]], np.ndarray],
    *,
    now: datetime | None = None,
    settings: SpikeSettings = SpikeSettings(),
) -> list[dict[str, Any]]:
    """The spike candidates at ``now`` (default: the current time), biggest first: size, rate against
    the baseline, a representative subject and the member ids."""
    now = now or utcnow()
    start = now - timedelta(hours=settings.window_hours)
    recent = [t for t in _tickets(session, start, now) if t.merged_into_id is None]
    if len(recent) < settings.min_size:
        return []
    vectors = vectors_of(recent)
    groups = [g for g in _groups(vectors, settings.similarity) if len(g) >= settings.min_size]
    if not groups:
        return []
    earlier = _tickets(session, start - timedelta(days=settings.baseline_days), start)
    earlier_vectors = vectors_of(earlier) if earlier else np.zeros((0, vectors.shape[1]), dtype=np.float32)
    baseline_hours = settings.baseline_days * 24
    candidates = []
    for group in groups:
        centre = vectors[group].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        usual = int((earlier_vectors @ centre >= settings.similarity).sum()) if len(earlier) else 0
        baseline = max(usual, 1) / baseline_hours
        rate = len(group) / settings.window_hours
        if rate < settings.min_ratio * baseline:
            continue
        representative = recent[group[int(np.argmax(vectors[group] @ centre))]]
        candidates.append(
            {
                "size": len(group),
                "rate_per_hour": round(rate, 3),
                "baseline_per_hour": round(usual / baseline_hours, 4),
                "ratio": round(rate / baseline, 1),
                "representative_id": representative.id,
                "subject": representative.subject,
                "member_ids": sorted(recent[i].id for i in group),
            }
        )
    return sorted(candidates, key=lambda c: -c["size"])


def record_incidents(
    session: Session,
    candidates: Sequence[dict[str, Any]],
    *,
    now: datetime | None = None,
    redact: Callable[[str], str] = DEFAULT_REDACTOR,
) -> list[IncidentEvent]:
    """Record an event for each candidate that has not crossed the threshold yet: one whose members are
    mostly new to the events of the last day. Returns the new events; their subjects are stored redacted
    (``redact``: the deployment's redactor; built-in kinds by default)."""
    now = now or utcnow()
    known = session.scalars(select(IncidentEvent).where(IncidentEvent.at >= now - timedelta(days=1))).all()
    seen = [set(e.member_ids) for e in known]
    events = []
    for c in candidates:
        members = set(c["member_ids"])
        if any(len(members & s) * 2 >= len(members) for s in seen):
            continue
        event = IncidentEvent(
            at=now,
            representative_id=c["representative_id"],
            subject=redact(c["subject"])[:1000],
            size=c["size"],
            rate_per_hour=c["rate_per_hour"],
            baseline_per_hour=c["baseline_per_hour"],
            member_ids=c["member_ids"],
        )
        session.add(event)
        seen.append(members)
        events.append(event)
    session.flush()
    for event in events:
        payload = {**incident_out(event), "at": event.at.isoformat()}
        emit_event(session, "incident.detected", {"incident": payload}, subject=f"incident:{event.id}")
    return events


def list_incidents(session: Session, limit: int = 50) -> Sequence[IncidentEvent]:
    """The recorded incident events, newest first."""
    return session.scalars(select(IncidentEvent).order_by(IncidentEvent.id.desc()).limit(limit)).all()


def incident_out(event: IncidentEvent) -> dict[str, Any]:
    """An incident event as the API shows it."""
    return {
        "id": event.id,
        "at": event.at,
        "size": event.size,
        "rate_per_hour": event.rate_per_hour,
        "baseline_per_hour": event.baseline_per_hour,
        "representative_id": event.representative_id,
        "subject": event.subject,
        "member_ids": event.member_ids,
    }
