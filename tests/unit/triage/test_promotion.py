"""The gate's pure parts: library and encoder compatibility, label-set changes."""

from __future__ import annotations

from triage.bundles.fields import label_changes
from triage.bundles.promotion import library_check
from triage.ml.bundle import library_versions


def test_a_bundle_from_other_libraries_or_another_encoder_is_incompatible():
    here = library_versions()
    same = {"libraries": dict(here), "encoder": {"name": "minilm"}}
    assert library_check(same, "minilm") == {"compatible": True, "differences": {}}
    patch_level = {**same, "libraries": {**here, "python": here["python"].rsplit(".", 1)[0] + ".99"}}
    assert library_check(patch_level, "minilm")["compatible"]  # a Python patch release does not matter
    older = {**same, "libraries": {**here, "scikit-learn": "0.24.2"}}
    check = library_check(older, "use-multilingual")
    assert not check["compatible"]
    assert check["differences"]["scikit-learn"] == {"bundle": "0.24.2", "here": here["scikit-learn"]}
    assert check["differences"]["encoder"] == {"bundle": "minilm", "here": "use-multilingual"}


def test_label_changes_list_what_was_added_and_removed_per_field():
    old = {"metrics": {"assignee": {"labels": ["Desk", "Network Operations"]}, "priority": {"labels": ["low"]}}}
    new = {"metrics": {"assignee": {"labels": ["Desk", "Network Team"]}, "priority": {"labels": ["low"]}}}
    assert label_changes(old, new) == {"assignee": {"added": ["Network Team"], "removed": ["Network Operations"]}}
    assert label_changes(new, {"metrics": {}})["priority"] == {"added": [], "removed": ["low"]}
