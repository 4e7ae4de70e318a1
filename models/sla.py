"""SLA policies (each saved version kept) and each ticket's SLA clock: the target that applies, due times,
pauses, first response and resolution, the breach-risk estimate and the state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("SLA_STATES", "SlaPolicyVersion", "TicketSla")

# on_track, at_risk and breached are open tickets; met and breached closed ones; paused waits for the
# customer; none: the policy promises nothing for the ticket's priority; closed: closed unresolved
SLA_STATES = ("on_track", "at_risk", "breached", "paused", "met", "none", "closed")


class SlaPolicyVersion(Base):
    """One saved SLA policy document; the newest is in force."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketSla(Base):
    """A ticket's SLA clock under the policy version that started (or last re-targeted) it."""

    __tablename__ = "ticket_sla"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"), index=True)
    priority: Mapped[str | None] = mapped_column(String(50), index=True)
    priority_source: Mapped[str] = mapped_column(String(20), default="set")  # set or predicted
    requester_group: Mapped[str | None] = mapped_column(String(200))
    first_response_minutes: Mapped[float | None] = mapped_column(Float)
    resolution_minutes: Mapped[float | None] = mapped_column(Float)
    first_response_due: Mapped[datetime | None] = mapped_column()
    resolution_due: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    stopped_at: Mapped[datetime | None] = mapped_column()  # resolved or closed: the clock stopped
    paused_at: Mapped[datetime | None] = mapped_column()  # pending since
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # business seconds spent paused
    resolution_seconds: Mapped[float | None] = mapped_column(Float)  # on the clock, when resolved
    estimate: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    breach_probability: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(20), default="on_track", index=True)
    at_risk_at: Mapped[datetime | None] = mapped_column()  # first seen at risk (sla.at_risk sent)
    breached_at: Mapped[datetime | None] = mapped_column()  # first seen breached (sla.breached sent)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
