"""Contrastive fine-tuning of the real MiniLM on the CPU: pairs, the time budget, a loadable encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from triage.ml.cpu_training import LengthBatches, mixed_precision
from triage.ml.encoder import FINETUNE_MANIFEST, FineTunedEncoder, MiniLMEncoder
from triage.ml.encoders import load_encoder
from triage.ml.finetune import Pair, finetune_encoder, section_pairs, ticket_pairs

TEXTS = ["vpn drops", "vpn keeps disconnecting", "printer jam", "paper stuck in printer", "lone label"]
LABELS = ["Network", "Network", "Printing", "Printing", "Other"]


def test_pairs_join_same_labels_resolutions_and_headings():
    pairs = ticket_pairs(TEXTS, {"label": LABELS}, rng=np.random.default_rng(0))
    assert sorted((p.anchor, p.positive) for p in pairs) == [
        ("paper stuck in printer", "printer jam"),
        ("printer jam", "paper stuck in printer"),
        ("vpn drops", "vpn keeps disconnecting"),
        ("vpn keeps disconnecting", "vpn drops"),
    ]  # a label of one text has no pair
    assert {p.group for p in pairs} == {"label:Network", "label:Printing"}
    both = ticket_pairs(
        TEXTS, {"category": LABELS, "priority": [None, None, "high", "high", None]}, rng=np.random.default_rng(0)
    )
    assert {p.group for p in both} == {"category:Network", "category:Printing"}  # urgency says nothing of topic
    alone = ticket_pairs(TEXTS, {"priority": [None, None, "high", "high", None]}, rng=np.random.default_rng(0))
    assert {p.group for p in alone} == {"priority:high"}  # unless it is all there is
    resolutions = ["Reset the token.", "Reset the  token.", None]
    resolved = ticket_pairs(["a", "b", "c"], {}, resolutions, rng=np.random.default_rng(0))
    assert len(resolved) == 2 and resolved[0].group == resolved[1].group  # the same resolution, one group
    # one pair per ticket (a pass over the pairs is a pass over the tickets), its positive drawn among
    # what it has: a ticket of its category, one of its assignee, its resolution
    labels = {"category": LABELS, "assignee": ["Net", "Desk", "Desk", "Desk", "Net"]}
    reboot = ["Reboot.", None, None, None, None]
    drawn = [ticket_pairs(TEXTS, labels, reboot, rng=np.random.default_rng(s)) for s in range(40)]
    assert all([p.anchor for p in pairs] == TEXTS for pairs in drawn)  # "lone label" shares an assignee
    first = {p.group.split(":")[0] for pairs in drawn for p in pairs[:1]}
    assert first == {"category", "assignee", "resolution"}
    assert {p.positive for pairs in drawn for p in pairs[4:]} == {"vpn drops"}
    section = {"slug": "vpn", "anchor": "steps", "heading_path": ["VPN", "Steps"], "text": "Open the client.\n"}
    assert section_pairs([section]) == [Pair("VPN > Steps", "Open the client.", "section:vpn#steps")]


class _Tokenizer:
    """Words as tokens, the tokenizer's calling convention."""

    def __call__(self, texts, add_special_tokens=True, truncation=False, max_length=None):
        return {"input_ids": [t.split()[: max_length if truncation else None] for t in texts]}


def test_batches_hold_pairs_of_similar_length_and_every_pair_once_a_pass():
    pairs = [Pair(" ".join(["w"] * n), "x", str(n)) for n in range(1, 65)]
    batches = LengthBatches(pairs, _Tokenizer(), 4, max_length=48, rng=np.random.default_rng(0), chunk=4)
    one_pass = [batches.next() for _ in range(16)]
    assert sorted(len(p.anchor.split()) for batch in one_pass for p in batch) == list(range(1, 65))
    spread = [max(len(p.anchor.split()) for p in b) - min(len(p.anchor.split()) for p in b) for b in one_pass]
    assert np.mean(spread) < 16  # random batches of 4 from 64 lengths spread over about 38
    few = LengthBatches(pairs[:6], _Tokenizer(), 4, max_length=48, rng=np.random.default_rng(0))
    assert all(len({p.group for p in few.next()}) == 4 for _ in range(20))  # never a pair beside its own copy


def test_precision_is_chosen_or_refused():
    assert mixed_precision("float32") is False and mixed_precision("bfloat16") is True
    assert mixed_precision("auto") in (True, False)
    with pytest.raises(ValueError, match="precision"):
        mixed_precision("half")


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> tuple[Path, object]:
    pairs = [
        Pair(f"{a} {n}", f"{b} {n}", g)
        for n in range(4)
        for a, b, g in [
            ("my vpn drops", "the vpn keeps disconnecting", "Network"),
            ("printer jammed", "paper stuck in the printer", "Printing"),
            ("forgot my password", "reset my password please", "Accounts"),
            ("laptop will not start", "my laptop does not boot", "Hardware"),
        ]
    ]
    folder = tmp_path_factory.mktemp("encoder") / "tuned"
    report = finetune_encoder(MiniLMEncoder(lazy=True).model_path, pairs, folder, seconds=600, passes=1.0, batch_size=8)
    return folder, report


def test_fine_tuning_saves_a_self_describing_encoder_that_loads_by_its_folder(tuned, encoder):
    folder, report = tuned
    assert report.steps == 2 and report.stopped_by == "passes" and report.pairs == 16 and report.passes == 1.0
    assert report.texts_per_second > 0 and len(report.fingerprint) == 64
    assert report.precision in ("bfloat16", "float32")
    assert json.loads((folder / FINETUNE_MANIFEST).read_text())["steps"] == 2
    loaded = load_encoder(str(folder))
    assert isinstance(loaded, FineTunedEncoder) and loaded.name == f"all-MiniLM-L6-v2+ft-{report.fingerprint[:12]}"
    assert loaded.describe()["base"] == "all-MiniLM-L6-v2" and loaded.describe()["finetune"]["steps"] == 2
    vectors = loaded.encode_batch(["my vpn drops", "printer jammed"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert not np.allclose(vectors, encoder.encode_batch(["my vpn drops", "printer jammed"]), atol=1e-4)  # it learned


def test_the_time_budget_stops_training_and_still_saves(tmp_path: Path):
    pairs = [Pair(f"anchor {n}", f"positive {n}", str(n)) for n in range(8)]
    report = finetune_encoder(MiniLMEncoder(lazy=True).model_path, pairs, tmp_path / "t", seconds=0, batch_size=8)
    assert report.steps == 0 and report.stopped_by == "time budget" and report.loss_last is None
    assert (tmp_path / "t" / FINETUNE_MANIFEST).exists()
    with pytest.raises(ValueError, match="fewer than one batch"):
        finetune_encoder(MiniLMEncoder(lazy=True).model_path, pairs[:3], tmp_path / "u", seconds=10, batch_size=8)


def test_too_few_pairs_are_refused_before_anything_is_trained(sessions, tmp_path: Path):
    from models.db import session_scope
    from triage.bundles.adaptation import FineTuning, adapted_encoder
    from triage.errors import InvalidQuery

    with session_scope(sessions) as session, pytest.raises(InvalidQuery) as error:
        adapted_encoder(session, [], [], FineTuning(minutes=1), tmp_path / "encoder")
    assert error.value.field == "finetune_minutes" and "only 0 pairs" in error.value.detail
    assert not (tmp_path / "encoder").exists()
    with pytest.raises(ValueError, match="above zero"):
        FineTuning(minutes=0)


def test_fewer_pairs_than_a_batch_train_in_one_smaller_batch(tmp_path: Path):
    from triage.ml.finetune import finetune_minilm

    pairs = [Pair(f"vpn problem {n}", f"vpn keeps dropping {n}", "Network") for n in range(20)]
    encoder, report = finetune_minilm(pairs, tmp_path / "small", seconds=600)
    assert report.batch_size == 20 and report.steps == 1 and encoder.name.endswith(report.fingerprint[:12])
