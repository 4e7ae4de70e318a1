"""Bundles written by earlier code keep loading: skops records each classifier's class path, so a module
that moves must keep its old trusted type names working. `tests/data/bundles/triage/20261130T103037Z-fdafad` was
written on 2026-11-30, before `triage/` was split into subpackages (issue 19), from the first 45 resolved
demo tickets; it holds both trusted types under their old names (`triage.classifiers.TriageClassifier`,
`triage.stacking.SharedWeightStacker`; now under `triage.ml`). Never rewrite it: it stands for bundles already
on disk."""

from __future__ import annotations

from tests.conftest import ROOT
from triage.bundles.loading import load_bundle
from triage.desk.suggest import suggest

OLD_BUNDLE = ROOT / "tests" / "data" / "bundles" / "triage" / "20261130T103037Z-fdafad"


def test_a_bundle_written_before_the_house_move_loads_and_predicts(encoder):
    bundle = load_bundle(OLD_BUNDLE)  # checksums verified, classifiers through skops' trusted types
    assert bundle.version == "20261130T103037Z-fdafad" and set(bundle.classifiers) == {
        "assignee",
        "category",
        "priority",
    }
    answer = suggest(bundle, None, encoder, subject="VPN keeps dropping when I work from home", body=None)
    assert answer.bundle_version == bundle.version and len(answer.similar_tickets) == 5
    assert set(answer.predictions) == {"assignee", "category", "priority"}
    assert all(p.status in {"ok", "abstained"} and p.confidence for p in answer.predictions.values())
