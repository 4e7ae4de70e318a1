"""Lexical retrieval: BM25 (the ``bm25s`` library) over analysed text, with per-language stemming."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

__all__ = ("LexicalIndex", "analyse")

_WORD = re.compile(r"\w+", re.UNICODE)
# ISO 639-1 code -> (Snowball stemmer, bm25s stop-word list); other languages are only lower-cased.
_LANGUAGES = {
    "en": ("english", "STOPWORDS_EN"),
    "nl": ("dutch", "STOPWORDS_DUTCH"),
    "de": ("german", "STOPWORDS_GERMAN"),
    "fr": ("french", "STOPWORDS_FRENCH"),
    "es": ("spanish", "STOPWORDS_SPANISH"),
}


# bm25s's English list is Lucene's 33 words; these pronouns, auxiliaries and question words carry no
# topic either. Negations ("not", "no", "cannot") stay: "card not working" is not "card working".
_MORE_ENGLISH_STOP_WORDS = frozenset(
    ("i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "you", "your", "yours", "he", "him")
    + ("his", "she", "her", "hers", "its", "they", "them", "their", "am", "was", "were", "been", "being")
    + ("do", "does", "did", "doing", "have", "has", "had", "having", "can", "could", "would", "should")
    + ("shall", "may", "might", "must", "will", "how", "what", "when", "where", "why", "which", "who")
    + ("whom", "whose", "about", "from", "up", "so", "than", "too", "very", "just", "also", "any", "some")
    + ("all", "each")
)


_NEGATIONS = frozenset(("not", "no", "nor", "never", "niet", "geen", "nooit", "nicht", "kein", "keine", "nie"))


@cache
def _analyser(language: str):
    import Stemmer
    from bm25s import stopwords

    stemmer_name, stop_name = _LANGUAGES.get(language, (None, None))
    stemmer = Stemmer.Stemmer(stemmer_name) if stemmer_name else None
    stop = frozenset(getattr(stopwords, stop_name)) if stop_name else frozenset()
    if language == "en":
        stop = stop | _MORE_ENGLISH_STOP_WORDS
    return stemmer, stop - _NEGATIONS


def analyse(text: str, language: str = "en") -> list[str]:
    """Lower-cased word tokens without stop words, stemmed for ``language`` (ISO 639-1) when supported."""
    stemmer, stop = _analyser(language)
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    return stemmer.stemWords(words) if stemmer else words


class LexicalIndex:
    """BM25 scores of a query against every document, documents known by integer ids.

    The index is rebuilt, not updated, when documents change: BM25 statistics (document frequencies,
    average length) are corpus-wide, and a KB of tens of thousands of sections rebuilds in well under a
    second.
    """

    def __init__(self, ids: Sequence[int], tokens: Sequence[list[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        if len(ids) != len(tokens):
            raise ValueError(f"{len(ids)} ids but {len(tokens)} token lists")
        self.ids = np.asarray(list(ids), dtype=np.int64)
        self.k1, self.b = k1, b
        self._tokens = [list(t) for t in tokens]
        self._bm25 = None
        if len(self.ids):
            self._bm25 = bm25s.BM25(k1=k1, b=b)
            # an empty document still needs a slot so that positions match ids
            self._bm25.index([t or [""] for t in self._tokens], show_progress=False)

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str], languages: Sequence[str] | None = None) -> LexicalIndex:
        """Analyse ``texts`` (each in its language, English when not given) and index them."""
        languages = languages or ["en"] * len(texts)
        return cls(ids, [analyse(t, lang) for t, lang in zip(texts, languages, strict=True)])

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document (in ``ids`` order); zeros when no query term is indexed."""
        if self._bm25 is None:
            return np.zeros(0, dtype=np.float32)
        known = [t for t in query_tokens if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best (id, score) pairs with a positive score, best first."""
        scores = self.scores(query_tokens)
        if not len(scores):
            return []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, path: Path) -> None:
        """Write ids and analysed tokens as JSON (rebuilding from them is fast and version-proof)."""
        path.write_text(
            json.dumps({"k1": self.k1, "b": self.b, "ids": self.ids.tolist(), "tokens": self._tokens}),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        """Read what :meth:`save` wrote."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["ids"], data["tokens"], k1=data["k1"], b=data["b"])
