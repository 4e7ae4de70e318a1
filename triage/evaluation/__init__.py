"""Offline measurement: triage classification on labelled files, KB retrieval, reply recommendation,
reports, and the benchmark of the request path.

May import: anything in ``triage`` but ``triage.cli``."""
