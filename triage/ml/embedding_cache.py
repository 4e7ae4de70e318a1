"""Embeddings cached by content hash, so retraining and re-evaluation only encode new texts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from models.db import use_wal
from models.hashing import content_hash
from triage.ml.encoder import Encoder

__all__ = ("EmbeddingCache", "encode_cached")


class EmbeddingCache:
    """A SQLite file of ``content hash -> vector`` for one encoder; losing it only costs re-encoding."""

    def __init__(self, path: Path, encoder_name: str, dimension: int) -> None:
        self.path = path
        self.encoder_name = encoder_name
        self.dimension = dimension
        with self._connect():
            pass

    @classmethod
    def in_artifacts(cls, artifacts_dir: Path, encoder: Encoder) -> EmbeddingCache:
        """The deployment's cache for ``encoder``: ``<artifacts>/cache/embeddings.sqlite``."""
        return cls(artifacts_dir / "cache" / "embeddings.sqlite", encoder.name, encoder.dimension)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction (committed, or rolled back on error), then closed. The table is
        made on every connect, so a cache file deleted under a running server is simply started again."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            use_wal(conn, 30)
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            with conn:
                yield conn
        finally:
            conn.close()

    def key(self, text: str) -> str:
        """The cache key of ``text`` for this encoder."""
        return content_hash(self.encoder_name, text)

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``."""
        found: dict[str, np.ndarray] = {}
        with self._connect() as conn:
            for start in range(0, len(keys), 500):
                batch = list(keys[start : start + 500])
                marks = ",".join("?" * len(batch))
                for key, blob in conn.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors under their keys."""
        with self._connect() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
            )

    def delete(self, keys: Sequence[str]) -> None:
        """Forget the vectors under ``keys`` (e.g. of an erased requester's texts)."""
        with self._connect() as conn:
            conn.executemany("DELETE FROM vectors WHERE key = ?", [(key,) for key in keys])


def encode_cached(
    encoder: Encoder,
    texts: Sequence[str],
    cache: EmbeddingCache,
    *,
    batch_size: int = 256,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> np.ndarray:
    """Encode ``texts``, taking what the cache has and encoding (then caching) only the rest.

    A text that occurs several times is encoded once; ``progress`` counts distinct texts, and its first
    call says how many of them the cache already had.
    """
    keys = [cache.key(t) for t in texts]
    distinct = dict(zip(keys, texts, strict=True))
    found = cache.get_many(list(distinct))
    todo = [key for key in distinct if key not in found]
    done = len(distinct) - len(todo)
    progress(done, len(distinct))
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        encoded = encoder.encode_batch([distinct[key] for key in batch])
        new = dict(zip(batch, encoded, strict=True))
        cache.put_many(new)
        found.update(new)
        done += len(batch)
        progress(done, len(distinct))
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    for i, key in enumerate(keys):
        vectors[i] = found[key]
    return vectors
