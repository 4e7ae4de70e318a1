"""Ticket volume by category over time (the dashboard's first chart)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Ticket
from models.base import time_bucket
from triage.analytics.predictions import BUCKETS

__all__ = ("UNCATEGORISED", "ticket_volume")

UNCATEGORISED = "(none)"


def ticket_volume(
    session: Session, *, since: datetime | None = None, bucket: str = "week", top: int = 8
) -> dict[str, Any]:
    """Tickets created per day or ISO week and category; categories beyond the ``top`` busiest are
    counted together as ``other``, tickets without a category as ``(none)``."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    query = select(Ticket.created_at, Ticket.category)
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    rows = [(time_bucket(created, bucket), category or UNCATEGORISED) for created, category in session.execute(query)]
    totals = Counter(category for _, category in rows)
    kept = sorted(totals, key=lambda category: (-totals[category], category))[:top]
    counts: dict[str, Counter] = {}
    for period, category in rows:
        counts.setdefault(period, Counter())[category if category in kept else "other"] += 1
    categories = kept + (["other"] if len(totals) > top else [])
    return {
        "bucket": bucket,
        "since": since.isoformat() if since else None,
        "categories": categories,
        "series": [
            {"period": period, "counts": dict(counts[period]), "total": sum(counts[period].values())}
            for period in sorted(counts)
        ],
        "total": len(rows),
    }
