"""Where rate-limit windows are counted: in this process (a single server process), in a file the worker
processes of one ``helpdesk serve`` share (their default, so a key gets its limit once per machine), or
in the database (every process on every machine counts one key's requests together; the default on
PostgreSQL). A window opens at a bucket's first request after the last one closed
(not on the clock's minute), so a burst cannot straddle a minute boundary and get its limit twice."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import mmap
import os
import struct
import time
from dataclasses import dataclass, field

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from models.db import session_scope
from models.limits import count_request, window_of
from models.settings import Settings

__all__ = ("WINDOW_SECONDS", "Bucket", "DatabaseWindows", "MachineWindows", "ProcessWindows", "Windows", "windows_for")

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


class MachineWindows:
    """Windows shared by the worker processes of one ``helpdesk serve`` (one machine): a table of
    ``SLOTS`` windows in a memory-mapped file in their shared folder, each read and counted under an
    exclusive file lock (microseconds, where a database write cost each request a transaction). A bucket
    takes the slot its hash names, or the next free or expired one of the following ``PROBES``; when all
    of those are in use (tens of thousands of clients within a minute), the oldest window is reused."""

    SLOTS, PROBES = 65_536, 64
    _SLOT = struct.Struct("<Qdq")  # bucket hash (0: free), window start (time.time()), requests counted

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, "rate-windows")
        self._file = open(self.path, "a+b")  # noqa: SIM115 - open for the process's life
        size = self.SLOTS * self._SLOT.size
        if os.fstat(self._file.fileno()).st_size < size:
            with self._locked():
                self._file.truncate(max(size, os.fstat(self._file.fileno()).st_size))
        self._map = mmap.mmap(self._file.fileno(), size)

    @contextlib.contextmanager
    def _locked(self):
        fcntl.flock(self._file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def _find(self, bucket: Bucket, now: float) -> tuple[int, int, float, int]:
        """(slot, bucket hash, window start, used) of ``bucket``'s open window, or of the slot it would take."""
        digest = hashlib.blake2b(f"{bucket[0]}:{bucket[1]}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "little") or 1
        home, spare, oldest = key % self.SLOTS, None, (math.inf, 0)
        for n in range(self.PROBES):
            slot = (home + n) % self.SLOTS
            held, start, used = self._SLOT.unpack_from(self._map, slot * self._SLOT.size)
            expired = now - start >= WINDOW_SECONDS
            if held == key:
                return (slot, key, now, 0) if expired else (slot, key, start, used)
            if spare is None and (held == 0 or expired):
                spare = slot
            oldest = min(oldest, (start, slot))
        return (oldest[1] if spare is None else spare), key, now, 0

    async def over(self, bucket: Bucket, limit: int) -> int:
        """Seconds until ``bucket`` may send again when its window is full, else 0 (counts nothing)."""
        now = time.time()
        with self._locked():
            _, _, start, used = self._find(bucket, now)
        return _reset(now, start) if used >= limit else 0

    async def hit(self, bucket: Bucket, limit: int) -> tuple[int, int, int]:
        """Count one request in ``bucket``'s window: (limit, remaining, seconds to reset)."""
        now = time.time()
        with self._locked():
            slot, key, start, used = self._find(bucket, now)
            self._SLOT.pack_into(self._map, slot * self._SLOT.size, key, start, used + 1)
        return limit, limit - used - 1, _reset(now, start)


Windows = ProcessWindows | MachineWindows | DatabaseWindows


def windows_for(settings: Settings, sessions: sessionmaker[Session]) -> Windows:
    """The store ``HELPDESK_RATE_LIMIT_STORE`` names; ``auto``: the database on PostgreSQL (every process on
    every machine), else the worker processes of this ``helpdesk serve`` together, else this process."""
    store = settings.work.rate_limit_store
    if store == "database" or (store == "auto" and settings.database.postgresql):
        return DatabaseWindows(sessions)
    if store == "auto" and settings.api.workers_dir:
        return MachineWindows(settings.api.workers_dir)
    return ProcessWindows()
