"""A bundle's own encoder: MiniLM fine-tuned on the deployment's resolved tickets and KB while training.

A bundle trained with fine-tuning carries the encoder in its ``encoder/`` folder (checksummed like every
other file) and names it in its manifest, so everything that reads the bundle embeds with the encoder its
vectors came from: serving switches to it (and re-embeds the KB index) when the bundle becomes active,
the gate and the shadow report embed the held-out tickets with each bundle's own encoder, and a rollback
to a bundle without one returns to the configured encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from kb.sections import searchable_sections
from models import Ticket
from models.tickets import LABEL_FIELDS
from triage.errors import InvalidQuery
from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import FINETUNE_MANIFEST, Encoder, FineTunedEncoder
from triage.ml.finetune import MIN_PAIRS, finetune_minilm, section_pairs, ticket_pairs
from triage.ml.inputs import make_inputs
from triage.text.redaction import Redactor, ticket_texts

__all__ = ("ENCODER_FOLDER", "FineTuning", "adapted_encoder", "bundle_encoder", "bundle_inputs", "carries_encoder")

ENCODER_FOLDER = "encoder"


@dataclass(frozen=True)
class FineTuning:
    """How long to fine-tune: at most ``minutes``, or ``passes`` over the pairs if that ends first."""

    minutes: float
    passes: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.minutes > 0 or not self.passes > 0:
            raise ValueError("fine-tuning needs a time budget and a number of passes above zero")


def adapted_encoder(
    session: Session,
    tickets: Sequence[Ticket],
    texts: Sequence[str],
    tuning: FineTuning,
    folder: Path,
    *,
    batch_size: int = 16,
    threads: int | None = None,
    progress: Callable[[int, int], None] = lambda step, steps: None,
) -> FineTunedEncoder:
    """Fine-tune MiniLM into ``folder`` on the tickets (their redacted ``texts``; one pair per ticket, see
    :func:`~triage.ml.finetune.ticket_pairs`: another ticket with the same topical label, or its
    resolution) and the KB's sections (heading path and text), and load it. Give it only the tickets the
    bundle's held-out check does not judge; fewer than :data:`~triage.ml.finetune.MIN_PAIRS` pairs is an
    error naming ``finetune_minutes``."""
    labels = {name: [getattr(t, name) for t in tickets] for name in LABEL_FIELDS}
    pairs = [
        *ticket_pairs(list(texts), labels, [t.resolution for t in tickets], rng=np.random.default_rng(tuning.seed)),
        *section_pairs(searchable_sections(session)),
    ]
    if len(pairs) < MIN_PAIRS:
        raise InvalidQuery(
            f"only {len(pairs)} pairs to fine-tune on (tickets with the same category or assignee, resolutions, "
            f"KB sections); at least {MIN_PAIRS} are needed",
            field="finetune_minutes",
        )
    encoder, _ = finetune_minilm(
        pairs,
        folder,
        seconds=tuning.minutes * 60,
        passes=tuning.passes,
        seed=tuning.seed,
        encode_batch_size=batch_size,
        threads=threads,
        progress=lambda step, steps, loss: progress(step, steps),
    )
    return encoder


def carries_encoder(manifest: dict[str, Any]) -> bool:
    """Whether the bundle of this manifest carries its own (fine-tuned) encoder."""
    return "finetune" in manifest.get("encoder", {})


def bundle_encoder(path: Path, manifest: dict[str, Any], configured: Encoder, *, lazy: bool = True) -> Encoder:
    """The encoder the bundle at ``path`` was trained with: its own when it carries one, else ``configured``
    (the caller checks that ``configured`` is the one the manifest names)."""
    folder = path / ENCODER_FOLDER
    if carries_encoder(manifest) and (folder / FINETUNE_MANIFEST).is_file():
        batch_size = getattr(configured, "batch_size", 16)
        return FineTunedEncoder(folder, batch_size=batch_size, lazy=lazy, threads=getattr(configured, "threads", None))
    return configured


def bundle_inputs(
    path: Path,
    manifest: dict[str, Any],
    tickets: Sequence[Ticket],
    configured: Encoder,
    artifacts_dir: Path,
    redactor: Redactor | None = None,
) -> np.ndarray:
    """Classifier inputs for ``tickets`` as the bundle at ``path`` sees them: embedded by its own encoder
    (through the deployment's embedding cache for that encoder)."""
    encoder = bundle_encoder(path, manifest, configured)
    texts = ticket_texts(tickets, redactor)
    return make_inputs(texts, encode_cached(encoder, texts, EmbeddingCache.in_artifacts(artifacts_dir, encoder)))
