"""What the ``helpdesk`` commands build from the settings: database sessions, and who runs them (the
encoder comes from :func:`triage.encoders.configured_encoder`)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from models.audit import local_actor
from models.db import make_engine, make_session_factory
from models.settings import Settings

__all__ = ("CLI_ACTOR", "sessions")

CLI_ACTOR = local_actor("cli")  # who runs a command, for the audit trail


def sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database (with its busy timeout)."""
    database = settings.database
    return make_session_factory(make_engine(database.url, busy_timeout_ms=database.busy_timeout_ms))
