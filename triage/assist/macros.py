"""Saved replies (macros): Markdown with placeholders, validated on save, filled per ticket, suggested by
similarity to the ticket, and counted when used."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Macro, Ticket
from models.errors import InvalidInput, NotFound
from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import Encoder

__all__ = (
    "PLACEHOLDERS",
    "create_macro",
    "delete_macro",
    "fill",
    "get_macro",
    "list_macros",
    "macro_out",
    "placeholder_values",
    "suggest_macros",
    "update_macro",
)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_.]+)\s*\}\}")
PLACEHOLDERS = (
    "requester.first_name",
    "requester.name",
    "requester.email",
    "ticket.id",
    "ticket.subject",
    "agent.name",
)
MAX_BODY = 20_000


def _check(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not title or len(title) > 200:
        raise InvalidInput("title must be 1 to 200 characters", field="title")
    if not body or len(body) > MAX_BODY:
        raise InvalidInput(f"body must be 1 to {MAX_BODY} characters", field="body")
    unknown = sorted({name for name in PLACEHOLDER.findall(body) if name not in PLACEHOLDERS})
    if unknown:
        raise InvalidInput(
            f"unknown placeholders: {', '.join(unknown)}; use {', '.join(PLACEHOLDERS)}",
            field="body",
            details=[f"unknown placeholder {{{{{name}}}}}" for name in unknown],
        )
    return title, body


def create_macro(session: Session, title: str, body: str) -> Macro:
    """Save a macro (422 naming ``body`` for an unknown placeholder)."""
    title, body = _check(title, body)
    macro = Macro(title=title, body=body)
    session.add(macro)
    session.flush()
    return macro


def get_macro(session: Session, macro_id: int) -> Macro:
    """The macro with ``macro_id`` (404)."""
    macro = session.get(Macro, macro_id)
    if macro is None:
        raise NotFound(f"no macro {macro_id}", field="macro_id")
    return macro


def update_macro(session: Session, macro_id: int, title: str, body: str) -> Macro:
    """Replace a macro's title and body."""
    macro = get_macro(session, macro_id)
    macro.title, macro.body = _check(title, body)
    session.flush()
    return macro


def delete_macro(session: Session, macro_id: int) -> None:
    """Delete a macro (its usage records stay, without it)."""
    session.delete(get_macro(session, macro_id))


def list_macros(session: Session) -> Sequence[Macro]:
    """Every macro, most used first."""
    return session.scalars(select(Macro).order_by(Macro.usage_count.desc(), Macro.id)).all()


def _names(requester: str | None) -> tuple[str | None, str | None]:
    """A first and a full name from the requester field (``tim.hendriks@example.nl`` gives Tim, Tim Hendriks)."""
    if not requester:
        return None, None
    local = requester.split("@", 1)[0] if "@" in requester else requester
    parts = [p.capitalize() for p in re.split(r"[._\-\s]+", local) if p.isalpha()]
    if not parts:
        return None, None
    return parts[0], " ".join(parts)


def placeholder_values(ticket: Ticket, agent: str | None = None) -> dict[str, str]:
    """The values this ticket gives the placeholders; a value that is not known is left out."""
    first, full = _names(ticket.requester)
    values = {
        "requester.first_name": first,
        "requester.name": full,
        "requester.email": ticket.requester if ticket.requester and "@" in ticket.requester else None,
        "ticket.id": str(ticket.id),
        "ticket.subject": ticket.subject,
        "agent.name": agent,
    }
    return {k: v for k, v in values.items() if v}


def fill(text: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with every known placeholder filled; returns the text and the placeholders left unfilled
    (the agent fills those in)."""
    unfilled: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        unfilled.append(name)
        return match.group(0)

    return PLACEHOLDER.sub(replace, text), sorted(set(unfilled))


def suggest_macros(
    macros: Sequence[Macro],
    vector: np.ndarray,
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    top_k: int = 3,
    min_similarity: float = 0.3,
) -> list[tuple[Macro, float]]:
    """The macros most similar to a ticket's embedding (title and body, placeholders removed)."""
    if not macros:
        return []
    texts = [f"{m.title}\n{PLACEHOLDER.sub(' ', m.body)}" for m in macros]
    scores = encode_cached(encoder, texts, cache) @ vector
    ranked = sorted(zip(macros, scores.tolist(), strict=True), key=lambda pair: -pair[1])
    return [(m, round(float(s), 4)) for m, s in ranked[:top_k] if s >= min_similarity]


def macro_out(macro: Macro) -> dict[str, Any]:
    """A macro as the API shows it."""
    return {
        "id": macro.id,
        "title": macro.title,
        "body": macro.body,
        "placeholders": sorted(set(PLACEHOLDER.findall(macro.body))),
        "usage_count": macro.usage_count,
        "created_at": macro.created_at,
        "updated_at": macro.updated_at,
    }
