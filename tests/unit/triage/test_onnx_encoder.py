"""The int8 ONNX backend: exported once into the artifacts folder, reused, close to the PyTorch vectors."""

from __future__ import annotations

import numpy as np
import pytest

from triage.ml.encoders import load_encoder
from triage.ml.onnx_encoder import ARTIFACT_KIND, MODEL_FILE, OnnxInt8Encoder

TEXTS = [
    "I forgot my VPN password",
    "reset my vpn password",
    "the printer on floor 3 is jammed again and shows error 13",
    "",
    "Mijn wachtwoord werkt niet meer",
    "card payment was declined at the supermarket " * 40,  # longer than the 256-token limit
]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("int8-artifacts")


@pytest.fixture(scope="module")
def int8(artifacts):
    return load_encoder("minilm-int8", artifacts_dir=artifacts, threads=2)


def test_int8_vectors_are_normalised_and_close_to_pytorch(int8, encoder):
    vectors = int8.encode_batch(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    reference = encoder.encode_batch(TEXTS)
    assert float(np.min(np.sum(vectors * reference, axis=1))) > 0.95
    # the neighbour structure is the same: the VPN texts are each other's nearest
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    assert sims[0].argmax() == 1 and sims[1].argmax() == 0


def test_a_texts_vector_does_not_depend_on_its_batchmates(int8):
    together = int8.encode_batch(TEXTS)
    alone = np.vstack([int8.encode(text) for text in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert int8.encode_batch([]).shape == (0, 384)


def test_the_artifact_is_exported_once_and_describes_itself(int8, artifacts):
    folders = list((artifacts / ARTIFACT_KIND).iterdir())
    assert [f.name for f in folders] == [int8.artifact.name]
    stamp = (int8.artifact / MODEL_FILE).stat().st_mtime_ns
    again = load_encoder("minilm-int8", artifacts_dir=artifacts)
    assert again.artifact == int8.artifact
    assert (int8.artifact / MODEL_FILE).stat().st_mtime_ns == stamp
    info = int8.describe()
    assert info["name"] == OnnxInt8Encoder.name != "all-MiniLM-L6-v2"  # its own embedding-cache keys
    assert info["quantisation"]["weight_type"] == "QInt8"


def test_a_damaged_artifact_is_refused(int8, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(int8.artifact, copy)
    with (copy / MODEL_FILE).open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ValueError, match="damaged"):
        OnnxInt8Encoder(copy)


def test_int8_needs_an_artifacts_folder():
    with pytest.raises(ValueError, match="artifacts folder"):
        load_encoder("minilm-int8")
