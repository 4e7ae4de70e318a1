"""Recent open tickets, which the new-kind check compares a ticket with besides the resolved history.

A new kind of ticket rarely comes alone. Open tickets were never learned from, so a ticket more like
several recent open ones than like anything resolved is more likely the start of a new kind (see
:mod:`triage.ml.novelty`), and its reason names them. A serving process keeps their ids and vectors and
reads them again at most every ``refresh_seconds``; each ticket is encoded once, through the embedding
cache training shares, with its words, which tell a resend with a word more or less from a second ticket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models import Ticket
from models.base import utcnow
from models.db import session_scope
from triage.assist.duplicates import live_open_tickets, text_vectors
from triage.ml.embedding_cache import EmbeddingCache
from triage.ml.encoder import Encoder
from triage.ml.novelty import OpenTickets, word_set
from triage.text.redaction import Redactor, ticket_texts

__all__ = ("RecentTickets", "recent_open_tickets")

log = logging.getLogger(__name__)


def recent_open_tickets(session: Session, days: float, limit: int) -> list[Ticket]:
    """Open tickets created in the last ``days`` (newest first, at most ``limit``); merged and erased
    tickets are left out."""
    return list(
        session.scalars(
            select(Ticket)
            .where(*live_open_tickets(), Ticket.created_at >= utcnow() - timedelta(days=days))
            .order_by(Ticket.id.desc())
            .limit(limit)
        )
    )


class RecentTickets:
    """Recent open tickets (:class:`~triage.ml.novelty.OpenTickets`), read again when older than
    ``refresh_seconds``."""

    def __init__(self, days: float = 7.0, *, limit: int = 2000, refresh_seconds: float = 30.0) -> None:
        self.days = days
        self.limit = limit
        self.refresh_seconds = refresh_seconds
        self._held: OpenTickets | None = None
        self._read_at = float("-inf")
        self._refreshing = threading.Lock()  # held by the one caller reading them again

    def read(
        self,
        sessions: sessionmaker[Session],
        encode: Callable[[list[str]], np.ndarray],
        redactor: Redactor | None = None,
    ) -> OpenTickets | None:
        """The open tickets held, read again first if they are stale (each ticket's text redacted by
        ``redactor`` once, then encoded by ``encode`` and split into its words); ``None`` when turned off
        (``days`` 0). One caller reads them again; the others meanwhile get the ones held, and wait only when
        none are held yet. A failed read keeps the ones held: suggestions never fail for it."""
        if self.days <= 0:
            return None
        if self._stale() and self._refreshing.acquire(blocking=self._held is None):
            try:
                if self._stale():  # another caller may have read them while this one waited
                    self._refresh(sessions, encode, redactor)
            finally:
                self._refreshing.release()
        return self._held

    def _stale(self) -> bool:
        return time.monotonic() - self._read_at >= self.refresh_seconds

    def _refresh(
        self, sessions: sessionmaker[Session], encode: Callable[[list[str]], np.ndarray], redactor: Redactor | None
    ) -> None:
        try:
            with session_scope(sessions) as session:
                tickets = recent_open_tickets(session, self.days, self.limit)
                ids = np.array([t.id for t in tickets], dtype=np.int64)
                texts = ticket_texts(tickets, redactor)
                words = tuple(word_set(text) for text in texts)
                self._held = OpenTickets(ids, encode(texts), words)  # readers see the old or the new
        except SQLAlchemyError as error:
            log.warning("recent open tickets not read (the new-kind check goes on without): %s", error)
        self._read_at = time.monotonic()

    def read_with(
        self, sessions: sessionmaker[Session], encoder: Encoder, cache: EmbeddingCache, redactor: Redactor
    ) -> OpenTickets | None:
        """:meth:`read`, each ticket's redacted text encoded by ``encoder`` through ``cache``."""
        return self.read(sessions, lambda texts: text_vectors(texts, encoder, cache), redactor)
