"""Recent open tickets are read again by one caller at a time; the others meanwhile get the ones held."""

from __future__ import annotations

import threading

import numpy as np

from triage.assist.recent import RecentTickets


class _Vectors:
    """Vectors for the texts of the tickets read; the call numbered ``hold`` waits until ``release`` is set."""

    def __init__(self, hold: int) -> None:
        self.calls, self.hold = 0, hold
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == self.hold:
            self.entered.set()
            assert self.release.wait(30)
        return np.full((len(texts), 4), float(self.calls), dtype=np.float32)


def _in_thread(recent: RecentTickets, sessions, vectors: _Vectors) -> tuple[threading.Thread, list]:
    got: list = []
    thread = threading.Thread(target=lambda: got.append(recent.read(sessions, vectors)))
    thread.start()
    return thread, got


def test_a_slow_refresh_does_not_hold_up_callers_that_have_tickets_to_use(sessions):
    recent, vectors = RecentTickets(refresh_seconds=0), _Vectors(hold=2)
    first = recent.read(sessions, vectors)
    refreshing, got = _in_thread(recent, sessions, vectors)
    assert vectors.entered.wait(30)
    assert recent.read(sessions, vectors) is first  # not blocked behind the refresh, and no second refresh
    assert vectors.calls == 2
    vectors.release.set()
    refreshing.join(30)
    assert got[0] is not first and recent.read(sessions, vectors) is not first


def test_with_nothing_held_yet_a_caller_waits_for_the_first_read(sessions):
    recent, vectors = RecentTickets(refresh_seconds=60), _Vectors(hold=1)
    reading, got = _in_thread(recent, sessions, vectors)
    assert vectors.entered.wait(30)
    waiting, waited = _in_thread(recent, sessions, vectors)
    waiting.join(0.2)
    assert waiting.is_alive()  # no tickets to give it: it waits rather than go on without
    vectors.release.set()
    reading.join(30), waiting.join(30)
    assert waited[0] is got[0] is not None and vectors.calls == 1  # the waiter did not read them again


def test_turned_off_reads_nothing(sessions):
    vectors = _Vectors(hold=0)
    assert RecentTickets(days=0).read(sessions, vectors) is None and vectors.calls == 0
