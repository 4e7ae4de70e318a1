"""The fields a bundle was trained for and how two bundles' fields and label sets differ."""

from __future__ import annotations

from typing import Any

from models.tickets import LABEL_FIELDS

__all__ = ("bundle_fields", "declared_fields", "label_changes")


def declared_fields(manifest: dict[str, Any]) -> list[str]:
    """The fields a bundle was trained for: as declared then, else (older bundles) the ones it has a
    classifier for or skipped, else the three built-in ones."""
    if manifest.get("fields"):
        return [f["name"] for f in manifest["fields"]]
    named = [*manifest.get("classifiers", {}), *manifest.get("classifiers_skipped", {})]
    return list(dict.fromkeys(named)) or list(LABEL_FIELDS)


def _labels(manifest: dict[str, Any]) -> dict[str, set[str]]:
    return {name: set(m.get("labels", [])) for name, m in manifest.get("metrics", {}).items()}


def bundle_fields(*manifests: dict[str, Any]) -> list[str]:
    """The fields of any of ``manifests``, in order of first appearance."""
    return list(dict.fromkeys(name for m in manifests for name in declared_fields(m)))


def label_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per field, the labels ``new`` adds and removes compared with ``old`` (unchanged fields left out);
    a field ``new`` adds or drops is reported with ``"field": "added"`` or ``"removed"``."""
    before, after = _labels(old), _labels(new)
    old_fields, new_fields = set(declared_fields(old)), set(declared_fields(new))
    changes: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys([*bundle_fields(old, new), *before, *after]):
        old_labels, new_labels = before.get(name, set()), after.get(name, set())
        added, removed = sorted(new_labels - old_labels), sorted(old_labels - new_labels)
        change: dict[str, Any] = {"added": added, "removed": removed}
        if name not in old_fields:
            change["field"] = "added"
        elif name not in new_fields:
            change["field"] = "removed"
        if added or removed or "field" in change:
            changes[name] = change
    return changes
