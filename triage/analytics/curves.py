"""Calibration and precision-coverage curves of a bundle, from its held-out predictions (the newest
tickets of its snapshot, predicted by classifiers fitted on the older ones)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ("bundle_curves", "calibration_bins", "precision_coverage")


def calibration_bins(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Per confidence bin with rows: mean confidence, accuracy and how many rows."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        {
            "confidence": round(float(confidence[which == b].mean()), 4),
            "accuracy": round(float(correct[which == b].mean()), 4),
            "rows": int((which == b).sum()),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def precision_coverage(confidence: np.ndarray, correct: np.ndarray, points: int = 50) -> list[dict[str, float]]:
    """Precision of the answers kept against the share kept, as the confidence threshold rises (at most
    ``points`` points, always including full coverage)."""
    order = np.argsort(-confidence, kind="stable")
    kept = np.arange(1, len(order) + 1)
    precision = np.cumsum(correct[order]) / kept
    picks = np.unique(np.linspace(0, len(order) - 1, min(points, len(order))).round().astype(int))
    return [
        {
            "coverage": round(float(kept[i] / len(order)), 4),
            "precision": round(float(precision[i]), 4),
            "threshold": round(float(confidence[order][i]), 4),
        }
        for i in picks
    ]


def bundle_curves(path: Path) -> dict[str, Any]:
    """Per field of the bundle at ``path``: the held-out rows' calibration bins and precision-coverage
    curve, and the abstention threshold the field's classifier uses."""
    held = json.loads((path / "holdout.json").read_text(encoding="utf-8"))
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    tickets = {t["id"]: t for t in json.loads((path / "tickets.json").read_text(encoding="utf-8"))}
    fields = {}
    for name, predicted in held.get("predictions", {}).items():
        labelled = [
            (tickets[i][name] == p, c)
            for i, p, c in zip(held["ids"], predicted, held["confidence"][name], strict=True)
            if tickets.get(i, {}).get(name)
        ]
        if not labelled:
            continue
        correct = np.array([ok for ok, _ in labelled], dtype=float)
        confidence = np.array([c for _, c in labelled], dtype=float)
        fields[name] = {
            "rows": len(labelled),
            "calibration": calibration_bins(confidence, correct),
            "precision_coverage": precision_coverage(confidence, correct),
            "abstention": (manifest.get("metrics", {}).get(name) or {}).get("abstention"),
        }
    return {"version": manifest["version"], "fields": fields}
