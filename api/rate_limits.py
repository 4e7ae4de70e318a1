"""Where rate-limit windows are counted: in this process (the embedded default: a key gets its limit on
each server process) or in the database (every process on every machine counts one key's requests
together; the default on PostgreSQL). A window opens at a bucket's first request after the last one closed
(not on the clock's minute), so a burst cannot straddle a minute boundary and get its limit twice."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from models.db import session_scope
from models.limits import count_request, window_of
from models.settings import Settings

__all__ = ("WINDOW_SECONDS", "Bucket", "DatabaseWindows", "ProcessWindows", "Windows", "windows_for")

WINDOW_SECONDS = 60
Bucket = tuple[str, int | str]  # ("key", key id) or ("address", client address)


def _reset(now: float, start: float) -> int:
    # WINDOW_SECONDS - (now - start), not start + WINDOW_SECONDS - now: at the window's first request that
    # is exactly 60, where the other order can round to 60.000...01 and announce 61
    return max(1, math.ceil(WINDOW_SECONDS - (now - start)))


@dataclass
class ProcessWindows:
    """Windows in this process's memory."""

    _windows: dict[Bucket, tuple[float, int]] = field(default_factory=dict)

    def _window(self, bucket: Bucket, now: float) -> tuple[float, int]:
        start, used = self._windows.get(bucket, (now, 0))
        return (now, 0) if now - start >= WINDOW_SECONDS else (start, used)

    async def over(self, bucket: Bucket, limit: int) -> int:
        """Seconds until ``bucket`` may send again when its window is full, else 0 (counts nothing)."""
        now = time.monotonic()
        start, used = self._window(bucket, now)
        return _reset(now, start) if used >= limit else 0

    async def hit(self, bucket: Bucket, limit: int) -> tuple[int, int, int]:
        """Count one request in ``bucket``'s window: (limit, remaining, seconds to reset)."""
        now = time.monotonic()
        start, used = self._window(bucket, now)
        if len(self._windows) > 100_000:  # many client addresses: forget the closed windows
            self._windows = {b: w for b, w in self._windows.items() if now - w[0] < WINDOW_SECONDS}
        self._windows[bucket] = (start, used + 1)
        return limit, limit - used - 1, _reset(now, start)


@dataclass
class DatabaseWindows:
    """Windows in the database's ``rate_windows`` table: one statement per counted request."""

    sessions: sessionmaker[Session]

    def _count(self, bucket: str) -> tuple[float, float, int]:
        now = time.time()
        with session_scope(self.sessions) as session:
            start, used = count_request(session, bucket, now, WINDOW_SECONDS)
        return now, start, used

    def _read(self, bucket: str) -> tuple[float, float, int]:
        now = time.time()
        with session_scope(self.sessions) as session:
            start, used = window_of(session, bucket, now, WINDOW_SECONDS)
        return now, start, used

    async def over(self, bucket: Bucket, limit: int) -> int:
        """Seconds until ``bucket`` may send again when its window is full, else 0 (counts nothing)."""
        now, start, used = await anyio.to_thread.run_sync(self._read, f"{bucket[0]}:{bucket[1]}")
        return _reset(now, start) if used >= limit else 0

    async def hit(self, bucket: Bucket, limit: int) -> tuple[int, int, int]:
        """Count one request in ``bucket``'s window: (limit, remaining, seconds to reset)."""
        now, start, used = await anyio.to_thread.run_sync(self._count, f"{bucket[0]}:{bucket[1]}")
        return limit, limit - used, _reset(now, start)


Windows = ProcessWindows | DatabaseWindows


def windows_for(settings: Settings, sessions: sessionmaker[Session]) -> Windows:
    """The store ``HELPDESK_RATE_LIMIT_STORE`` names; ``auto``: the database on PostgreSQL, else this process."""
    store = settings.work.rate_limit_store
    if store == "auto":
        store = "database" if settings.database.postgresql else "process"
    return DatabaseWindows(sessions) if store == "database" else ProcessWindows()
