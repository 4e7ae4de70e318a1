"""Micro-batching: work that concurrent requests ask for is done together, in one batch, by one worker
thread, so throughput under load approaches batch throughput (the encoder's, and the classifiers').

The worker takes whatever is queued. Under load (the previous batch served several calls, or more are
queued) it also waits up to ``max_wait`` seconds for more, up to ``max_batch`` items; a lone call is
served at once, so one client pays no waiting. A caller waits at most ``timeout`` seconds: then it gets
:class:`WorkerTimeout` (503), and the log shows where the worker is.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Generic, TypeVar

import numpy as np

from triage.errors import WorkerTimeout
from triage.ml.encoder import Encoder

__all__ = ("MicroBatcher", "MicroBatchingEncoder")

log = logging.getLogger(__name__)

Item = TypeVar("Item")
_Job = tuple[list[Any], Future]


class MicroBatcher(Generic[Item]):
    """Serves :meth:`call` from many threads with one ``work(items) -> results`` call per batch. A result
    that is an exception is raised to the caller of that item only."""

    def __init__(
        self,
        work: Callable[[list[Item]], Sequence[Any]],
        *,
        max_wait: float = 0.002,
        max_batch: int = 64,
        timeout: float | None = None,
        name: str = "micro-batcher",
    ) -> None:
        self.work, self.max_wait, self.max_batch, self.timeout = work, max_wait, max_batch, timeout
        self.batches = 0  # how many batches were done
        self.calls = 0  # how many calls they served
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._busy = False  # whether the last batch served more than one call
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call(self, items: Sequence[Item]) -> list[Any]:
        """The results for ``items``, worked on together with other callers' items."""
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return self._raise(list(self.work(list(items))))
        future: Future = Future()
        self._queue.put((list(items), future))
        try:
            return self._raise(future.result(timeout=self.timeout))
        except FutureTimeout:
            raise self._timed_out() from None

    async def call_async(self, items: Sequence[Item]) -> list[Any]:
        """:meth:`call` for a coroutine: the event loop waits for the worker, with no thread of its own
        between them (a thread would add two switches to every request)."""
        if not self._thread.is_alive():  # closed: worked on in a thread, never on the event loop
            return self._raise(list(await asyncio.to_thread(self.work, list(items))))
        future: Future = Future()
        self._queue.put((list(items), future))
        try:  # shielded: a wait that times out must not cancel the future the worker will still answer
            return self._raise(await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), self.timeout))
        except TimeoutError:
            raise self._timed_out() from None

    def _timed_out(self) -> WorkerTimeout:
        name, waited = self._thread.name, self.timeout
        log.error("the %s worker did not answer within %s s; it is at:\n%s", name, waited, self.where())
        return WorkerTimeout(f"the {name} worker did not answer within {waited:g} s; retry later")

    def where(self) -> str:
        """The worker thread's current stack (what it is busy with)."""
        frame = sys._current_frames().get(self._thread.ident or -1)
        return "".join(traceback.format_stack(frame)) if frame else "(not running)"

    @staticmethod
    def _raise(results: list[Any]) -> list[Any]:
        error = next((r for r in results if isinstance(r, BaseException)), None)
        if error is not None:
            raise error
        return results

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
            try:
                results = list(self.work([item for items, _ in jobs for item in items]))
            except BaseException as error:  # hand the failure to every caller of the batch
                for _, future in jobs:
                    future.set_exception(error)
            else:
                offset = 0
                for items, future in jobs:
                    future.set_result(results[offset : offset + len(items)])
                    offset += len(items)
            self.batches += 1
            self.calls += len(jobs)
            self._busy = len(jobs) > 1
            if stop:
                return


class MicroBatchingEncoder(Encoder):
    """An :class:`Encoder` whose calls from concurrent threads are encoded in shared batches."""

    def __init__(
        self, inner: Encoder, *, max_wait: float = 0.002, max_batch: int = 64, timeout: float | None = None
    ) -> None:
        self.inner = inner
        self.name, self.dimension = inner.name, inner.dimension
        self.batcher: MicroBatcher[str] = MicroBatcher(
            lambda texts: list(inner.encode_batch(texts)),
            max_wait=max_wait,
            max_batch=max_batch,
            timeout=timeout,
            name="encoder",
        )

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack(self.batcher.call(texts))

    def describe(self) -> dict[str, object]:
        return self.inner.describe()

    def close(self) -> None:
        """Stop the batching worker."""
        self.batcher.close()
