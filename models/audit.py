"""The audit trail: an append-only table of who did what and when (the database refuses updates and
deletes of its rows)."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("SYSTEM", "Actor", "AuditEvent", "list_audit", "local_actor", "record_audit")


@dataclass(frozen=True)
class Actor:
    """Who acts: an API key (its name, role and id), or a named local user of the CLI or a notebook."""

    name: str
    role: str | None = None
    key_id: int | None = None


SYSTEM = Actor("system")


def local_actor(tool: str) -> Actor:
    """Someone working on this machine with direct database access (``cli:ann``, ``notebook:ann``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment or the password database
        user = "unknown"
    return Actor(f"{tool}:{user}")


class AuditEvent(Base):
    """One thing someone did. ``detail`` holds ids and versions, never personal text."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    key_id: Mapped[int | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


def record_audit(
    session: Session, actor: Actor | None, action: str, target: str | None = None, **detail: Any
) -> AuditEvent:
    """Add an audit event to ``session`` (it commits with the change it records)."""
    actor = actor or SYSTEM
    event = AuditEvent(
        actor=actor.name, role=actor.role, key_id=actor.key_id, action=action, target=target, detail=detail
    )
    session.add(event)
    return event


def list_audit(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Audit events matching every given filter, newest first (``action`` ending in ``.`` matches a
    prefix, e.g. ``model.``), and how many match in all."""
    conditions = []
    if actor:
        conditions.append(AuditEvent.actor == actor)
    if action:
        conditions.append(AuditEvent.action.startswith(action) if action.endswith(".") else AuditEvent.action == action)
    if target:
        conditions.append(AuditEvent.target == target)
    if since:
        conditions.append(AuditEvent.at >= since)
    if until:
        conditions.append(AuditEvent.at < until)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEvent).where(*conditions).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total
