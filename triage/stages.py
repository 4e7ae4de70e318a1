"""Where a request's time goes, stage by stage (``helpdesk bench`` names them so that a regression shows
by name). The pipeline takes a :class:`Stages` and times each stage in it; :data:`UNTIMED` times nothing."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

__all__ = ("UNTIMED", "Stages")


class Stages:
    """Seconds per named stage, summed over the calls timed in it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


class _Untimed(Stages):
    """Times nothing (the default: requests pay no timing)."""

    def __call__(self, name: str) -> contextlib.nullcontext:  # type: ignore[override]
        return _NOTHING


_NOTHING = contextlib.nullcontext()
UNTIMED: Stages = _Untimed()
