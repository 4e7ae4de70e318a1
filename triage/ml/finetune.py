"""Adapting the encoder to a deployment: contrastive fine-tuning of MiniLM on the CPU, in a time budget.

The pairs say what should land close: a resolved ticket and another ticket with the same label (or the
same resolution), a KB section's heading path and the section's text. Training pulls each anchor
towards its positive and away from the other positives in its batch (in-batch negatives, the loss of
``MultipleNegativesRankingLoss``), except positives of the anchor's own group, which are not negatives.
It is a plain PyTorch loop over the sentence-transformers model (no extra training libraries), stops
at the analyst's time budget or after the given passes, and saves the model with a manifest of what it
was trained on. Nothing here knows about bundles: :mod:`triage.bundles` decides where the result lives.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from triage.ml.cpu_training import LengthBatches, mixed_precision
from triage.ml.encoder import FINETUNE_MANIFEST, FineTunedEncoder, MiniLMEncoder

__all__ = (
    "MIN_PAIRS",
    "TOPICAL_FIELDS",
    "FineTuneReport",
    "Pair",
    "finetune_encoder",
    "finetune_minilm",
    "section_pairs",
    "ticket_pairs",
)


@dataclass(frozen=True)
class Pair:
    """Two texts that should land close; pairs of one ``group`` are never each other's negatives."""

    anchor: str
    positive: str
    group: str


def _label_pairs(
    texts: Sequence[str], labels: Sequence[str | None], *, rng: np.random.Generator, prefix: str
) -> list[tuple[int, Pair]]:
    """For each text whose label has another text, that text and a random other one of its label, with
    the index of the text."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for n, label in enumerate(labels):
        if label:
            by_label[label].append(n)
    pairs = []
    for label, members in by_label.items():
        if len(members) < 2:
            continue
        for n in members:
            other = members[int(rng.integers(len(members) - 1))]
            other = members[-1] if other == n else other
            pairs.append((n, Pair(texts[n], texts[other], f"{prefix}:{label}")))
    return pairs


MIN_PAIRS = 16  # fewer pairs than this teach nothing: fine-tuning is refused
TOPICAL_FIELDS = ("category", "assignee")  # labels that say what a ticket is about (priority says how urgent)


def ticket_pairs(
    texts: Sequence[str],
    labels: dict[str, Sequence[str | None]],
    resolutions: Sequence[str | None] = (),
    *,
    rng: np.random.Generator,
) -> list[Pair]:
    """One pair per ticket that has a positive, so that a pass over the pairs is a pass over the tickets.
    Its positive is drawn at random from what it has: another ticket with its label in each topical field
    (:data:`TOPICAL_FIELDS`; every field when none is among ``labels``: two equally urgent tickets about
    different things are not alike, and the same encoder ranks articles and similar tickets), or its own
    resolution (``resolutions``, in the order of ``texts``; none when empty)."""
    fields = [f for f in labels if f in TOPICAL_FIELDS] or list(labels)
    options: list[list[Pair]] = [[] for _ in texts]
    for field in fields:
        for n, pair in _label_pairs(texts, labels[field], rng=rng, prefix=field):
            options[n].append(pair)
    if resolutions:
        for n, pair in _text_pairs(texts, resolutions, prefix="resolution"):
            options[n].append(pair)
    return [found[int(rng.integers(len(found)))] for found in options if found]


def _text_pairs(anchors: Sequence[str], positives: Sequence[str | None], *, prefix: str) -> list[tuple[int, Pair]]:
    """Each anchor with its own positive (a ticket and its resolution), with the anchor's index; equal
    positives share a group."""
    pairs = []
    for n, (anchor, positive) in enumerate(zip(anchors, positives, strict=True)):
        text = " ".join((positive or "").split())[:2000]
        if text:
            pairs.append((n, Pair(anchor, text, f"{prefix}:{hashlib.sha256(text.encode()).hexdigest()[:16]}")))
    return pairs


def section_pairs(sections: Sequence[dict]) -> list[Pair]:
    """A KB section's heading path ("VPN password > Reset it yourself") and its text."""
    return [
        Pair(" > ".join(s["heading_path"]), " ".join(s["text"].split())[:2000], f"section:{s['slug']}#{s['anchor']}")
        for s in sections
        if s["text"].strip()
    ]


@dataclass(frozen=True)
class FineTuneReport:
    """What a fine-tuning run did."""

    pairs: int
    steps: int
    pairs_seen: int
    passes: float
    seconds: float
    texts_per_second: float
    stopped_by: str  # "passes" or "time budget"
    loss_first: float | None  # mean of the first ten steps' losses (None: no step ran)
    loss_last: float | None
    batch_size: int
    learning_rate: float
    precision: str  # "bfloat16" (mixed, where the CPU computes it natively) or "float32"
    fingerprint: str  # sha256 of the pairs, so a model says what it learned from


def finetune_encoder(
    model_path: str | Path,
    pairs: Sequence[Pair],
    out_dir: Path,
    *,
    seconds: float,
    passes: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    scale: float = 20.0,
    max_length: int = 128,
    seed: int = 0,
    precision: str = "auto",
    progress: Callable[[int, int, float], None] = lambda step, steps, loss: None,
) -> FineTuneReport:
    """Fine-tune the sentence-transformers model at ``model_path`` on ``pairs`` for at most ``seconds``
    (or ``passes`` over the pairs, whichever ends first) and save it to ``out_dir`` with
    :data:`~triage.ml.encoder.FINETUNE_MANIFEST`. Texts are cut to ``max_length`` tokens while training.

    Pairs of similar length are batched together (:class:`~triage.ml.cpu_training.LengthBatches`), so a
    batch is padded to its own longest text, not to the longest ticket of the data. ``precision`` "auto"
    computes in bfloat16 with float32 weights where the CPU has native bfloat16 (AVX512-BF16 or AMX),
    else in float32."""
    import torch
    from sentence_transformers import SentenceTransformer

    if len(pairs) < batch_size:
        raise ValueError(f"{len(pairs)} pairs are fewer than one batch of {batch_size}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    model.max_seq_length = max_length
    model.train()
    steps = max(1, math.floor(passes * len(pairs) / batch_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    batches = LengthBatches(pairs, model.tokenizer, batch_size, max_length=max_length, rng=rng)
    mixed = mixed_precision(precision)
    losses: list[float] = []
    started = time.monotonic()
    step, stopped_by = 0, "passes"
    while step < steps:
        if time.monotonic() - started >= seconds:
            stopped_by = "time budget"
            break
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
            loss = _in_batch_loss(model, batches.next(), scale)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        step += 1
        progress(step, steps, losses[-1])
    elapsed = time.monotonic() - started
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps([pair.anchor, pair.positive, pair.group]).encode())
    report = FineTuneReport(
        pairs=len(pairs),
        steps=step,
        pairs_seen=step * batch_size,
        passes=round(step * batch_size / len(pairs), 3),
        seconds=round(elapsed, 1),
        texts_per_second=round(2 * step * batch_size / max(elapsed, 1e-9), 1),
        stopped_by=stopped_by,
        loss_first=round(float(np.mean(losses[:10])), 4) if losses else None,
        loss_last=round(float(np.mean(losses[-10:])), 4) if losses else None,
        batch_size=batch_size,
        learning_rate=learning_rate,
        precision="bfloat16" if mixed else "float32",
        fingerprint=digest.hexdigest(),
    )
    (out_dir / FINETUNE_MANIFEST).write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return report


def finetune_minilm(
    pairs: Sequence[Pair],
    folder: Path,
    *,
    seconds: float,
    passes: float = 1.0,
    seed: int = 0,
    encode_batch_size: int = 16,
    threads: int | None = None,
    progress: Callable[[int, int, float], None] = lambda step, steps, loss: None,
) -> tuple[FineTunedEncoder, FineTuneReport]:
    """:func:`finetune_encoder` on the bundled MiniLM into ``folder`` (batches of 32 pairs, fewer when
    there are fewer pairs), and the result loaded as an encoder."""
    base = MiniLMEncoder(lazy=True).model_path
    report = finetune_encoder(
        base,
        pairs,
        folder,
        seconds=seconds,
        passes=passes,
        batch_size=min(32, len(pairs)),
        seed=seed,
        progress=progress,
    )
    return FineTunedEncoder(folder, batch_size=encode_batch_size, threads=threads), report


def _in_batch_loss(model, batch: list[Pair], scale: float):
    """Cross-entropy of each anchor over the batch's positives (cosine times ``scale``); positives of the
    anchor's own group other than its own are masked out rather than counted as negatives."""
    import torch

    prepare = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers 6 renamed it

    def embed(texts: list[str]):
        features = prepare(texts)
        output = model(features)
        return torch.nn.functional.normalize(output["sentence_embedding"], dim=-1)

    anchors = embed([p.anchor for p in batch])
    positives = embed([p.positive for p in batch])
    logits = anchors @ positives.T * scale
    groups = [p.group for p in batch]
    same = torch.tensor([[a == b for b in groups] for a in groups])
    mask = same & ~torch.eye(len(batch), dtype=torch.bool)
    logits = logits.masked_fill(mask, float("-inf"))
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
