"""A vector index over faiss: ``IndexIDMap2`` over inner product on L2-normalised vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ("VectorIndex",)


class VectorIndex:
    """Exact cosine search with our own int64 ids; saves to and loads from one file."""

    def __init__(self, dimension: int, index=None) -> None:
        import faiss

        self.dimension = dimension
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Add vectors (already L2-normalised) under ``ids``."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension or len(ids) != len(vectors):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dimension}, got {vectors.shape}")
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Remove ``ids``; returns how many were removed."""
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def copy(self) -> VectorIndex:
        """An independent copy (to change while others search the original)."""
        import faiss

        return VectorIndex(self.dimension, faiss.clone_index(self._index))

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest ids with their cosine similarity, best first."""
        if len(self) == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self._index.search(query, min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def reconstruct(self, id_: int) -> np.ndarray:
        """The stored vector of ``id_``."""
        return self._index.reconstruct(int(id_))

    def save(self, path: Path) -> None:
        """Write the index to ``path``."""
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index written by :meth:`save`."""
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index)
