"""Triage and knowledge: the rooms below, each saying in its docstring what it holds and may import
(``ml`` < ``text`` < ``knowledge``, ``bundles`` < ``desk`` < ``assist``, ``analytics`` < ``evaluation`` <
``cli``; the layers are checked by import-linter). ``triage.errors`` holds the domain errors all raise."""

import os as _os

# PyTorch, faiss and scikit-learn each bring OpenMP threads. With the default (active) wait policy the
# idle ones spin after every parallel region and steal the 2 cores from whichever library runs next:
# measured with `helpdesk bench`, one suggestion took 69 ms in-process instead of 39 ms. Passive waiting
# must be chosen before any of them loads, so it is set here, unless the operator chose otherwise.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
