"""Work: what one process holds to serve (``serving``: encoder, active bundle, KB index), and the
background work beside it: jobs (training, backfills) in a thread of the process that took the request or
on the job queue (procrastinate on PostgreSQL), periodic checks, and the ``helpdesk worker`` process.

May import: ``triage.channels`` and below, ``kb``, ``models``."""

__all__ = ()
