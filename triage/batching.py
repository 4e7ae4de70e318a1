"""Micro-batching: texts that concurrent requests ask to encode are encoded together, in one batch, by
one worker thread, so throughput under load approaches the encoder's batch throughput.

The worker takes whatever is queued. Under load (the previous batch held several requests, or more are
queued) it also waits up to ``max_wait`` seconds for more, up to ``max_batch`` texts; a lone request is
encoded at once, so one client pays no waiting.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from triage.encoder import Encoder

__all__ = ("MicroBatchingEncoder",)

_Job = tuple[list[str], Future]


class MicroBatchingEncoder(Encoder):
    """An :class:`Encoder` that funnels every call through one batching worker thread."""

    def __init__(self, inner: Encoder, *, max_wait: float = 0.002, max_batch: int = 64) -> None:
        self.inner = inner
        self.name, self.dimension = inner.name, inner.dimension
        self.max_wait, self.max_batch = max_wait, max_batch
        self.batches = 0  # how many batches were encoded
        self.calls = 0  # how many encode_batch calls they served
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._busy = False  # whether the last batch served more than one call
        self._thread = threading.Thread(target=self._run, name="encoder-batcher", daemon=True)
        self._thread.start()

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return self.inner.encode_batch(texts)
        future: Future = Future()
        self._queue.put((list(texts), future))
        return future.result()

    def describe(self) -> dict[str, object]:
        return self.inner.describe()

    def close(self) -> None:
        """Stop the worker after the queued calls are served."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs, size = [first], len(first[0])
        deadline = time.monotonic() + (self.max_wait if self._busy or not self._queue.empty() else 0.0)
        while size < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            size += len(job[0])
        return jobs, False

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, stop = self._collect(first)
            texts = [text for job_texts, _ in jobs for text in job_texts]
            try:
                vectors = self.inner.encode_batch(texts)
            except BaseException as error:  # hand the failure to every caller of the batch
                for _, future in jobs:
                    future.set_exception(error)
            else:
                offset = 0
                for job_texts, future in jobs:
                    future.set_result(vectors[offset : offset + len(job_texts)])
                    offset += len(job_texts)
            self.batches += 1
            self.calls += len(jobs)
            self._busy = len(jobs) > 1
            if stop:
                return
