"""Waiting in tests for something another thread or process does, with a deadline that says what was
awaited when it runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ("wait_for",)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0, step: float = 0.1) -> Any:
    """Call ``check`` every ``step`` seconds until it returns something true, and return that; fail naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(step)
    return found
