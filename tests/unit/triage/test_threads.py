"""Every thread's stack on SIGUSR1: what ``helpdesk serve`` and every ``helpdesk`` command register, so a
stuck process (or a test waiting on one) can say where it waits."""

from __future__ import annotations

import subprocess
import sys

from tests.processes import ROOT

# In a process of its own: faulthandler writes at most 100 threads, newest first, so in a test worker that
# other tests have left with more threads than that, this thread's stack was cut off the dump.
SIGNALLED = """
import signal, sys, threading
from triage.ml.threads import dump_stacks_on_signal

def _parked(stop):
    stop.wait(30)

def signal_myself():
    stop = threading.Event()
    worker = threading.Thread(target=_parked, args=(stop,), name="parked")
    worker.start()
    try:
        dump_stacks_on_signal(sys.stdout)
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # written by the C handler as it arrives
    finally:
        stop.set()
        worker.join()
    print("carried on", flush=True)

signal_myself()
"""


def test_sigusr1_writes_every_threads_stack_and_the_process_carries_on():
    result = subprocess.run(
        [sys.executable, "-c", SIGNALLED], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    stacks = result.stdout
    assert "Current thread" in stacks and stacks.count("(most recent call first)") >= 2
    assert "_parked" in stacks and "signal_myself" in stacks
    assert stacks.rstrip().endswith("carried on")
