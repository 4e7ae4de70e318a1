"""Rate-limit windows: counted in the process, in a file the workers of one server share, or in the database
(shared by every process), the same way."""

from __future__ import annotations

import asyncio

import pytest

from api.rate_limits import WINDOW_SECONDS, DatabaseWindows, MachineWindows, ProcessWindows


@pytest.mark.parametrize("kind", ["process", "machine", "database"])
def test_a_window_counts_to_its_limit_then_refuses_until_it_closes(kind, sessions, tmp_path):
    windows = {"process": ProcessWindows, "machine": lambda: MachineWindows(str(tmp_path))}.get(
        kind, lambda: DatabaseWindows(sessions)
    )()

    async def run() -> None:
        for n in range(3):
            limit, remaining, reset = await windows.hit(("key", 7), 3)
            assert (limit, remaining) == (3, 2 - n) and 1 <= reset <= 60
        assert await windows.over(("key", 7), 3) > 0  # full: the next request would be refused
        assert (await windows.hit(("key", 7), 3))[1] == -1
        assert await windows.over(("key", 8), 3) == 0  # another bucket has its own window
        assert (await windows.hit(("address", "10.0.0.5"), 3))[1] == 2

    asyncio.run(run())


def test_the_workers_of_one_server_count_a_key_together_and_windows_close(tmp_path, monkeypatch):
    first, second = MachineWindows(str(tmp_path)), MachineWindows(str(tmp_path))  # two worker processes' views
    clock = [1_000_000.0]
    monkeypatch.setattr("api.rate_limits.time.time", lambda: clock[0])

    async def run() -> None:
        assert (await first.hit(("key", 1), 4))[1] == 3
        assert (await second.hit(("key", 1), 4))[1] == 2
        assert (await first.hit(("key", 1), 4))[1] == 1
        assert (await second.hit(("key", 1), 4))[1] == 0
        assert await first.over(("key", 1), 4) == WINDOW_SECONDS
        clock[0] += WINDOW_SECONDS  # the window closes: a new one opens at the next request
        assert await second.over(("key", 1), 4) == 0
        assert (await first.hit(("key", 1), 4))[1] == 3
        # many more buckets than a probe run holds (one table slot each): every one keeps its own count
        for n in range(5000):
            await first.hit(("address", f"10.0.{n // 256}.{n % 256}"), 9)
        assert (await second.hit(("address", "10.0.0.1"), 9))[1] == 7
        assert (await second.hit(("key", 1), 4))[1] == 2

    asyncio.run(run())
