"""Watching the clocks: refresh every open ticket's SLA state, send ``sla.at_risk`` and ``sla.breached``
once per ticket, list tickets by state, and report attainment per priority and week."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import Ticket
from models.base import time_bucket, utcnow
from models.outbox import emit_event
from models.sla import TicketSla
from triage.sla.clock import current_state, refresh_state, sla_view
from triage.sla.store import active_policy, clock_of

__all__ = ("WATCH_STATES", "attainment", "list_sla_tickets", "sla_badges", "ticket_sla", "watch_clocks")

WATCH_STATES = ("at_risk", "breached", "on_track", "paused")
_RUNNING = ("on_track", "at_risk", "paused", "breached")


def _event(session: Session, kind: str, ticket: Ticket, row: TicketSla, policy, now: datetime) -> None:
    view = sla_view(row, policy, ticket.created_at, now) or {}
    payload = {
        "ticket": {
            "id": ticket.id,
            "external_id": ticket.external_id,
            "subject": ticket.subject,
            "status": ticket.status,
            "category": ticket.category,
            "priority": ticket.priority,
            "assignee": ticket.assignee,
        },
        "sla": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in view.items()},
    }
    emit_event(session, kind, payload, subject=f"ticket:{ticket.id}")


def _claim(session: Session, row: TicketSla, column, now: datetime) -> bool:
    """Mark ``column`` (when the event was sent) on ``row`` unless another process already did: the
    conditional update lets one watcher of many send each event."""
    claimed = session.execute(
        update(TicketSla)
        .where(TicketSla.ticket_id == row.ticket_id, column.is_(None))
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    setattr(row, column.key, now)
    return True


def watch_clocks(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Refresh the state of every running clock at ``now``; a ticket entering ``at_risk`` or ``breached``
    for the first time sends that event (in this transaction). Returns the count per state."""
    active = active_policy(session)
    counts: dict[str, int] = defaultdict(int)
    if active is None:
        return {}
    policy, now = active[1], now or utcnow()
    query = (
        select(TicketSla, Ticket)
        .join(Ticket, Ticket.id == TicketSla.ticket_id)
        .where(TicketSla.stopped_at.is_(None), TicketSla.state.in_(_RUNNING))
    )
    for row, ticket in session.execute(query).all():
        state = refresh_state(row, policy, ticket.created_at, False, now)
        counts[state] += 1
        if state == "at_risk" and row.at_risk_at is None and _claim(session, row, TicketSla.at_risk_at, now):
            _event(session, "sla.at_risk", ticket, row, policy, now)
        if state == "breached" and row.breached_at is None and _claim(session, row, TicketSla.breached_at, now):
            _event(session, "sla.breached", ticket, row, policy, now)
    session.flush()
    return dict(counts)


def ticket_sla(session: Session, ticket: Ticket, now: datetime | None = None) -> dict[str, Any] | None:
    """A ticket's SLA as of ``now``, or None when it has no clock (computed, not stored: :func:`watch_clocks`
    stores states and sends events)."""
    row, active = clock_of(session, ticket.id), active_policy(session)
    if row is None or active is None:
        return None
    return sla_view(row, active[1], ticket.created_at, now or utcnow())


def sla_badges(session: Session, tickets: list[Ticket], now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """For a page of tickets: each clocked one's state, resolution due time and breach probability."""
    active = active_policy(session)
    if active is None or not tickets:
        return {}
    now, by_id = now or utcnow(), {t.id: t for t in tickets}
    out = {}
    for row in session.scalars(select(TicketSla).where(TicketSla.ticket_id.in_(by_id))):
        state, probability = current_state(row, active[1], by_id[row.ticket_id].created_at, now)
        due = None if row.paused_at else row.resolution_due
        out[row.ticket_id] = {"state": state, "resolution_due": due, "breach_probability": probability}
    return out


def list_sla_tickets(
    session: Session, state: str | None, *, limit: int = 50, offset: int = 0, now: datetime | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Open tickets with a running clock, in ``state`` (any when None), soonest resolution due first,
    after refreshing every clock; returns the page and the total."""
    watch_clocks(session, now)
    active = active_policy(session)
    if active is None:
        return [], 0
    where = [TicketSla.stopped_at.is_(None), TicketSla.state.in_((state,) if state else WATCH_STATES)]
    total = session.scalar(select(func.count()).select_from(TicketSla).where(*where)) or 0
    query = (
        select(TicketSla, Ticket)
        .join(Ticket, Ticket.id == TicketSla.ticket_id)
        .where(*where)
        .order_by(TicketSla.resolution_due.is_(None), TicketSla.resolution_due, TicketSla.ticket_id)
        .limit(limit)
        .offset(offset)
    )
    now = now or utcnow()
    items = [
        {
            "id": ticket.id,
            "external_id": ticket.external_id,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "assignee": ticket.assignee,
            "created_at": ticket.created_at,
            "sla": sla_view(row, active[1], ticket.created_at, now),
        }
        for row, ticket in session.execute(query).all()
    ]
    return items, total


def attainment(session: Session, weeks: int = 12, now: datetime | None = None) -> dict[str, Any]:
    """The share of tickets that met their targets, per priority and ISO week of creation, over the last
    ``weeks`` weeks with a decided outcome (met, or breached whether resolved or not)."""
    watch_clocks(session, now)
    query = (
        select(Ticket.created_at, TicketSla.priority, TicketSla.state)
        .join(Ticket, Ticket.id == TicketSla.ticket_id)
        .where(TicketSla.state.in_(("met", "breached")))
    )
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for created, priority, state in session.execute(query).all():
        cell = cells[(time_bucket(created, "week"), priority or "(none)")]
        cell[0] += state == "met"
        cell[1] += 1
    recent = sorted({week for week, _ in cells})[-weeks:]
    rows = [
        {"week": week, "priority": priority, "met": met, "tickets": n, "attainment": round(met / n, 4)}
        for (week, priority), (met, n) in sorted(cells.items())
        if week in recent
    ]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals[row["priority"]][0] += row["met"]
        totals[row["priority"]][1] += row["tickets"]
    overall = [
        {"priority": p, "met": m, "tickets": n, "attainment": round(m / n, 4)} for p, (m, n) in sorted(totals.items())
    ]
    return {"weeks": recent, "rows": rows, "by_priority": overall}
