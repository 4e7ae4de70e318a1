"""The outcome-fitted "nothing fits" model shared by every process through the artifacts folder: the
first process to need the model for a given state (KB, portal outcomes, encoder) fits it and writes it
atomically; the others read it instead of repeating the fit (a search per outcome). With the job queue,
serving processes only read it and a worker's periodic job fits it, once for the deployment.

A file holds numbers only (the outcome embeddings, the logistic regression's coefficients) and JSON: it
is read with ``allow_pickle=False``."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from triage.knowledge.nothing_fits import NothingFitsClassifier, NothingFitsModel, OutcomeMemory

__all__ = ("MISSING", "load_model", "save_model", "shared_fit")

MISSING = object()  # not fitted by anyone yet (and this process may not fit it)
KEEP = 20  # fits kept in the folder (newest first): older states are not read again


def save_model(path: Path, model: NothingFitsModel | None) -> None:
    """Write ``model`` (``None``: too few outcomes to fit one) to ``path`` atomically."""
    arrays: dict[str, np.ndarray] = {"none": np.array(model is None)}
    if model is not None:
        lr = model.classifier.model_
        meta = {
            "helped": model.memory.helped,
            "n_neighbors": model.n_neighbors,
            "prior_weight": model.prior_weight,
            "C": model.classifier.C,
        }
        arrays.update(
            vectors=model.memory.vectors(),
            coef=lr.coef_,
            intercept=lr.intercept_,
            classes=lr.classes_,
            meta=np.array(json.dumps(meta)),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(partial, **arrays)
    partial.replace(path)


def load_model(path: Path) -> NothingFitsModel | None:
    """The model written by :func:`save_model` (``None`` when it recorded that there was none)."""
    with np.load(path, allow_pickle=False) as stored:
        if bool(stored["none"]):
            return None
        meta = json.loads(str(stored["meta"]))
        lr = LogisticRegression(C=meta["C"])
        lr.coef_, lr.intercept_, lr.classes_ = stored["coef"], stored["intercept"], stored["classes"]
        lr.n_features_in_ = lr.coef_.shape[1]
        classifier = NothingFitsClassifier(C=meta["C"])
        classifier.model_, classifier.classes_ = lr, lr.classes_
        memory = OutcomeMemory(stored["vectors"], meta["helped"])
    return NothingFitsModel(memory, classifier, meta["n_neighbors"], meta["prior_weight"])


def shared_fit(
    folder: Path, key: str, fit: Callable[[], NothingFitsModel | None], *, may_fit: bool = True
) -> NothingFitsModel | None | object:
    """The model for ``key``: read from ``folder`` when some process has written it, else ``fit()`` and
    written there (when ``may_fit``; else :data:`MISSING`)."""
    path = folder / f"{key}.npz"
    with contextlib.suppress(OSError, ValueError, KeyError):  # absent or unreadable: fit it again
        return load_model(path)
    if not may_fit:
        return MISSING
    model = fit()
    with contextlib.suppress(OSError):  # losing it costs only a refit elsewhere
        save_model(path, model)
        _prune(folder)
    return model


def _prune(folder: Path) -> None:
    """Remove all but the :data:`KEEP` newest fits (another process may be removing them too)."""
    fits = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in fits[KEEP:]:
        old.unlink(missing_ok=True)
