"""A process's threads: pools pinned deliberately (one number for torch, faiss (OpenMP) and BLAS), and
every thread's stack on request (SIGUSR1), to see where a stuck process waits.

On a machine with few cores, several server workers that each start one thread per core fight over
the cores; ``helpdesk bench --workers`` measures the split. ONNX Runtime takes the same number through
its session options (see :func:`triage.ml.encoders.load_encoder`).
"""

from __future__ import annotations

import faulthandler
import signal
import sys
from typing import TextIO

__all__ = ("dump_stacks_on_signal", "pin_threads", "pin_torch_threads")


def dump_stacks_on_signal(file: TextIO | None = None) -> None:
    """From now on ``kill -USR1 <pid>`` writes every thread's stack to ``file`` (stderr by default) and
    the process carries on."""
    faulthandler.register(signal.SIGUSR1, file=file or sys.stderr, all_threads=True)


def pin_threads(threads: int) -> dict[str, int]:
    """Use ``threads`` threads in faiss and the BLAS libraries numpy and scikit-learn call, and in torch
    if it is imported already; returns what was set, per library. torch takes seconds to import, so a
    process that has not imported it yet pins it when its model loads (:func:`pin_torch_threads`)."""
    import faiss
    from threadpoolctl import threadpool_limits

    threads = max(1, int(threads))
    pinned = {"faiss": threads, "blas": threads}
    faiss.omp_set_num_threads(threads)
    threadpool_limits(limits=threads)  # applies to the whole process, not only a with-block
    if "torch" in sys.modules:
        pinned["torch"] = pin_torch_threads(threads)
    return pinned


def pin_torch_threads(threads: int) -> int:
    """Use ``threads`` threads in torch's intra-op pool (imports torch); returns the count."""
    import torch

    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    return threads
