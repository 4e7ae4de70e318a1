"""Which encoder a deployment runs: the backends by name, loaded from plain arguments or from the settings.
Above the backends (:mod:`triage.ml.encoder`, :mod:`triage.ml.onnx_encoder`), so no backend imports another."""

from __future__ import annotations

from pathlib import Path

from models.settings import Settings
from triage.ml.encoder import FINETUNE_MANIFEST, Encoder, FineTunedEncoder, MiniLMEncoder, MultilingualUSEEncoder
from triage.ml.threads import pin_threads

__all__ = ("BACKENDS", "MULTILINGUAL", "configured_encoder", "load_encoder")

BACKENDS = ("minilm", "minilm-int8", "use-multilingual")
MULTILINGUAL = frozenset({"use-multilingual"})  # the backends whose encoder matches across languages


def load_encoder(
    name: str = "minilm",
    *,
    batch_size: int = 16,
    threads: int | None = None,
    artifacts_dir: Path | None = None,
    lazy: bool = False,
) -> Encoder:
    """Load the encoder backend ``name``: ``minilm`` (PyTorch), ``minilm-int8`` (the same model on ONNX
    Runtime with int8 weights, exported once into ``artifacts_dir``), ``use-multilingual``, or the folder
    of a fine-tuned MiniLM (``helpdesk finetune``).
    ``threads`` caps the backend's own thread pool (torch, ONNX Runtime, USE); ``lazy`` defers loading
    the PyTorch model to its first texts (see :class:`MiniLMEncoder`)."""
    if name == "minilm":
        return MiniLMEncoder(batch_size=batch_size, lazy=lazy, threads=threads)
    if name == "minilm-int8":
        from triage.ml.onnx_encoder import OnnxInt8Encoder, ensure_int8_artifact

        if artifacts_dir is None:
            raise ValueError("the minilm-int8 encoder needs an artifacts folder to keep its exported model in")
        return OnnxInt8Encoder(ensure_int8_artifact(artifacts_dir), threads=threads)  # one text per run, no batches
    if name == "use-multilingual":
        return MultilingualUSEEncoder(batch_size=batch_size, threads=threads or 2)
    if (Path(name) / FINETUNE_MANIFEST).is_file():
        return FineTunedEncoder(name, batch_size=batch_size, lazy=lazy, threads=threads)
    raise ValueError(f"unknown encoder {name!r}; choose one of {list(BACKENDS)} or a fine-tuned encoder's folder")


def configured_encoder(settings: Settings) -> Encoder:
    """The encoder backend and batch size the settings name, with this process's threads pinned to the
    settings' count. The PyTorch model loads on its first texts (a command whose texts are all cached
    never loads it); call ``.load()`` to load it now."""
    threads = settings.threads_per_worker()
    pin_threads(threads)
    models = settings.models
    return load_encoder(
        models.encoder,
        batch_size=models.encode_batch_size,
        threads=threads,
        artifacts_dir=models.artifacts_dir,
        lazy=True,
    )
