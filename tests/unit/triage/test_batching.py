from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from models.errors import Unavailable
from triage.errors import WorkerTimeout
from triage.ml.batching import MicroBatcher, MicroBatchingEncoder

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


def test_a_caller_waits_at_most_the_timeout_and_the_log_shows_where_the_worker_is(caplog):
    release = threading.Event()

    def stuck_then_double(items: list[int]) -> list[int]:
        release.wait(timeout=30)  # a worker stuck in a library call, until released
        return [2 * i for i in items]

    batcher = MicroBatcher(stuck_then_double, timeout=0.3, name="encoder")
    try:
        with caplog.at_level(logging.ERROR, logger="triage.ml.batching"), pytest.raises(WorkerTimeout) as error:
            batcher.call([1])
        assert "encoder worker did not answer within 0.3 s" in str(error.value)
        assert isinstance(error.value, Unavailable)  # the API answers 503 with problem details
        assert "in stuck_then_double" in caplog.text and "release.wait" in caplog.text
        release.set()
        assert batcher.call([2, 3]) == [4, 6]  # once the worker is free, it serves again
    finally:
        release.set()
        batcher.close()


def test_a_coroutine_waits_for_the_worker_at_most_the_timeout_and_is_answered_with_others():
    release = threading.Event()

    def double(items: list[int]) -> list[int]:
        release.wait(timeout=30)
        return [2 * i for i in items]

    batcher = MicroBatcher(double, timeout=0.3, name="suggestions")

    async def run() -> None:
        with pytest.raises(WorkerTimeout):
            await batcher.call_async([1])
        release.set()  # the worker answers the abandoned call without harm, then serves the next ones together
        assert await asyncio.gather(batcher.call_async([2]), batcher.call_async([3, 4])) == [[4], [6, 8]]

    try:
        asyncio.run(run())
    finally:
        release.set()
        batcher.close()
    assert batcher.calls == 3
