"""A ticket's SLA clock: due times from the target, pauses while pending, and its state at a moment.

The clock counts business time of the policy's calendar from the ticket's creation. Waiting for the
customer (``pending``) pauses the resolution clock; the business time paused is added to the resolution
due time when the clock resumes. First response is never paused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.base import as_utc
from models.sla import TicketSla
from triage.sla.policy import SlaPolicy, Target
from triage.sla.risk import ResolutionEstimate

__all__ = (
    "FIRST_RESPONSE_WARNING",
    "apply_target",
    "current_state",
    "elapsed_seconds",
    "refresh_state",
    "set_due",
    "sla_view",
    "state_at",
)

FIRST_RESPONSE_WARNING = 0.25  # no first response with this share of its target left: at risk


def _t(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment else None


def apply_target(row: TicketSla, policy: SlaPolicy, target: Target | None, created_at: datetime) -> None:
    """Set ``row``'s target and its due times."""
    row.first_response_minutes = target.first_response_minutes if target else None
    row.resolution_minutes = target.resolution_minutes if target else None
    set_due(row, policy, created_at)


def set_due(row: TicketSla, policy: SlaPolicy, created_at: datetime) -> None:
    """Compute ``row``'s due times from its target (the paused time so far pushes the resolution due time)."""
    calendar, created = policy.calendar, as_utc(created_at)
    first, resolution = row.first_response_minutes, row.resolution_minutes
    row.first_response_due = calendar.add(created, first * 60) if first else None
    row.resolution_due = calendar.add(created, resolution * 60 + (row.paused_seconds or 0.0)) if resolution else None


def elapsed_seconds(row: TicketSla, policy: SlaPolicy, created_at: datetime, now: datetime) -> float:
    """Business seconds on the resolution clock at ``now`` (paused time left out)."""
    end = _t(row.stopped_at) or now
    paused_since = _t(row.paused_at)
    if paused_since and paused_since < end:
        end = paused_since
    return max(0.0, policy.calendar.between(as_utc(created_at), end) - (row.paused_seconds or 0.0))


def _first_response_state(row: TicketSla, policy: SlaPolicy, created_at: datetime, now: datetime) -> str | None:
    due, done = _t(row.first_response_due), _t(row.first_response_at)
    if due is None:
        return None
    if done is not None:
        return "breached" if done > due else "met"
    if _t(row.stopped_at) is not None:
        return None  # resolved or closed without a recorded reply: nothing to judge
    if now > due:
        return "breached"
    left = policy.calendar.between(now, due)
    return "at_risk" if left <= FIRST_RESPONSE_WARNING * row.first_response_minutes * 60 else "on_track"


def state_at(
    row: TicketSla, policy: SlaPolicy, created_at: datetime, resolved: bool, now: datetime
) -> tuple[str, float | None]:
    """The clock's state and breach probability at ``now``, ``row`` left as it is.

    ``resolved`` says whether the ticket was resolved (a stopped clock of a ticket closed unresolved is
    ``closed``)."""
    if row.first_response_minutes is None and row.resolution_minutes is None:
        return "none", None
    first = _first_response_state(row, policy, created_at, now)
    elapsed = elapsed_seconds(row, policy, created_at, now)
    target = row.resolution_minutes * 60 if row.resolution_minutes else None
    breached = (target is not None and elapsed > target) or first == "breached"
    if _t(row.stopped_at) is not None:
        return ("breached" if breached else "met" if resolved else "closed"), None
    probability = ResolutionEstimate.from_dict(row.estimate).miss_probability(target, elapsed) if target else None
    if breached:
        return "breached", probability
    if row.paused_at is not None:
        return "paused", probability
    if first == "at_risk" or (probability or 0.0) >= policy.at_risk_probability:
        return "at_risk", probability
    return "on_track", probability


def current_state(row: TicketSla, policy: SlaPolicy, created_at: datetime, now: datetime) -> tuple[str, float | None]:
    """The state and breach probability to show: a running clock's as it is at ``now`` (nothing written), a
    stopped clock's as stored."""
    if row.stopped_at is None:
        return state_at(row, policy, created_at, False, now)
    return row.state, row.breach_probability


def refresh_state(row: TicketSla, policy: SlaPolicy, created_at: datetime, resolved: bool, now: datetime) -> str:
    """Store the state and breach probability at ``now`` on ``row`` (see :func:`state_at`); returns the state."""
    row.state, row.breach_probability = state_at(row, policy, created_at, resolved, now)
    return row.state


def sla_view(
    row: TicketSla | None, policy: SlaPolicy | None, created_at: datetime, now: datetime
) -> dict[str, Any] | None:
    """A ticket's SLA as the API shows it: the priority it was computed from (set or predicted), due
    times, first response, pause, state, breach probability and the time-to-resolution estimate in hours."""
    if row is None:
        return None
    state, probability = current_state(row, policy, created_at, now) if policy else (row.state, row.breach_probability)
    estimate = ResolutionEstimate.from_dict(row.estimate)
    hours = {k: round(v / 3600, 2) if v is not None else None for k, v in estimate.quantiles().items()}
    elapsed = elapsed_seconds(row, policy, created_at, now) if policy else None
    return {
        "policy_version": row.policy_id,
        "priority": row.priority,
        "priority_source": row.priority_source,
        "requester_group": row.requester_group,
        "first_response_minutes": row.first_response_minutes,
        "resolution_minutes": row.resolution_minutes,
        "first_response_due": _t(row.first_response_due),
        "resolution_due": None if row.paused_at else _t(row.resolution_due),
        "first_response_at": _t(row.first_response_at),
        "paused": row.paused_at is not None,
        "paused_since": _t(row.paused_at),
        "state": state,
        "breach_probability": probability,
        "elapsed_business_hours": round(elapsed / 3600, 2) if elapsed is not None else None,
        "resolution_estimate_hours": {**hours, "neighbours": estimate.neighbours} if estimate.samples else None,
    }
