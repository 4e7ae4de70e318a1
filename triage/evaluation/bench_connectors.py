"""Connector benchmarks against a running django-helpdesk whose webhooks reach our server: the time from a
ticket's creation there (its webhook is posted while it is created) to our internal note on it, from the
helpdesk's own timestamps; and the backfill rate (tickets per second through its REST API into our
history, embedded as they are stored) against the encoder alone on the same texts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from triage.channels.connectors.backfill import backfill
from triage.channels.connectors.base import MARKER
from triage.evaluation.bench import timed
from triage.ml.embedding_cache import EmbeddingCache
from triage.ml.encoder import Encoder
from triage.text.redaction import Redactor, subject_body_texts

__all__ = ("backfill_rate", "note_latency", "resolved_history")


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _note(desk: httpx.Client, ticket_id: int) -> tuple[dict, dict] | None:
    """The ticket's first follow-up (written when it was created) and our note, once there."""
    followups = desk.get(f"tickets/{ticket_id}/").raise_for_status().json()["followup_set"]
    ours = [f for f in followups if MARKER in (f.get("comment") or "")]
    return (followups[0], ours[0]) if ours else None


def note_latency(
    desk: httpx.Client, drafts: Sequence[tuple[str, str]], queue: int, *, timeout: float = 60.0
) -> dict[str, Any]:
    """Create a ticket per ``(title, description)`` through ``desk`` (a client on the helpdesk's ``/api/``),
    one after the other, and wait for our note on each. Returns p50/p95 of creation-to-note by the
    helpdesk's clock, and of the creation request's start to the note seen by this client."""
    by_helpdesk, seen = [], []
    for title, description in drafts:
        started = time.perf_counter()
        body = {"title": title[:200], "description": description, "queue": queue, "priority": 3}
        ticket = desk.post("tickets/", json={**body, "submitter_email": "bench@example.org"}).raise_for_status().json()
        deadline = time.monotonic() + timeout
        while (found := _note(desk, ticket["id"])) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no note on ticket {ticket['id']} within {timeout:.0f} s")
            time.sleep(0.02)
        seen.append(time.perf_counter() - started)
        created, note = found
        by_helpdesk.append((_stamp(note["date"]) - _stamp(created["date"])).total_seconds())
    ms = lambda values, q: round(float(np.percentile(np.asarray(values) * 1000, q)), 1)  # noqa: E731
    return {
        "tickets": len(drafts),
        "created_to_note_p50_ms": ms(by_helpdesk, 50),
        "created_to_note_p95_ms": ms(by_helpdesk, 95),
        "request_to_note_seen_p50_ms": ms(seen, 50),
        "request_to_note_seen_p95_ms": ms(seen, 95),
    }


def resolved_history(desk: httpx.Client, rows: Sequence[dict[str, Any]], queues: Sequence[int]) -> list[int]:
    """Create and resolve a ticket per row (``title``, ``body``, ``queue`` index, ``priority`` 1-5) through
    ``desk``; returns their ids."""
    made = []
    for row in rows:
        body = {"title": row["title"][:200], "description": row["body"], "queue": queues[row["queue"] % len(queues)]}
        body |= {"priority": row["priority"], "submitter_email": "history@example.org"}
        ticket = desk.post("tickets/", json=body).raise_for_status().json()
        resolution = {"ticket": ticket["id"], "comment": f"Resolved: {row['title'][:80]}", "new_status": 3}
        desk.post("followups/", json=resolution).raise_for_status()
        made.append(ticket["id"])
    return made


def backfill_rate(
    sessions: sessionmaker[Session],
    name: str,
    encoder: Encoder,
    cache: EmbeddingCache,
    texts: Sequence[tuple[str, str]],
    redactor: Redactor,
) -> dict[str, Any]:
    """Backfill the connector ``name`` from the start into an embedding cache that lacks its texts, against
    the encoder alone on the same (redacted) texts in the backfill's pages of 100."""
    seconds, report = timed(lambda: backfill(sessions, name, encoder, cache, redactor=redactor, restart=True))
    encoded = subject_body_texts(list(texts), redactor)
    alone, _ = timed(lambda: [encoder.encode_batch(encoded[i : i + 100]) for i in range(0, len(encoded), 100)])
    per_second, encoder_per_second = report["created"] / seconds, len(encoded) / alone
    return {
        **report,
        "backfill_per_second": round(per_second, 1),
        "encoder_alone_per_second": round(encoder_per_second, 1),
        "ratio": round(per_second / encoder_per_second, 2),
    }
