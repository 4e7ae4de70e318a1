"""The test suite (see tests/README.md).

One thread per process for torch, faiss, BLAS and OpenMP, in the test processes and in every command,
server and notebook kernel they start (set here, before any test module imports numpy): the suite runs a
worker per core (pytest-xdist), and pools of a thread per core in each process fight over the cores.
Measured on 2 cores: two ``helpdesk train`` at once took 14.5-17.5 s with the default pools and 9.1 s
with one thread each; one alone, 10.4 s against 8.9 s. Set ``HELPDESK_THREADS`` to choose another count.
"""

import os

THREADS = os.environ.setdefault("HELPDESK_THREADS", "1")
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, THREADS)
