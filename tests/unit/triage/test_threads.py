"""Every thread's stack on SIGUSR1: what ``helpdesk serve`` and every ``helpdesk`` command register, so a
stuck process (or a test waiting on one) can say where it waits."""

from __future__ import annotations

import faulthandler
import signal
import threading

from triage.ml.threads import dump_stacks_on_signal


def _parked(stop: threading.Event) -> None:
    stop.wait(30)


def test_sigusr1_writes_every_threads_stack_and_the_process_carries_on(tmp_path):
    stop = threading.Event()
    worker = threading.Thread(target=_parked, args=(stop,), name="parked")
    worker.start()
    try:
        with (tmp_path / "stacks.txt").open("w") as out:
            dump_stacks_on_signal(out)
            try:
                # to this thread: a signal sent to the process may arrive on any of its threads (a native
                # one of a library, too), and the dump marks only a Python thread it arrived on as "Current
                # thread" (written by the C handler at once)
                signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
            finally:
                faulthandler.unregister(signal.SIGUSR1)
    finally:
        stop.set()
        worker.join()
    stacks = (tmp_path / "stacks.txt").read_text()
    assert "Current thread" in stacks and stacks.count("(most recent call first)") >= 2
    assert "_parked" in stacks and "test_sigusr1_writes_every_threads_stack" in stacks
