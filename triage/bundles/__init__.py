"""The bundle lifecycle: the training snapshot, training a candidate, the registry of versions, the
promotion gate, shadow replays, retrain jobs, and loading a bundle into memory.

May import: ``triage.ml``, ``triage.text`` and ``models``."""
