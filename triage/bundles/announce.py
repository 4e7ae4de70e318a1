"""``bundle.promoted`` and ``bundle.rolled_back`` in the outbox, in the transaction that flips the active
version."""

from __future__ import annotations

from sqlalchemy.orm import Session

from models.audit import Actor
from models.outbox import emit_event

__all__ = ("announce_activation",)


def announce_activation(
    session: Session,
    event_type: str,
    kind: str,
    version: str,
    previous: str | None,
    actor: Actor | None,
    *,
    forced: bool = False,
) -> None:
    """Tell webhook subscribers that ``version`` of ``kind`` is now served instead of ``previous``."""
    data = {"kind": kind, "version": version, "previous_version": previous, "actor": actor.name if actor else None}
    if event_type == "bundle.promoted":
        data["forced"] = forced
    emit_event(session, event_type, data, subject=f"bundle:{kind}")
