"""Rate-limit windows: counted in the process or in the database (shared by every process), the same way."""

from __future__ import annotations

import asyncio

import pytest

from api.rate_limits import DatabaseWindows, ProcessWindows


@pytest.mark.parametrize("kind", ["process", "database"])
def test_a_window_counts_to_its_limit_then_refuses_until_it_closes(kind, sessions):
    windows = ProcessWindows() if kind == "process" else DatabaseWindows(sessions)

    async def run() -> None:
        for n in range(3):
            limit, remaining, reset = await windows.hit(("key", 7), 3)
            assert (limit, remaining) == (3, 2 - n) and 1 <= reset <= 60
        assert await windows.over(("key", 7), 3) > 0  # full: the next request would be refused
        assert (await windows.hit(("key", 7), 3))[1] == -1
        assert await windows.over(("key", 8), 3) == 0  # another bucket has its own window
        assert (await windows.hit(("address", "10.0.0.5"), 3))[1] == 2

    asyncio.run(run())
