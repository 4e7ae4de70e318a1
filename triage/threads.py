"""Thread pools pinned deliberately: one number for torch, faiss (OpenMP) and BLAS in this process.

On a machine with few cores, several server workers that each start one thread per core fight over
the cores; ``helpdesk bench --workers`` measures the split. ONNX Runtime takes the same number through
its session options (see :func:`triage.encoder.load_encoder`).
"""

from __future__ import annotations

import importlib.util

__all__ = ("pin_threads",)


def pin_threads(threads: int) -> dict[str, int]:
    """Use ``threads`` threads in torch, faiss and the BLAS libraries numpy and scikit-learn call;
    returns what was set, per library."""
    import faiss
    from threadpoolctl import threadpool_limits

    threads = max(1, int(threads))
    pinned = {"faiss": threads, "blas": threads}
    faiss.omp_set_num_threads(threads)
    threadpool_limits(limits=threads)  # applies to the whole process, not only a with-block
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)
        pinned["torch"] = threads
    return pinned
