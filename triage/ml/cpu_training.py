"""How fine-tuning uses the CPU: batches of pairs of similar length, and bfloat16 where the CPU has it.

On two cores a training step costs in proportion to the tokens it pads to, so batching similar lengths
together cut a step over ticket texts to a third; bfloat16 (with float32 weights) cut it by another
third on a CPU with AVX512-BF16. Pairs are anything with ``anchor`` and ``positive`` texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ("LengthBatches", "mixed_precision")


class LengthBatches:
    """An endless stream of shuffled batches of pairs, each drawn from pairs of similar length: every pass
    is shuffled, cut into chunks of ``chunk`` batches, each chunk sorted by the longer text of its pairs
    and cut into batches, and the batches shuffled. Random ticket batches are padded to about three times
    their tokens (one long ticket pads the rest); these to about 1.5 times."""

    def __init__(self, pairs: Sequence[Any], tokenizer, batch_size: int, *, max_length: int, rng, chunk: int = 16):
        self.pairs, self.batch_size, self.chunk, self.rng = pairs, batch_size, chunk, rng
        texts = sorted({t for p in pairs for t in (p.anchor, p.positive)})
        ids = tokenizer(texts, add_special_tokens=True, truncation=True, max_length=max_length)["input_ids"]
        tokens = dict(zip(texts, ids, strict=True))
        self.lengths = np.array([min(max_length, max(len(tokens[p.anchor]), len(tokens[p.positive]))) for p in pairs])
        self.order: list[int] = []
        self.ready: list[list[int]] = []

    def next(self) -> list[Any]:
        """The next batch."""
        if not self.ready:
            # at most one pass in a chunk: sorting would put a pair beside its own copy
            size = self.batch_size * min(self.chunk, len(self.pairs) // self.batch_size)
            while len(self.order) < size:
                left = set(self.order)  # the next pass starts with pairs the last one's remainder lacks
                fresh = self.rng.permutation(len(self.pairs)).tolist()
                self.order += [n for n in fresh if n not in left] + [n for n in fresh if n in left]
            chunk, self.order = self.order[:size], self.order[size:]
            chunk.sort(key=lambda n: self.lengths[n])
            self.ready = [chunk[s : s + self.batch_size] for s in range(0, len(chunk), self.batch_size)]
            self.rng.shuffle(self.ready)
        return [self.pairs[n] for n in self.ready.pop()]


def mixed_precision(precision: str) -> bool:
    """Whether to train in bfloat16: ``"bfloat16"``, ``"float32"``, or ``"auto"`` (where the CPU has it)."""
    if precision not in ("auto", "bfloat16", "float32"):
        raise ValueError(f"precision must be auto, bfloat16 or float32, not {precision!r}")
    if precision != "auto":
        return precision == "bfloat16"
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
