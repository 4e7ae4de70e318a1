from __future__ import annotations

import shutil

import numpy as np

from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import Encoder


class CountingEncoder(Encoder):
    """Wraps the real encoder and counts how many texts it was asked to encode."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.name, self.dimension, self.calls = inner, inner.name, inner.dimension, 0

    def encode_batch(self, texts):
        self.calls += len(texts)
        return self.inner.encode_batch(texts)


def test_only_new_texts_are_encoded(encoder, tmp_path):
    counting = CountingEncoder(encoder)
    cache = EmbeddingCache(tmp_path / "cache.sqlite", counting.name, counting.dimension)
    first = encode_cached(counting, ["vpn down", "printer jam"], cache)
    assert counting.calls == 2
    second = encode_cached(counting, ["printer jam", "vpn down", "new text"], cache)
    assert counting.calls == 3
    np.testing.assert_allclose(second[0], first[1])
    np.testing.assert_allclose(second[1], first[0])
    np.testing.assert_allclose(second[2], encoder.encode("new text"), atol=1e-5)


def test_a_cache_deleted_under_a_running_process_is_started_again(encoder, tmp_path):
    counting = CountingEncoder(encoder)
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite", counting.name, counting.dimension)
    encode_cached(counting, ["vpn down"], cache)
    shutil.rmtree(tmp_path / "cache")  # an operator frees disk space; the server keeps its cache object
    again = encode_cached(counting, ["vpn down", "printer jam"], cache)
    assert counting.calls == 3  # both encoded again, nothing failed
    np.testing.assert_allclose(again[0], encoder.encode("vpn down"), atol=1e-5)
    assert set(cache.get_many([cache.key("vpn down"), cache.key("printer jam")])) == {
        cache.key("vpn down"),
        cache.key("printer jam"),
    }
