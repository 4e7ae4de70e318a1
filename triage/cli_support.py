"""What the ``helpdesk`` commands build from the settings: database sessions and the configured encoder."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from models.audit import local_actor
from models.db import make_engine, make_session_factory
from models.settings import Settings
from triage.encoder import Encoder

__all__ = ("CLI_ACTOR", "configured_encoder", "sessions")

CLI_ACTOR = local_actor("cli")  # who runs a command, for the audit trail


def sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database (with its busy timeout)."""
    database = settings.database
    return make_session_factory(make_engine(database.url, busy_timeout_ms=database.busy_timeout_ms))


def configured_encoder(settings: Settings) -> Encoder:
    """The encoder backend and batch size the settings name, with this process's threads pinned to the
    settings' count. The PyTorch model loads on its first texts (a command whose texts are all cached
    never loads it); call ``.load()`` to load it now."""
    from triage.encoder import load_encoder
    from triage.threads import pin_threads

    threads = settings.threads_per_worker()
    pin_threads(threads)
    models = settings.models
    return load_encoder(
        models.encoder,
        batch_size=models.encode_batch_size,
        threads=threads,
        artifacts_dir=models.artifacts_dir,
        lazy=True,
    )
