"""Backfill: page through a helpdesk's resolved tickets into our history (with their final labels and
resolutions, translated by the connector's mapping) and embed them as they are stored, so the next
training learns from them. Resumable (the cursor is saved after each page is committed) and idempotent (a
ticket whose helpdesk id is stored already is skipped)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.db import session_scope
from triage.channels.connectors.history import history_values
from triage.channels.connectors.kinds import connector_class
from triage.channels.connectors.registry import Labels, build_connector, get_connector
from triage.desk.ingest import ingest_tickets
from triage.ml.embedding_cache import EmbeddingCache
from triage.ml.encoder import Encoder
from triage.text.redaction import Redactor

__all__ = ("backfill",)


def backfill(
    sessions: sessionmaker[Session],
    name: str,
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    redactor: Redactor | None = None,
    restart: bool = False,
    max_pages: int | None = None,
    timeout: float = 30.0,
    progress: Callable[[Counter[str]], None] = lambda counts: None,
) -> dict[str, Any]:
    """Import the connector ``name``'s resolved tickets from where the last backfill stopped (from the
    start with ``restart``), at most ``max_pages`` pages. Returns the counts (``created``, ``skipped``,
    ``embedded``, ``pages``), whether the helpdesk has no more (``finished``) and the rate."""
    with session_scope(sessions) as session:
        row = get_connector(session, name)
        session.expunge(row)
    labels = Labels(row, connector_class(row.kind))
    cursor = None if restart else row.backfill_cursor
    before = 0 if restart else int((row.backfill_state or {}).get("created", 0))
    counts: Counter[str] = Counter()
    started, finished = time.monotonic(), False
    connector = build_connector(row, timeout=timeout)
    try:
        while max_pages is None or counts["pages"] < max_pages:
            page = connector.resolved_tickets(cursor)
            parsed = [history_values(row.name, row.kind, t, labels) for t in page.tickets if t.subject or t.body]
            counts.update(ingest_tickets(sessions, parsed, encoder, cache, redactor=redactor))
            counts["pages"] += 1
            finished = page.cursor is None
            cursor = page.cursor or cursor  # at the end, the last page's cursor: the next run picks up there
            _save(sessions, name, cursor, before + counts["created"], finished)
            progress(counts)
            if finished:
                break
    finally:
        connector.close()
    seconds = time.monotonic() - started
    return {
        **{k: counts.get(k, 0) for k in ("created", "skipped", "embedded", "pages")},
        "finished": finished,
        "seconds": round(seconds, 2),
        "tickets_per_second": round((counts["created"] + counts["skipped"]) / seconds, 1) if seconds else None,
    }


def _save(sessions: sessionmaker[Session], name: str, cursor: str | None, created: int, finished: bool) -> None:
    """Where the backfill got to, in the connector's row (after the page's tickets were committed)."""
    with session_scope(sessions) as session:
        row = get_connector(session, name)
        row.backfill_cursor = cursor
        row.backfill_state = {"created": created, "finished": finished, "at": utcnow().isoformat()}
