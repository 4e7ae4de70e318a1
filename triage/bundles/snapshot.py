"""Training sets from resolved tickets: a time window, de-duplicated, described for the bundle manifest,
and split by time so that the newest tickets are held out for the promotion gate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Ticket
from models.base import as_utc
from models.hashing import content_hash

__all__ = ("TrainingSnapshot", "holdout_split", "resolved_at", "training_snapshot")

RESOLVED = ("resolved", "closed")


def resolved_at(ticket: Ticket) -> datetime:
    """When a ticket's labels became final (resolution time, else creation time)."""
    return ticket.resolved_at or ticket.created_at


@dataclass(frozen=True)
class TrainingSnapshot:
    """The resolved tickets a bundle learns from, oldest first, and their description."""

    tickets: list[Ticket]
    description: dict[str, Any]


def training_snapshot(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> TrainingSnapshot:
    """Resolved (or closed) tickets resolved in ``[since, until)``, oldest first; erased tickets and
    duplicates merged into another ticket are left out.

    Tickets with the same subject and body are one example: the most recently resolved copy is kept
    (its labels are the latest word). The description records the window asked for and found, the row
    count, the duplicates dropped and a hash of the ticket ids, so a bundle says exactly what it saw.
    """
    rows = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(RESOLVED), Ticket.erased_at.is_(None), Ticket.merged_into_id.is_(None))
            .order_by(Ticket.id)
        )
    )
    rows = [t for t in rows if (since is None or as_utc(resolved_at(t)) >= as_utc(since))]
    rows = [t for t in rows if (until is None or as_utc(resolved_at(t)) < as_utc(until))]
    latest: dict[str, Ticket] = {}
    for ticket in sorted(rows, key=lambda t: (as_utc(resolved_at(t)), t.id)):
        latest[ticket.content_hash] = ticket  # a later copy replaces an earlier one
    tickets = sorted(latest.values(), key=lambda t: (as_utc(resolved_at(t)), t.id))
    times = [as_utc(resolved_at(t)) for t in tickets]
    description = {
        "rows": len(tickets),
        "duplicates_dropped": len(rows) - len(tickets),
        "id_hash": content_hash(*(str(t.id) for t in tickets)),
        "window": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "first_resolved": times[0].isoformat() if times else None,
            "last_resolved": times[-1].isoformat() if times else None,
        },
    }
    return TrainingSnapshot(tickets=tickets, description=description)


def holdout_split(n_rows: int, fraction: float, *, min_rows: int = 50) -> tuple[range, range]:
    """(train, held-out) positions of a time-ordered snapshot: the newest ``fraction`` is held out.

    Below ``min_rows`` rows nothing is held out (there is too little to learn from and to judge).
    """
    if n_rows < min_rows or fraction <= 0:
        return range(n_rows), range(n_rows, n_rows)
    cut = n_rows - max(1, math.ceil(n_rows * fraction))
    return range(cut), range(cut, n_rows)
