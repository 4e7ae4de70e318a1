"""The analyst notebooks run top to bottom on the demo data (a fresh SQLite database), and are kept in
git without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import ROOT
from triage.bundles.registry import get_active, list_versions
from triage.bundles.retrain import retrain
from triage.bundles.training import KIND

pytestmark = pytest.mark.slow  # notebook kernels

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_stored_without_outputs():
    assert [p.name for p in NOTEBOOKS] == [
        "01-explore-resolved-tickets.ipynb",
        "02-retrain-and-evaluate.ipynb",
        "03-compare-and-promote.ipynb",
    ]
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.fixture
def demo_world(deployments, encoder, tmp_path: Path, monkeypatch):
    settings = deployments.copy("sqlite", "loaded", tmp_path)  # the demo data, no bundle yet
    engine = make_engine(settings.database.url)
    sessions = make_session_factory(engine)
    first = retrain(sessions, encoder, settings.models.artifacts_dir, promote=True)
    assert first["promoted"]
    monkeypatch.setenv("HELPDESK_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("HELPDESK_ARTIFACTS_DIR", str(settings.models.artifacts_dir))
    yield sessions, first["version"]
    engine.dispose()


def test_notebooks_run_on_the_demo_data(demo_world):
    import nbformat
    from nbclient import NotebookClient

    sessions, first = demo_world
    outputs = {}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        where = {"metadata": {"path": str(ROOT)}}
        NotebookClient(notebook, timeout=300, kernel_name="python3", resources=where).execute()
        text = []
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", (path.name, output)
                text.append(output.get("text", "") or json.dumps(output.get("data", {}).get("text/plain", "")))
        outputs[path.stem] = "\n".join(text)
        images = sum("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
        assert images >= (0 if "compare" in path.name else 2), f"{path.name} drew too few plots"

    assert '"rows": 349' in outputs["01-explore-resolved-tickets"]
    assert "held-out tickets, accuracy" in outputs["02-retrain-and-evaluate"]
    promoted = outputs["03-compare-and-promote"]
    assert "promoted" in promoted or "refused:" in promoted
    with session_scope(sessions) as session:
        assert len(list_versions(session, KIND)) == 2  # the notebook's candidate
        assert get_active(session, KIND).version == first  # promoted, then rolled back (or refused)
