"""The bundle lifecycle: the training snapshot, training a candidate (with, optionally, its own encoder
fine-tuned on the tickets and the KB), the registry of versions, the promotion gate, shadow replays,
retrain jobs, and loading a bundle into memory.

May import: ``triage.ml``, ``triage.text``, ``kb`` (the KB's sections, to fine-tune on) and ``models``."""
