from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triage.ml.index import VectorIndex


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


def _clustered(rows: int, dim: int = 64, centres: int = 200, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres, so HNSW sees realistic structure."""
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, dim))
    x = (middle[rng.integers(0, centres, rows)] + 0.35 * rng.normal(size=(rows, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """5,000 vectors under spread-out ids, and 100 queries near them."""
    vectors = _clustered(5_100)
    return np.arange(5_000, dtype=np.int64) * 7 + 3, vectors[:5_000], vectors[5_000:]


@pytest.fixture(scope="module")
def hnsw_index(corpus) -> VectorIndex:
    ids, vectors, _ = corpus
    index = VectorIndex.for_size(64, len(ids), exact_limit=1_000)
    index.add(ids, vectors)
    return index


def test_for_size_picks_exact_then_hnsw():
    small = VectorIndex.for_size(16, 1_000, exact_limit=1_000)
    large = VectorIndex.for_size(16, 1_001, exact_limit=1_000, ef_search=40)
    assert (small.kind, small.ef_search) == ("exact", None)
    assert (large.kind, large.ef_search) == ("hnsw", 40)
    assert VectorIndex(16).kind == "exact"
    small.ef_search = 99  # ignored on an exact index
    assert small.ef_search is None


def test_hnsw_recall_against_exact(corpus, hnsw_index):
    ids, vectors, queries = corpus
    exact = VectorIndex(64)
    exact.add(ids, vectors)
    truth = exact.search_many(queries, 10)
    found = hnsw_index.search_many(queries, 10)
    recall = np.mean([len({i for i, _ in t} & {i for i, _ in f}) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.95
    assert all(len(f) == 10 for f in found)


def test_search_many_equals_search(corpus, hnsw_index):
    _, vectors, queries = corpus
    assert hnsw_index.search_many(queries[:20], 5) == [hnsw_index.search(q, 5) for q in queries[:20]]
    exact = VectorIndex(64)
    exact.add(list(range(200)), vectors[:200])
    assert exact.search_many(queries[:20], 5) == [exact.search(q, 5) for q in queries[:20]]
    assert exact.search_many(queries[:3], 0) == [[], [], []]


def test_hnsw_remove_hides_ids_and_keeps_k(corpus, hnsw_index):
    ids, vectors, queries = corpus
    index = hnsw_index.copy()
    index.rebuild_fraction = 0.5
    top = {i for q in queries for i, _ in index.search(q, 10)}
    gone = sorted(top) + [-1]  # -1 is not stored and does not count
    assert index.remove(gone) == len(top)
    assert index.remove(gone[:5]) == 0  # already removed
    assert (len(index), index.tombstones) == (len(ids) - len(top), len(top))
    for hits in index.search_many(queries, 10):
        assert len(hits) == 10
        assert not top & {i for i, _ in hits}
    with pytest.raises(KeyError):
        index.reconstruct(gone[0])
    live = int(ids[~np.isin(ids, gone)][0])
    assert np.allclose(index.reconstruct(live), vectors[list(ids).index(live)])


def test_hnsw_widens_search_when_tombstones_crowd_out_results():
    vectors = _clustered(1_000, centres=20)
    index = VectorIndex.for_size(64, 1_000, exact_limit=10, ef_search=10)
    index.rebuild_fraction = 1.0
    index.add(list(range(1_000)), vectors)
    assert index.remove(list(range(994))) == 994  # plain faiss at efSearch 10 finds none of the rest
    live = list(range(994, 1_000))
    assert [sorted(i for i, _ in hits) for hits in index.search_many(vectors[:3], 10)] == [live] * 3
    assert len(index.search(vectors[0], 4)) == 4


def test_remove_past_fraction_rebuilds(corpus, hnsw_index):
    ids, vectors, queries = corpus
    index = hnsw_index.copy()
    index.ef_search = 64
    assert index.remove(ids[:900]) == 900  # 18 %: tombstones only
    assert index.tombstones == 900
    assert index.remove(ids[900:1_100]) == 200  # 22 %: compacted
    assert (index.kind, index.tombstones, len(index), index.ef_search) == ("hnsw", 0, 3_900, 64)
    removed = set(ids[:1_100].tolist())
    assert all(not removed & {i for i, _ in hits} for hits in index.search_many(queries, 10))
    index.add(ids[:10], vectors[:10])
    assert index.search(vectors[3], 1)[0][0] == ids[3]


def test_readding_a_removed_id_replaces_its_vector(corpus, hnsw_index):
    ids, vectors, _ = corpus
    index = hnsw_index.copy()
    index.remove([ids[0]])
    index.add([ids[0]], vectors[1:2])
    assert (index.tombstones, len(index)) == (0, len(ids))
    assert np.allclose(index.reconstruct(ids[0]), vectors[1])


def test_hnsw_save_load_roundtrip(corpus, hnsw_index, tmp_path: Path):
    ids, _, queries = corpus
    index = hnsw_index.copy()
    index.remove(ids[:50])
    index.save(tmp_path / "h.faiss")
    assert index.tombstones == 50  # saving leaves this index as it was
    loaded = VectorIndex.load(tmp_path / "h.faiss")
    assert (loaded.kind, len(loaded), loaded.tombstones, loaded.ef_search) == ("hnsw", len(ids) - 50, 0, 256)
    loaded.ef_search = 200
    assert loaded.ef_search == 200
    removed = set(ids[:50].tolist())
    assert all(not removed & {i for i, _ in hits} for hits in loaded.search_many(queries, 20))


def test_copy_is_independent(corpus, hnsw_index):
    ids, _, queries = corpus
    original = hnsw_index.copy()
    original.remove(ids[:10])
    clone = original.copy()
    assert clone.tombstones == 10
    clone.remove(ids[10:20])
    clone.ef_search = 300
    original.add([10**9], queries[:1])
    assert (len(original), original.tombstones, original.ef_search) == (len(ids) - 9, 10, 256)
    assert (len(clone), clone.tombstones) == (len(ids) - 20, 20)
    assert clone.search(queries[0], 1)[0][0] != 10**9
    assert original.search(queries[0], 1)[0][0] == 10**9


def test_exact_index_copy_remove_and_rebuild_noop():
    index = VectorIndex(8)
    index.add([1, 2, 3], _unit(3))
    clone = index.copy()
    assert clone.remove([1, 2, 9]) == 2
    clone.rebuild()
    assert (len(index), len(clone), clone.tombstones, clone.kind) == (3, 1, 0, "exact")
    with pytest.raises(RuntimeError):
        clone.reconstruct(1)
