"""How tickets and article chunks are turned into the text the encoder sees, and snippets."""

from __future__ import annotations

__all__ = ("chunk_text", "snippet", "ticket_text")


def ticket_text(subject: str | None, body: str | None) -> str:
    """Subject and body as one text (the subject carries the most signal, so it comes first)."""
    return "\n".join(part.strip() for part in (subject or "", body or "") if part and part.strip())


def chunk_text(heading_path: list[str] | tuple[str, ...], text: str) -> str:
    """An article section with its heading path, so "Steps" under "Reset your VPN password" keeps its topic."""
    return " > ".join(heading_path) + "\n" + text


def snippet(text: str, limit: int = 220) -> str:
    """The start of ``text``, cut at a word boundary, with an ellipsis when shortened."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + " …"
