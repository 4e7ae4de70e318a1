"""The ``helpdesk`` command line, run as a real process against each database backend."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Article, Ticket
from models.audit import list_audit
from models.db import make_engine, make_session_factory, session_scope
from models.settings import Settings
from tests.conftest import BACKENDS, DEMO_FIELDS
from tests.processes import helpdesk, settings_env
from triage.evaluation.bench import STAGES
from triage.work.layout import choose_layout

pytestmark = pytest.mark.slow  # real helpdesk processes

ROOT = Path(__file__).resolve().parents[2]


def count(settings, model) -> int:
    engine = make_engine(settings.database.url)
    with session_scope(make_session_factory(engine)) as session:
        n = session.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return n


def test_upgrade_import_and_reimport(settings, backend, deployments, tmp_path: Path):
    assert helpdesk(settings, "db", "upgrade").returncode == 0
    first = helpdesk(settings, "kb", "import", str(ROOT / "data" / "kb"))
    assert first.returncode == 0 and "created" in first.stdout
    again = helpdesk(settings, "kb", "import", str(ROOT / "data" / "kb"))
    assert "unchanged" in again.stdout and "created" not in again.stdout

    csv = tmp_path / "export.csv"
    csv.write_text("No,Title,Text,Queue\nA-1,VPN down,Cannot connect,Network\nA-2,Toner,Printer empty,Devices\n")
    args = [
        "tickets",
        "import",
        str(csv),
        "--map",
        "external_id=No",
        "--map",
        "subject=Title",
        "--map",
        "body=Text",
        "--map",
        "assignee=Queue",
    ]
    first_import = helpdesk(settings, *args).stdout
    assert "2 created" in first_import and "2 texts newly embedded" in first_import
    assert "0 created, 2 already present, 0 texts newly embedded" in helpdesk(settings, *args).stdout
    assert count(settings, Ticket) == 2
    # the ingest embedded the texts training encodes, so training finds every vector cached
    from triage.ml.embedding_cache import EmbeddingCache
    from triage.text.redaction import ticket_texts

    engine = make_engine(settings.database.url)
    with session_scope(make_session_factory(engine)) as session:
        texts = ticket_texts(session.scalars(select(Ticket)).all())
    engine.dispose()
    cache = EmbeddingCache(settings.models.artifacts_dir / "cache" / "embeddings.sqlite", "all-MiniLM-L6-v2", 384)
    assert len(cache.get_many([cache.key(t) for t in texts])) == 2

    # the demo's JSONL ticket files through the same command (their vectors embedded once per run)
    deployments.warm_cache(backend, settings.models.artifacts_dir)
    for file in sorted((ROOT / "data" / "tickets").glob("*.jsonl")):
        assert helpdesk(settings, "tickets", "import", str(file)).returncode == 0
    assert count(settings, Ticket) == 2 + 349


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tickets", "import", "{csv}", "--map", "subject=Headline"], "error [map.subject]"),
        (["tickets", "import", "{csv}", "--map", "subject"], "error [map]"),
        (["tickets", "import", "{missing}"], "error [file]"),
        (["kb", "import", "{broken}"], "error [broken.md:front_matter]"),
        (["finetune", "{csv}", "--map", "subject=Title", "--out", "{out}"], "error [map]"),
        (["finetune", "{csv}", "--map", "subject=Title", "--map", "category=Text", "--out", "{out}"], "error [file]"),
        (["finetune", "{csv}", "--map", "subject=Title", "--map", "category=Text", "--out", "{full}"], "error [out]"),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(settings, tmp_path: Path, args, message):
    csv = tmp_path / "t.csv"
    csv.write_text("Title,Text\nVPN down,Cannot connect\n")
    broken = tmp_path / "kb"
    broken.mkdir()
    (broken / "fine.md").write_text("---\ntitle: Fine\nslug: fine\n---\nbody\n")
    (broken / "broken.md").write_text("---\ntitle: [oops\n---\nbody\n")
    full = tmp_path / "full"  # an encoder folder must not overwrite anything
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    paths = {"csv": csv, "missing": tmp_path / "nope.csv", "broken": broken, "out": tmp_path / "enc", "full": full}
    result = helpdesk(settings, *(a.format(**paths) for a in args))
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr
    assert count(settings, Ticket) == 0 and count(settings, Article) == 0
    assert not (tmp_path / "enc").exists() and (full / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("command", [("db", "upgrade"), ("serve",)])
def test_a_bad_setting_is_one_clear_line_naming_the_variable(settings, command):
    result = helpdesk(settings, *command, env=settings_env(settings, HELPDESK_NEW_KIND_RECENT_DAYS="a week"))
    assert result.returncode == 2
    assert result.stderr == "error: HELPDESK_NEW_KIND_RECENT_DAYS must be a number at least 0, not 'a week'\n"


def test_train_with_articles_only_says_predictions_are_unavailable(settings, backend, deployments):
    deployments.warm_cache(backend, settings.models.artifacts_dir)  # the demo KB's passages, embedded once per run
    helpdesk(settings, "kb", "import", str(ROOT / "data" / "kb"))
    result = helpdesk(settings, "train", "--promote")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "as a candidate" in result.stdout and "is active" in result.stdout
    assert "category: unavailable" in result.stdout
    bundles = list((settings.models.artifacts_dir / "triage").iterdir())
    assert len(bundles) == 1 and (bundles[0] / "manifest.json").is_file()


def test_evaluate_writes_json_and_markdown_reports(deployments, tmp_path: Path):
    history = tmp_path / "history.jsonl"
    history.write_text("".join(p.read_text() for p in sorted((ROOT / "data" / "tickets").glob("*.jsonl"))))
    deployments.warm_cache(BACKENDS[0], tmp_path / "artifacts")  # the demo tickets' vectors, embedded once per run
    env = {**os.environ, "HELPDESK_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    args = [
        "evaluate",
        str(history),
        "--map",
        "subject=subject",
        "--map",
        "body=body",
        "--map",
        "category=category",
        "--out",
        str(tmp_path / "reports"),
    ]
    result = helpdesk(None, *args, env=env, timeout=500)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| triage classifier, most probable decisions (in use) |" in result.stdout
    assert "| triage classifier, balanced decisions |" in result.stdout and "perfectly calibrated" in result.stdout
    report = json.loads((tmp_path / "reports" / "history.json").read_text())
    category = report["fields"]["category"]
    assert category["model"]["stacker"] in {"shared", "full"}
    assert set(category["baselines"]["tfidf_logreg"]) >= {"accuracy", "macro_f1", "macro_f1_known_labels"}
    assert report["settings"]["min_examples"] == 2 and report["settings"]["decision"] == "most_probable"
    assert report["command"].startswith("helpdesk evaluate ")
    assert set(report["fields"]) == {"category"}
    assert (tmp_path / "artifacts" / "cache" / "embeddings.sqlite").is_file()

    bad = helpdesk(None, "evaluate", str(history), "--map", "subject=subject", "--field", "category", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error [map.category]")


def test_kb_status_commands_and_evaluate_kb(settings, tmp_path: Path):
    kb = tmp_path / "kb"
    rows = [("I am still waiting for my card", "card_arrival"), ("The ATM kept my card", "card_swallowed")]
    source = tmp_path / "intents.jsonl"
    source.write_text("".join(json.dumps({"text": t, "intent": i}) + "\n" for t, i in rows))
    made = helpdesk(
        settings, "kb", "intent-articles", str(source), str(kb), "--map", "text=text", "--map", "intent=intent"
    )
    assert made.returncode == 0 and "2 articles written" in made.stdout
    assert helpdesk(settings, "kb", "import", str(kb)).returncode == 0
    archived = helpdesk(settings, "kb", "archive", "card-arrival")
    assert archived.returncode == 0 and "card-arrival is archived (revision 1)" in archived.stdout
    assert helpdesk(settings, "kb", "delete", "card-swallowed").returncode == 0
    assert count(settings, Article) == 1
    missing = helpdesk(settings, "kb", "publish", "card-swallowed")
    assert missing.returncode == 2 and "error [slug]" in missing.stderr

    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"q": "my new card has not arrived", "intent": "card_arrival"}) + "\n")
    args = ["evaluate-kb", str(kb), str(queries), "--map", "text=q", "--map", "article=intent", "--out", str(tmp_path)]
    result = helpdesk(settings, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| hybrid | 1.000 |" in result.stdout
    report = json.loads((tmp_path / "kb-queries.json").read_text())
    assert report["encoder"] == "minilm" and report["methods"]["dense"]["recall@1"] == 1.0
    bad = helpdesk(settings, "evaluate-kb", str(kb), str(queries), "--map", "text=q", "--map", "topic=intent")
    assert bad.returncode == 2 and "error [map.topic]" in bad.stderr


def test_models_commands_gate_shadow_promote_rollback_and_diff(backend, deployments, tmp_path: Path):
    # the demo deployment with its bundle active (importing the demo data and `train --promote` through the
    # CLI are tested above, and `helpdesk demo` does both in test_readme)
    settings = deployments.copy(backend, "active", root=tmp_path)
    second = helpdesk(settings, "train", "--since", "2025-02-01")  # a window: the newer tickets only
    assert second.returncode == 0, second.stderr[-2000:]

    versions = json.loads(helpdesk(settings, "models", "list").stdout)
    assert [v["state"] for v in versions] == ["candidate", "active"]
    candidate, first = versions[0]["version"], versions[1]["version"]
    assert versions[0]["rows"] < versions[1]["rows"]

    gate = json.loads(helpdesk(settings, "models", "gate", "latest").stdout)
    assert gate["candidate"] == candidate and gate["active"] == first and "basis" in gate
    shadow = json.loads(helpdesk(settings, "models", "shadow", "latest", "--last", "20").stdout)
    assert shadow["replayed"] == 20 and set(shadow["fields"]) == DEMO_FIELDS
    diff = json.loads(helpdesk(settings, "models", "diff", first, candidate).stdout)
    assert diff["training_set"]["new"]["window"]["since"].startswith("2025-02-01")

    promoted = helpdesk(settings, "models", "promote", candidate, "--force")
    assert promoted.returncode == 0 and f"bundle {candidate} is active" in promoted.stdout
    back = helpdesk(settings, "models", "rollback")
    assert back.returncode == 0 and f"bundle {first} is active again" in back.stdout
    missing = helpdesk(settings, "models", "promote", "no-such-version")
    assert missing.returncode == 2 and missing.stderr.startswith("error [version]")
    with session_scope(make_session_factory(make_engine(settings.database.url))) as session:
        actions = [(e.action, e.actor.split(":")[0]) for e in list_audit(session, action="model.")[0]]
    assert actions[:2] == [("model.rolled_back", "cli"), ("model.promoted", "cli")]


def test_keys_create_list_and_revoke(settings):
    assert helpdesk(settings, "db", "upgrade").returncode == 0
    created = helpdesk(settings, "keys", "create", "--role", "agent", "--name", "service desk")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.split(": ")[-1].strip()
    assert created.stdout.startswith("key 1 (agent, service desk): hdt_") and len(secret) > 40
    listed = helpdesk(settings, "keys", "list")
    assert "service desk" in listed.stdout and secret not in listed.stdout and secret[:12] in listed.stdout
    assert helpdesk(settings, "keys", "revoke", "1").stdout.strip() == "key 1 (agent, service desk) revoked"
    assert helpdesk(settings, "keys", "list").stdout == ""
    assert "revoked" in helpdesk(settings, "keys", "list", "--all").stdout
    again = helpdesk(settings, "keys", "revoke", "1")
    assert again.returncode == 2 and again.stderr.startswith("error [key_id]")
    bad = helpdesk(settings, "keys", "create", "--role", "root", "--name", "x")
    assert bad.returncode == 2 and "root" in bad.stderr


def test_evaluate_duplicates_and_replies_write_reports(backend, deployments, tmp_path: Path):
    settings = deployments.copy(backend, "loaded", root=tmp_path)  # the demo articles and tickets imported
    rows = [
        ("my card has not arrived", "card_arrival"),
        ("where is my new card", "card_arrival"),
        ("the ATM swallowed my card", "card_swallowed"),
        ("cash machine kept my card", "card_swallowed"),
    ]
    history = tmp_path / "history.jsonl"
    history.write_text("".join(json.dumps({"q": t, "intent": i}) + "\n" for t, i in rows))
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"q": "still waiting for my card to arrive", "intent": "card_arrival"}) + "\n")
    args = ["evaluate-duplicates", str(queries), str(history), "--map", "text=q", "--map", "group=intent"]
    result = helpdesk(settings, *args, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "duplicates-queries.json").read_text())
    assert report["precision@1"] == 1.0 and report["queries"] == 1 and len(report["curve"]) == 10

    replies = helpdesk(settings, "evaluate-replies", "--out", str(tmp_path))
    assert replies.returncode == 0, replies.stderr[-2000:]
    report = json.loads((tmp_path / "replies.json").read_text())
    assert report["held_out"] == 70 and report["same_category_in_top_k"] > report["chance"]


def test_bench_writes_its_figures(datasets_dir, tmp_path: Path):
    env = {
        **os.environ,
        "HELPDESK_DATASETS_DIR": str(datasets_dir),
        "HELPDESK_ENCODER": "minilm-int8",
        "HELPDESK_ANN_EXACT_LIMIT": "5000",
    }
    args = ["bench", "--var", str(tmp_path / "bench"), "--history", "150", "--requests", "8", "--out", str(tmp_path)]
    args += ["--scale", "8000", "--layouts", "auto,1x2", "--rounds", "2", "--no-compare"]
    result = helpdesk(None, *args, env=env, timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "bench-minilm-int8.json").read_text())
    assert report["encoder"] == "all-MiniLM-L6-v2-onnx-int8"
    assert report["history"] == 150 and report["ingest"]["tickets"] == 150 and report["ingest"]["embedded"] > 0
    assert report["ingest"]["ratio"] > 0
    chosen = choose_layout(Settings.from_env({"HELPDESK_ENCODER": "minilm-int8"}))  # serve's default here
    assert [s["layout"] for s in report["servers"]] == [f"auto ({chosen.workers}x{chosen.threads})", "1x2"]
    assert all([level["clients"] for level in s["levels"]] == [1, 8, 32] for s in report["servers"])
    assert report["serving_threads"] == chosen.threads
    assert set(report["in_process"]["stages"]) == set(STAGES) and set(report["http_path"]) == {
        "audit insert",
        "serialisation",
    }
    stages = sum(figures["p50"] for figures in report["in_process"]["stages"].values())
    assert 0 < stages <= report["in_process"]["total"]["p50"] * 1.5  # the stages account for the model work
    assert report["cpu_bound_per_second"] == round(
        report["cores"] * 1000 / report["in_process"]["cpu_ms_per_request"], 1
    )
    assert report["summary"]["32 clients / CPU bound, 1x2 (workers x threads) (target >= 0.7)"] > 0
    rounds = report["servers"][0]["overhead_rounds"]
    assert len(rounds) == 2 and all(r["ratio"] == round(r["http_p50"] / r["in_process_p50"], 2) for r in rounds)
    assert "overhead_rounds" not in report["servers"][1]
    (scale,) = report["scale"]
    assert scale["vectors"] == 8000 and scale["chosen_kind"] == "hnsw" and scale["recall_at_10"] >= 0.9
    assert scale["suggest_in_process"]["total"]["p50"] > 0
    assert report["summary"]["cold start to ready (s)"] > 0


def test_bench_refuses_a_malformed_layout(tmp_path: Path):
    result = helpdesk(None, "bench", "--var", str(tmp_path), "--layouts", "1x2,two", env=dict(os.environ), timeout=120)
    assert result.returncode == 2 and "'two' is not auto or WORKERSxTHREADS" in result.stderr
