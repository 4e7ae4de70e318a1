"""How many processes and threads ``helpdesk serve`` runs, chosen from the machine and the encoder.

Python runs one thread of Python at a time per process, and much of a suggestion is Python (the HTTP
stack, TF-IDF counting, the search's bookkeeping), so one process cannot keep two cores busy: measured
with ``helpdesk bench`` on 2 cores (int8 encoder), 1 process x 2 threads served 64 suggestions a second
to 32 clients, 2 processes x 1 thread 105. A lone request is no slower on one thread (18.2 ms p50 either
way: the int8 encoder runs each text alone), and two threads in each of two processes fight over the
cores under load (56 a second).
So with the int8 encoder the default is one process per usable core with one thread each, as many as
memory allows (each process holds its own encoder, bundle and KB index). The PyTorch encoders cost ten
times more per text and encode a micro-batch's texts together, which two threads share well: under 32
clients 1 process x 2 threads served 66, 55 and 49 suggestions a second in three runs against 52, 51 and
50 for 2 x 1 (a lone request 24 against 23 ms), so they get two threads per process, one process per two
cores. ``HELPDESK_WORKERS`` and ``HELPDESK_THREADS`` override the choice.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from models.settings import Settings

__all__ = (
    "THREADS_PER_WORKER",
    "WORKER_MEMORY_MIB",
    "Layout",
    "available_memory_mib",
    "choose_layout",
    "usable_cores",
)

# resident memory of one serving process with a 4,000-ticket bundle and the demo KB, measured, with room
# to grow: a process is only started if half the available memory holds it
WORKER_MEMORY_MIB = {"minilm-int8": 800, "minilm": 900, "use-multilingual": 1600}
DEFAULT_WORKER_MEMORY_MIB = 1000  # a fine-tuned encoder's folder
# cores each worker's threads share: the int8 encoder runs each text alone, so one; the PyTorch encoders
# encode a micro-batch together and spend most of a suggestion there, so two threads share one batch
THREADS_PER_WORKER = {"minilm-int8": 1}  # any other encoder: 2


@dataclass(frozen=True)
class Layout:
    """Server processes, threads in each, and why."""

    workers: int
    threads: int
    reason: str

    def describe(self) -> str:
        return f"{self.workers} worker(s) x {self.threads} thread(s): {self.reason}"


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota (containers)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def available_memory_mib() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in MiB, or ``None`` where there is none."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def choose_layout(settings: Settings, *, cores: int | None = None, memory_mib: int | None = None) -> Layout:
    """The layout for ``settings``: ``HELPDESK_WORKERS`` / ``HELPDESK_THREADS`` where set, else one
    single-threaded process per usable core, as many as half the available memory holds."""
    cores = cores or usable_cores()
    threads = settings.models.threads
    if settings.api.workers > 0:
        workers = settings.api.workers
        return Layout(workers, threads or max(1, cores // workers), "HELPDESK_WORKERS")
    memory_mib = available_memory_mib() if memory_mib is None else memory_mib
    per_worker = WORKER_MEMORY_MIB.get(settings.models.encoder, DEFAULT_WORKER_MEMORY_MIB)
    fits = max(1, memory_mib // 2 // per_worker) if memory_mib else cores
    sharing = min(cores, THREADS_PER_WORKER.get(settings.models.encoder, 2))
    workers = max(1, min(cores // sharing, fits))
    reason = f"{cores} usable core(s), the {settings.models.encoder} encoder" + (
        f", memory for {fits}" if fits < cores // sharing else ""
    )
    return Layout(workers, threads or max(1, cores // workers), reason)
