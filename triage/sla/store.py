"""The SLA policy in force and every ticket's clock, kept in the database: saving a policy, starting a
clock at intake (from the set priority, or the predicted one when none is set), and moving it on the
ticket's events (priority or category changed, pending, reopened, first response, resolved, closed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Suggestion, Ticket
from models.base import as_utc, utcnow
from models.sla import SlaPolicyVersion, TicketSla
from triage.sla.clock import apply_target, elapsed_seconds, refresh_state, set_due
from triage.sla.policy import SlaPolicy, parse_policy
from triage.sla.risk import estimate_resolution

__all__ = (
    "PRIOR_SIZE",
    "active_policy",
    "clock_of",
    "predicted_priority",
    "record_first_response",
    "retarget",
    "save_policy",
    "start_clock",
    "ticket_status_changed",
)

PRIOR_SIZE = 500  # the same priority's most recent resolved tickets that back up the neighbours
_parsed: dict[int, SlaPolicy] = {}  # policy versions are immutable: parse each once per process


def active_policy(session: Session) -> tuple[SlaPolicyVersion, SlaPolicy] | None:
    """The newest saved policy version and its parsed form, or None before any policy is saved."""
    row = session.scalar(select(SlaPolicyVersion).order_by(SlaPolicyVersion.id.desc()).limit(1))
    if row is None:
        return None
    if row.id not in _parsed:
        _parsed[row.id] = parse_policy(row.document)
    return row, _parsed[row.id]


def clock_of(session: Session, ticket_id: int) -> TicketSla | None:
    """A ticket's SLA row, if its clock was started."""
    return session.get(TicketSla, ticket_id)


def predicted_priority(session: Session, ticket_id: int) -> str | None:
    """The priority the ticket's latest suggestion predicted: the committed label, else the most probable."""
    row = session.scalar(
        select(Suggestion).where(Suggestion.ticket_id == ticket_id).order_by(Suggestion.id.desc()).limit(1)
    )
    prediction = (row.predictions or {}).get("priority") if row else None
    if not prediction:
        return None
    return prediction.get("label") or (prediction.get("top") or {}).get("label")


def _estimate(session: Session, priority: str | None, neighbours: Sequence[tuple[int, float]]) -> dict[str, Any]:
    """The resolution-time sample for a ticket from its neighbours' and its priority's resolved clocks."""
    ids = [ticket_id for ticket_id, _ in neighbours]
    known = (
        dict(
            session.execute(
                select(TicketSla.ticket_id, TicketSla.resolution_seconds).where(
                    TicketSla.ticket_id.in_(ids), TicketSla.resolution_seconds.is_not(None)
                )
            ).all()
        )
        if ids
        else {}
    )
    near = [(known[i], s) for i, s in neighbours if i in known]
    prior = list(
        session.scalars(
            select(TicketSla.resolution_seconds)
            .where(TicketSla.priority == priority, TicketSla.resolution_seconds.is_not(None))
            .order_by(TicketSla.ticket_id.desc())
            .limit(PRIOR_SIZE)
        )
    )
    links = [[ticket_id, round(similarity, 4)] for ticket_id, similarity in neighbours]
    return estimate_resolution(near, prior).to_dict() | {"neighbour_ids": links}


def _stop(row: TicketSla, policy: SlaPolicy, ticket: Ticket, at: datetime) -> None:
    row.stopped_at = at
    row.paused_at = None
    if ticket.status == "resolved":
        row.resolution_seconds = elapsed_seconds(row, policy, ticket.created_at, at)


def start_clock(
    session: Session,
    ticket: Ticket,
    *,
    neighbours: Sequence[tuple[int, float]] = (),
    now: datetime | None = None,
    active: tuple[SlaPolicyVersion, SlaPolicy] | None = None,
) -> TicketSla | None:
    """Start ``ticket``'s clock under the policy in force (none saved: no clock). The priority is the
    ticket's own, else the predicted one (recorded as predicted); ``neighbours`` (ticket id, similarity)
    are the resolved tickets most like it, for the breach-risk estimate."""
    active = active or active_policy(session)
    if active is None:
        return None
    version, policy = active
    now = now or utcnow()
    priority, source = ticket.priority, "set"
    if not priority:
        priority, source = predicted_priority(session, ticket.id), "predicted"
    row = TicketSla(
        ticket_id=ticket.id,
        policy_id=version.id,
        priority=priority,
        priority_source=source,
        requester_group=policy.group_of(ticket.requester),
        paused_seconds=0.0,
        estimate={},
    )
    apply_target(row, policy, policy.target_for(priority, ticket.category, ticket.requester), ticket.created_at)
    finished = ticket.status in ("resolved", "closed")
    known = ticket.resolved_at is not None  # history resolved with no time: the outcome cannot be judged
    if finished:
        _stop(row, policy, ticket, as_utc(ticket.resolved_at or ticket.created_at))
        if not known:
            row.resolution_seconds = None
    else:
        row.estimate = _estimate(session, priority, neighbours)
        if ticket.status == "pending":
            row.paused_at = now
    session.add(row)
    refresh_state(row, policy, ticket.created_at, ticket.status == "resolved" and known, now)
    return row


def retarget(session: Session, ticket: Ticket, *, priority_set: bool, now: datetime | None = None) -> None:
    """Recompute the target and due times after the ticket's priority or category changed (an agent's
    priority replaces a predicted one) or a new policy was saved."""
    row, active = clock_of(session, ticket.id), active_policy(session)
    if row is None or active is None:
        return
    version, policy = active
    now = now or utcnow()
    if priority_set and ticket.priority:
        changed = ticket.priority != row.priority
        row.priority, row.priority_source = ticket.priority, "set"
        if changed and row.stopped_at is None:
            neighbours = [(int(n[0]), float(n[1])) for n in (row.estimate or {}).get("neighbour_ids", [])]
            row.estimate = _estimate(session, row.priority, neighbours)
    row.policy_id = version.id
    row.requester_group = policy.group_of(ticket.requester)
    apply_target(row, policy, policy.target_for(row.priority, ticket.category, ticket.requester), ticket.created_at)
    refresh_state(row, policy, ticket.created_at, ticket.status == "resolved", now)


def ticket_status_changed(session: Session, ticket: Ticket, before: str, now: datetime | None = None) -> None:
    """Pause the clock when the ticket waits for the customer, resume it when it comes back, stop it when
    the ticket is resolved or closed, and carry on (the resolved time paused) when it is reopened."""
    row, active = clock_of(session, ticket.id), active_policy(session)
    if row is None or active is None or before == ticket.status:
        return
    policy, now = active[1], now or utcnow()
    calendar, after = policy.calendar, ticket.status
    if row.paused_at is not None and after != "pending":
        row.paused_seconds = (row.paused_seconds or 0.0) + calendar.between(as_utc(row.paused_at), now)
        row.paused_at = None
    if before in ("resolved", "closed") and row.stopped_at is not None and after not in ("resolved", "closed"):
        row.paused_seconds = (row.paused_seconds or 0.0) + calendar.between(as_utc(row.stopped_at), now)
        row.stopped_at, row.resolution_seconds = None, None
    if after == "pending" and row.paused_at is None:
        row.paused_at = now
    if after in ("resolved", "closed") and row.stopped_at is None:
        _stop(row, policy, ticket, now)
    set_due(row, policy, ticket.created_at)
    refresh_state(row, policy, ticket.created_at, after == "resolved", now)


def record_first_response(session: Session, ticket: Ticket, at: datetime) -> None:
    """An agent answered the requester at ``at``: the first one stops the first-response clock."""
    row, active = clock_of(session, ticket.id), active_policy(session)
    if row is None or active is None or row.first_response_at is not None:
        return
    row.first_response_at = at
    refresh_state(row, active[1], ticket.created_at, ticket.status == "resolved", utcnow())


def save_policy(session: Session, document: Any, actor: str | None, now: datetime | None = None) -> SlaPolicyVersion:
    """Check and save a new policy version; open tickets are re-targeted under it and tickets without a
    clock get one. Every check runs before anything is written, so a bad document saves nothing."""
    policy = parse_policy(document)
    version = SlaPolicyVersion(document=policy.to_dict(), actor=actor)
    session.add(version)
    session.flush()
    _parsed[version.id] = policy
    now = now or utcnow()
    active = (version, policy)
    query = (
        select(Ticket, TicketSla.ticket_id)
        .outerjoin(TicketSla, TicketSla.ticket_id == Ticket.id)
        .where(or_(TicketSla.ticket_id.is_(None), Ticket.status.not_in(("resolved", "closed"))))
        .order_by(Ticket.id)
    )
    for ticket, clocked in session.execute(query).all():
        if clocked is None:
            start_clock(session, ticket, now=now, active=active)
        elif ticket.status not in ("resolved", "closed"):
            retarget(session, ticket, priority_set=False, now=now)
    session.flush()
    return version
