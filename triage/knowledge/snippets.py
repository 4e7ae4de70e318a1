"""Snippets of article text with the query's words marked, as search results show them."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache

from triage.ml.lexical import analyse

__all__ = ("marked_snippet",)


@lru_cache(maxsize=65536)
def _analysed_word(word: str, language: str) -> str | None:
    """One word as :func:`analyse` gives it (``None``: a stop word), remembered: snippets ask for the same
    words of the same articles request after request."""
    return (analyse(word, language) or [None])[0]


def marked_snippet(text: str, query_tokens: Sequence[str], language: str = "en", limit: int = 240) -> str:
    """HTML-escaped window of ``text`` around the first matched query term, matched words in ``<mark>``.

    Words match when their analysed form (lower-cased, stemmed) is one of ``query_tokens``.
    """
    wanted = set(query_tokens)
    words = list(re.finditer(r"\w+", text))
    hits = [m for m in words if _analysed_word(m.group(), language) in wanted]
    start = max(0, hits[0].start() - limit // 3) if hits else 0
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    end = min(len(text), start + limit)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    out, cursor = [], start
    for m in hits:
        if m.start() < start or m.end() > end:
            continue
        out.append(html.escape(text[cursor : m.start()]))
        out.append(f"<mark>{html.escape(m.group())}</mark>")
        cursor = m.end()
    out.append(html.escape(text[cursor:end]))
    body = " ".join("".join(out).split())
    return ("… " if start else "") + body + (" …" if end < len(text) else "")
