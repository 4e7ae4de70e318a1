"""Bulk ingest: import a ticket history and embed it in the same run, the encoder never waiting on the
database. Rows are validated first (all or none); then one thread encodes the tickets' texts into the
embedding cache while this one writes the rows, so training, duplicate detection and incident
baselines find every vector ready. The rows are committed as soon as they are written, before waiting
for the encoder: a SQLite write lock held while a slow encoder runs would lock out every other writer.
``helpdesk bench`` compares the end-to-end rate with the encoder's own rate on the same texts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.db import session_scope
from triage.desk.ticket_import import store_tickets
from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import Encoder
from triage.text.redaction import Redactor, subject_body_texts

__all__ = ("ingest_texts", "ingest_tickets")


def ingest_texts(parsed: Sequence[Mapping[str, Any]], redactor: Redactor | None = None) -> list[str]:
    """The texts :func:`ingest_tickets` embeds for parsed rows: the redacted texts training encodes."""
    return subject_body_texts([(values["subject"], values["body"]) for values in parsed], redactor)


def ingest_tickets(
    sessions: sessionmaker[Session],
    parsed: Sequence[Mapping[str, Any]],
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    redactor: Redactor | None = None,
    progress: Callable[[Iterable], Iterable] = iter,
) -> Counter[str]:
    """Store tickets parsed by :func:`triage.desk.ticket_import.parse_tickets` (see ``store_tickets``) in one
    transaction of its own, and embed their redacted texts, the ones training encodes, into ``cache``.
    Returns the store's counts plus ``embedded``: how many distinct texts the cache lacked and were
    encoded now. A failure of the encoder after the commit leaves the rows stored; the cache only misses
    vectors, which training encodes when it needs them."""
    texts = ingest_texts(parsed, redactor)
    started: list[tuple[int, int]] = []  # encode_cached's first report: (already cached, distinct texts)

    def note(done: int, total: int) -> None:
        if not started:
            started.append((done, total))

    with ThreadPoolExecutor(1, thread_name_prefix="ingest-encoder") as pool:
        encoding = pool.submit(encode_cached, encoder, texts, cache, progress=note)
        with session_scope(sessions) as session:
            counts = store_tickets(session, parsed, progress=progress)
        encoding.result()
    cached, distinct = started[0] if started else (0, 0)
    counts["embedded"] = distinct - cached
    return counts
