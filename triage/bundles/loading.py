"""A triage bundle in memory: verified, its classifiers loaded through skops with trusted types only.
The bundle lifecycle (training, promotion, shadow, analytics) and the request pipeline both start here."""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from triage.bundles.fields import declared_fields
from triage.ml.bundle import verify_bundle
from triage.ml.classifiers import TriageClassifier
from triage.ml.index import VectorIndex
from triage.ml.shared_inputs import share_fitted
from triage.text.redaction import Redactor, bundle_redactor

__all__ = ("TRUSTED_TYPES", "LoadedBundle", "load_bundle", "load_classifier")

TRUSTED_TYPES = ("triage.ml.classifiers.TriageClassifier", "triage.ml.stacking.SharedWeightStacker")
# skops records each object's class path: bundles written before triage/ had subpackages (2026-11-30)
# name these modules, which now live under triage.ml. Their old names stay importable (as the same
# module objects) and trusted, so those bundles keep loading.
LEGACY_MODULES = {"triage.classifiers": "triage.ml.classifiers", "triage.stacking": "triage.ml.stacking"}
LEGACY_TRUSTED_TYPES = ("triage.classifiers.TriageClassifier", "triage.stacking.SharedWeightStacker")


@dataclass
class LoadedBundle:
    """A verified bundle in memory: the resolved-ticket index, its item metadata and the classifiers."""

    version: str
    path: Path
    manifest: dict[str, Any]
    ticket_index: VectorIndex
    tickets: dict[int, dict[str, Any]]
    classifiers: dict[str, TriageClassifier]
    redactor: Redactor = field(default_factory=Redactor)

    @property
    def fields(self) -> list[str]:
        """The fields this bundle was trained for (see :func:`declared_fields`)."""
        return declared_fields(self.manifest)

    def without(self, ticket_ids: set[int]) -> LoadedBundle:
        """A copy that no longer holds ``ticket_ids`` (erased requesters' tickets): their vectors leave the
        index and their evidence leaves the metadata. ``self`` is not changed."""
        drop = ticket_ids & self.tickets.keys()
        if not drop:
            return self
        index = self.ticket_index.copy()
        index.remove(sorted(drop))
        tickets = {i: t for i, t in self.tickets.items() if i not in drop}
        return replace(self, ticket_index=index, tickets=tickets)


def _load_items(path: Path) -> dict[int, dict[str, Any]]:
    return {item["id"]: item for item in json.loads(path.read_text(encoding="utf-8"))}


def _alias_legacy_modules() -> None:
    for old, new in LEGACY_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)


def scikit_learn_types() -> list[str]:
    """The scikit-learn types a :class:`TriageClassifier` holds, trusted by name when it loads."""
    from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    kinds = (TfidfTransformer, TfidfVectorizer, LogisticRegression, FeatureUnion, Pipeline, StandardScaler, LinearSVC)
    return [f"{kind.__module__}.{kind.__qualname__}" for kind in kinds]


def _skops_io() -> Any:
    """``skops.io``, imported without its default trust in every scikit-learn estimator: to list them it
    imports every scikit-learn module, 1.8 s of a server's 4.6 s start. The scikit-learn types our
    classifiers hold are trusted by name instead (:func:`scikit_learn_types`), a narrower trust. If
    something imported skops before, its defaults stay, as they were."""
    if "skops.io" not in sys.modules:
        import sklearn.utils

        listing = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = lambda *args, **kwargs: []
        try:
            importlib.import_module("skops.io")
        finally:
            sklearn.utils.all_estimators = listing
    return sys.modules["skops.io"]


def load_classifier(file: Path) -> Any:
    """A classifier saved with skops, loaded with :data:`TRUSTED_TYPES` and the scikit-learn types it holds
    trusted, and nothing else; a file holding any other type is refused (ValueError) before anything in
    it is built."""
    sio = _skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    _alias_legacy_modules()
    trusted = [*TRUSTED_TYPES, *LEGACY_TRUSTED_TYPES, *scikit_learn_types()]
    try:  # one audit of the file's tree: load checks every type against the trusted list itself
        return sio.load(file, trusted=trusted)
    except UntrustedTypesFoundException as error:
        raise ValueError(f"{file} holds types that are not trusted: {error}") from error


def load_bundle(path: Path) -> LoadedBundle:
    """Load and checksum-verify a triage bundle; classifiers are loaded with skops, trusted types only."""
    manifest = verify_bundle(path)
    classifiers = {
        name: load_classifier(path / "classifiers" / f"{name}.skops") for name in manifest.get("classifiers", {})
    }
    share_fitted(classifiers.values())  # fields trained on the same tickets featurise a ticket once
    return LoadedBundle(
        version=manifest["version"],
        path=path,
        manifest=manifest,
        ticket_index=VectorIndex.load(path / "tickets.faiss"),
        tickets=_load_items(path / "tickets.json"),
        classifiers=classifiers,
        redactor=bundle_redactor(manifest),
    )
