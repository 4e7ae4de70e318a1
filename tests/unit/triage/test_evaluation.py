from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from triage.desk.ticket_import import parse_mapping
from triage.errors import InvalidImport
from triage.evaluation.classification import evaluate_file, open_set_auroc
from triage.evaluation.labelled import adaptation_rows, load_labelled, split_rows, unknown_labels
from triage.evaluation.report import write_report
from triage.ml.inputs import make_inputs

DEMO = Path(__file__).resolve().parents[3] / "data" / "tickets"
MAPPING = parse_mapping(
    ["subject=subject", "body=body", "category=category", "priority=priority", "created_at=created_at"]
)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eval") / "history.jsonl"
    path.write_text("".join(p.read_text() for p in sorted(DEMO.glob("*.jsonl"))))
    return path


def test_report_on_demo_history(history, encoder, tmp_path):
    report = evaluate_file(history, MAPPING, ["category", "priority"], encoder.encode_batch)
    category = report["fields"]["category"]
    assert category["split"].startswith("time-based")
    assert category["rows"]["test"] == pytest.approx(0.2 * 349, abs=1)
    assert category["model"]["accuracy"] > category["baselines"]["majority"]["accuracy"]
    assert set(category["baselines"]) == {"majority", "tfidf_logreg", "embedding_logreg"}
    assert 0 <= category["calibration"]["ece"] <= 1
    assert 0 < category["conformal"]["coverage"] <= 1
    assert category["abstention"]["target_precision"] == 0.9
    matrix = category["confusion_matrix"]
    assert (
        len(matrix["matrix"]) == len(matrix["labels"]) and sum(map(sum, matrix["matrix"])) == category["rows"]["test"]
    )
    assert "macro avg" in category["per_class"]
    # both decision rules, each with its abstention, and macro-F1 per band of training rows per label
    assert set(category["decisions"]) == {"most_probable", "balanced"}
    assert category["decisions"]["most_probable"]["accuracy"] == category["model"]["accuracy"]
    assert category["decisions"]["most_probable"]["exponent"] == 0
    assert category["decisions"]["most_probable"]["abstention"]["coverage"] == category["abstention"]["coverage"]
    assert 0 <= category["decisions"]["balanced"]["exponent"] <= 1
    for scores in (category["model"], category["baselines"]["tfidf_logreg"], category["decisions"]["balanced"]):
        assert set(scores["macro_f1_by_band"]) == {"1-9", "10-49", "50+"}
        assert sum(band["labels"] for band in scores["macro_f1_by_band"].values()) == len(
            {k for k, c in category["per_class"].items() if isinstance(c, dict) and "avg" not in k and c["support"]}
        )

    json_path, md_path = write_report(report, tmp_path, "demo")
    assert json.loads(json_path.read_text())["fields"]["priority"]["labels"]
    text = md_path.read_text()
    assert "## category" in text and "baseline: tfidf_logreg" in text and "Confusion matrix" in text
    assert "| triage classifier, balanced decisions |" in text and "labels with 50+ training rows" in text


def test_an_adapted_encoder_learns_only_from_rows_no_field_tests_on(history, encoder):
    """``adapt`` (e.g. fine-tuning) sees the training rows of every field, never a test row."""
    seen: dict = {}

    def adapt(texts: list[str], labels: dict) -> object:
        seen.update(texts=texts, labels=labels)
        return encoder.encode_batch

    report = evaluate_file(history, MAPPING, ["category", "priority"], encoder.encode_batch, adapt=adapt)
    data = load_labelled(history, MAPPING, ["category", "priority"])
    tested = set()
    for field in ("category", "priority"):
        _, test, _ = split_rows(data.labels[field], data.created_at, test_size=0.2, seed=42)
        tested |= {data.texts[i] for i in test}
        assert report["fields"][field]["rows"]["test"] == len(test)
    assert seen["texts"] and not set(seen["texts"]) & tested
    assert len(seen["texts"]) == len(data.texts) - len(tested) == len(seen["labels"]["priority"])
    # with the open-set check, the labels it will hold out stay unknown to the encoder too
    splits = {f: split_rows(data.labels[f], data.created_at, test_size=0.2, seed=42) for f in ("category",)}
    rows = adaptation_rows(data, ["category"], splits, open_set_unknown=2, seed=42)
    held = unknown_labels([data.labels["category"][i] for i in splits["category"][0]], 2, 42)
    assert rows and not {data.labels["category"][i] for i in rows} & set(held)


def test_open_set_abstain_score_separates_unseen_labels():
    rng = np.random.default_rng(0)
    centers = np.eye(16)[:8]
    labels = np.repeat(np.arange(8), 40)
    vectors = centers[labels] + rng.normal(scale=0.2, size=(len(labels), 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"topic{label} item {i}" for i, label in enumerate(labels)]
    X, y = make_inputs(texts, vectors.astype(np.float32)), np.array([f"L{label}" for label in labels])
    train = np.arange(len(y)) % 4 != 0
    result = open_set_auroc(X[train], y[train], X[~train], y[~train], n_unknown=2, seed=1)
    assert len(result["held_out_labels"]) == 2
    assert min(result["auroc"], result["auroc_familiarity"], result["auroc_new_kind"]) > 0.9
    # a new kind of ticket abstains: the held-out topics far more often than the known ones
    assert result["unknown_rows_new_kind"] > 0.5 and result["known_rows_new_kind"] <= 0.2  # 60 known rows
    assert result["unknown_rows_abstained"] >= result["unknown_rows_new_kind"]
    # in arrival order the earlier rows of a held-out topic are the recent open tickets: it can only gain
    arrival = result["in_arrival_order"]
    assert arrival["auroc_new_kind"] > 0.9 and arrival["unknown_rows_new_kind"] >= result["unknown_rows_new_kind"]
    assert arrival["known_rows_new_kind"] <= 0.2


def test_split_is_stratified_without_times():
    labels = ["a"] * 50 + ["b"] * 50 + [None] * 5 + ["rare"]
    train, test, how = split_rows(labels, None, test_size=0.2, seed=42)
    assert how == "stratified, seed 42"
    assert len(test) == 20 and not set(train) & set(test)
    assert sum(labels[i] == "a" for i in test) == 10
    assert all(labels[i] not in (None, "rare") for i in np.concatenate([train, test]))


@pytest.mark.parametrize(
    ("content", "mapping", "fields", "field"),
    [
        ("", ["subject=s", "category=c"], ["category"], "file"),
        ('{"s": "a", "c": "x"}\n', ["subject=s", "category=c"], ["subject"], "field"),
        ('{"s": "a", "c": "x"}\n', ["subject=s", "category=c"], ["colour"], "map.colour"),
        ('{"s": "a", "c": "x"}\n', ["subject=s"], ["category"], "map.category"),
        ('{"s": "a", "c": "x"}\n', ["subject=s", "category=nope"], ["category"], "map.category"),
        ('{"s": "a", "c": "x"}\n{"s": "  ", "c": "y"}\n', ["subject=s", "category=c"], ["category"], "row 2.subject"),
    ],
)
def test_bad_files_name_the_field(tmp_path, content, mapping, fields, field):
    path = tmp_path / "data.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidImport) as info:
        load_labelled(path, parse_mapping(mapping), fields)
    assert info.value.field == field


def test_any_labelled_column_can_be_evaluated(tmp_path):
    """A field a deployment adds (request_type) is evaluated like the built-in ones."""
    path = tmp_path / "kinds.jsonl"
    path.write_text('{"s": "printer dead", "k": "incident"}\n{"s": "new laptop please", "k": "request"}\n')
    mapping = parse_mapping(["subject=s", "request_type=k"], known=("subject", "request_type"))
    data = load_labelled(path, mapping, ["request_type"])
    assert data.labels == {"request_type": ["incident", "request"]}


def test_a_label_column_with_one_class_is_refused(tmp_path, encoder):
    path = tmp_path / "one.jsonl"
    path.write_text("".join(json.dumps({"s": f"text {i}", "c": "same"}) + "\n" for i in range(20)))
    with pytest.raises(InvalidImport) as info:
        evaluate_file(path, parse_mapping(["subject=s", "category=c"]), ["category"], encoder.encode_batch)
    assert info.value.field == "map.category"


def test_unknown_mapping_field_is_refused():
    with pytest.raises(InvalidImport) as info:
        parse_mapping(["urgency=prio"])
    assert info.value.field == "map.urgency"
