from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triage.index import VectorIndex


def _unit(rows: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_search_returns_our_ids_best_first(tmp_path: Path):
    vectors = _unit(20)
    index = VectorIndex(8)
    index.add(list(range(100, 120)), vectors)
    hits = index.search(vectors[7], 3)
    assert hits[0][0] == 107
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)

    index.save(tmp_path / "i.faiss")
    loaded = VectorIndex.load(tmp_path / "i.faiss")
    assert len(loaded) == 20
    assert loaded.search(vectors[7], 1)[0][0] == 107


def test_remove_and_empty_index():
    index = VectorIndex(8)
    assert index.search(_unit(1)[0], 5) == []
    index.add([1, 2], _unit(2))
    assert index.remove([1]) == 1
    assert [i for i, _ in index.search(_unit(1)[0], 5)] == [2]


def test_wrong_dimension_is_refused():
    with pytest.raises(ValueError):
        VectorIndex(8).add([1], _unit(1, dim=4))
