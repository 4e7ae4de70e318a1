from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from triage.batching import MicroBatchingEncoder

TEXTS = [f"ticket {n}: the VPN drops every {n} minutes" for n in range(32)]


def test_concurrent_calls_are_encoded_together_with_the_same_vectors(encoder):
    batcher = MicroBatchingEncoder(encoder, max_wait=0.005, max_batch=64)
    try:
        alone = batcher.encode_batch(TEXTS[:1])
        assert (batcher.batcher.batches, batcher.batcher.calls) == (1, 1)
        with ThreadPoolExecutor(32) as pool:
            vectors = list(pool.map(lambda text: batcher.encode_batch([text])[0], TEXTS))
        np.testing.assert_allclose(np.stack(vectors), encoder.encode_batch(TEXTS), atol=1e-5)
        np.testing.assert_allclose(alone[0], vectors[0], atol=1e-5)
        assert batcher.batcher.calls == 33 and batcher.batcher.batches < 20  # most calls shared a batch
        assert batcher.encode_batch([]).shape == (0, encoder.dimension)
    finally:
        batcher.close()
    assert batcher.encode_batch(TEXTS[:2]).shape == (2, encoder.dimension)  # after close: direct
