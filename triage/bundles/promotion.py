"""Promoting a candidate bundle through a gate, rolling back, and comparing two versions.

The gate compares the candidate with the active bundle on the same held-out tickets: the candidate's
held-out predictions (made by classifiers fitted without those tickets, ``holdout.json``) against the
active bundle's predictions for the held-out tickets it was not trained on. When too few such tickets
exist (the active bundle saw most of them), it falls back to each bundle's own held-out metrics and
says so. A field passes when the candidate's accuracy is not worse than the active one's by more than
the tolerance. The gate also lists label-set changes and checks that the candidate's libraries and
encoder match what serves it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ArtifactVersion, Ticket
from models.audit import Actor, record_audit
from models.fields import label_of
from triage.bundles import registry
from triage.bundles.adaptation import bundle_inputs, carries_encoder
from triage.bundles.announce import announce_activation
from triage.bundles.fields import bundle_fields, declared_fields, label_changes
from triage.bundles.loading import load_bundle
from triage.bundles.training import trained_ticket_ids
from triage.errors import GateFailed, InvalidTransition, VersionNotFound
from triage.ml.bundle import library_versions
from triage.ml.encoder import Encoder
from triage.ml.rates import accuracy
from triage.text.redaction import bundle_redactor

__all__ = ("GateReport", "diff_versions", "find_version", "gate", "library_check", "promote", "rollback")

LATEST = "latest"  # stands for the newest candidate wherever a version is asked for
SAME_SPLIT = "the candidate's held-out tickets that the active bundle was not trained on"
OWN_SPLITS = "each bundle's own held-out split (too few held-out tickets unseen by both)"


@dataclass(frozen=True)
class GateReport:
    """What the gate found; ``passed`` is false when any reason is listed."""

    candidate: str
    active: str | None
    passed: bool
    basis: str
    rows: int
    tolerance: float
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    label_changes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    libraries: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def find_version(session: Session, kind: str, version: str) -> ArtifactVersion:
    """The registry row of ``version`` (404 when there is none); ``latest`` is the newest candidate."""
    query = select(ArtifactVersion).where(ArtifactVersion.kind == kind)
    if version == LATEST:
        query = query.where(ArtifactVersion.state == "candidate").order_by(ArtifactVersion.created_at.desc()).limit(1)
    else:
        query = query.where(ArtifactVersion.version == version)
    row = session.scalar(query)
    if row is None:
        raise VersionNotFound(f"no {kind} bundle with version {version!r}", field="version")
    return row


def library_check(manifest: dict[str, Any], encoder_name: str) -> dict[str, Any]:
    """Whether this process can load and serve the bundle: same Python minor, scikit-learn and skops
    versions, same NumPy major, and the encoder it was trained with (unless the bundle carries it)."""
    built, here = manifest.get("libraries", {}), library_versions()

    def key(name: str, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split(".")
        return {"python": ".".join(parts[:2]), "numpy": parts[0]}.get(name, value)

    differences = {
        name: {"bundle": built.get(name), "here": here.get(name)}
        for name in ("python", "numpy", "scikit-learn", "skops")
        if key(name, built.get(name)) != key(name, here.get(name))
    }
    trained_with = manifest.get("encoder", {}).get("name")
    if trained_with != encoder_name and not carries_encoder(manifest):  # one it carries travels with it
        differences["encoder"] = {"bundle": trained_with, "here": encoder_name}
    return {"compatible": not differences, "differences": differences}


def _same_split_scores(
    session: Session,
    candidate: ArtifactVersion,
    active: ArtifactVersion,
    encoder: Encoder,
    artifacts_dir: Path,
    min_rows: int,
) -> tuple[int, dict[str, tuple[float | None, float | None]]] | None:
    """Both bundles' accuracy per field on the candidate's held-out tickets unseen by the active one (the
    active bundle's predictions embedded by its own encoder: ``encoder`` unless it carries one)."""
    held = json.loads((candidate.folder(artifacts_dir) / "holdout.json").read_text(encoding="utf-8"))
    seen = trained_ticket_ids(active.folder(artifacts_dir))
    positions = [n for n, ticket_id in enumerate(held["ids"]) if ticket_id not in seen]
    if len(positions) < min_rows:
        return None
    ids = [held["ids"][n] for n in positions]
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
    positions = [n for n in positions if held["ids"][n] in tickets]  # erased tickets drop out
    rows = [tickets[held["ids"][n]] for n in positions]
    redactor = bundle_redactor(candidate.manifest)
    inputs = bundle_inputs(active.folder(artifacts_dir), active.manifest, rows, encoder, artifacts_dir, redactor)
    bundle = load_bundle(active.folder(artifacts_dir))
    scores = {}
    for name, predicted in held["predictions"].items():
        labelled = [(k, label_of(t, name)) for k, t in enumerate(rows) if label_of(t, name)]
        true = [label for _, label in labelled]
        ours = [predicted[positions[k]] for k, _ in labelled]
        theirs = None
        if name in bundle.classifiers and labelled:
            theirs = accuracy(
                true, [str(p) for p in bundle.classifiers[name].predict(inputs[[k for k, _ in labelled]])]
            )
        scores[name] = (accuracy(true, ours), theirs)
    return len(rows), scores


def gate(
    session: Session,
    kind: str,
    version: str,
    encoder: Encoder,
    artifacts_dir: Path,
    *,
    tolerance: float = 0.02,
    min_rows: int = 20,
) -> GateReport:
    """Judge whether ``version`` may replace the active bundle of ``kind`` (see the module docstring);
    ``artifacts_dir`` holds the embedding cache for encoding the held-out tickets."""
    candidate = find_version(session, kind, version)
    version = candidate.version
    active = registry.get_active(session, kind)
    libraries = library_check(candidate.manifest, encoder.name)
    reasons = [
        f"{name}: bundle has {d['bundle']}, this server {d['here']}" for name, d in libraries["differences"].items()
    ]
    if active is None:
        return GateReport(
            version, None, not reasons, "no active bundle", 0, tolerance, libraries=libraries, reasons=reasons
        )
    if active.version == version:
        raise InvalidTransition(f"{version} is already the active bundle", field="version")
    same = _same_split_scores(session, candidate, active, encoder, artifacts_dir, min_rows)
    if same is not None:
        basis, rows, scores = SAME_SPLIT, same[0], same[1]
    else:
        basis = OWN_SPLITS
        ours = candidate.manifest.get("holdout", {}).get("metrics", {})
        theirs = active.manifest.get("holdout", {}).get("metrics", {})
        rows = int(candidate.manifest.get("holdout", {}).get("rows", 0))
        scores = {n: (m.get("accuracy"), theirs.get(n, {}).get("accuracy")) for n, m in ours.items()}
    fields: dict[str, dict[str, Any]] = {}
    declared = declared_fields(candidate.manifest)
    for name in bundle_fields(active.manifest, candidate.manifest):
        lost = name in active.manifest.get("classifiers", {}) and name not in candidate.manifest.get("classifiers", {})
        if lost and name in declared:  # a field taken out of the configuration is a label change, not a loss
            reasons.append(f"{name}: the candidate has no classifier, so {name} would become unavailable")
        if name not in scores:
            continue
        ours_acc, theirs_acc = scores[name]
        ok = ours_acc is not None and (theirs_acc is None or ours_acc >= theirs_acc - tolerance)
        delta = round(ours_acc - theirs_acc, 4) if ours_acc is not None and theirs_acc is not None else None
        fields[name] = {"candidate": ours_acc, "active": theirs_acc, "delta": delta, "passed": ok}
        if not ok:
            reasons.append(
                f"{name}: accuracy {ours_acc} against the active bundle's {theirs_acc} (tolerance {tolerance})"
            )
    if not fields:
        reasons.append("no held-out metrics to compare: the candidate was trained on too few tickets to hold any out")
    return GateReport(
        candidate=version,
        active=active.version,
        passed=not reasons,
        basis=basis,
        rows=rows,
        tolerance=tolerance,
        fields=fields,
        label_changes=label_changes(active.manifest, candidate.manifest),
        libraries=libraries,
        reasons=reasons,
    )


def promote(
    session: Session,
    kind: str,
    version: str,
    encoder: Encoder,
    artifacts_dir: Path,
    *,
    tolerance: float = 0.02,
    force: bool = False,
    actor: Actor | None = None,
) -> GateReport:
    """Run the gate and make ``version`` active; raise :class:`GateFailed` (nothing changes) when it
    fails, unless ``force``. Library or encoder mismatches block even with ``force``: the bundle could
    not be served. The promotion goes into the audit trail under ``actor``."""
    report = gate(session, kind, version, encoder, artifacts_dir, tolerance=tolerance)
    if not report.libraries["compatible"] or (not report.passed and not force):
        raise GateFailed("; ".join(report.reasons), field="version", report=report)
    registry.activate(session, kind, report.candidate)
    record_audit(
        session,
        actor,
        "model.promoted",
        f"{kind}:{report.candidate}",
        previous=report.active,
        forced=force and not report.passed,
    )
    forced = force and not report.passed
    announce_activation(session, "bundle.promoted", kind, report.candidate, report.active, actor, forced=forced)
    return report


def rollback(session: Session, kind: str, *, actor: Actor | None = None) -> ArtifactVersion:
    """Re-activate the bundle that was active before the current one (the current one is retired);
    audited under ``actor``."""
    active = registry.get_active(session, kind)
    if active is None:
        raise InvalidTransition(f"no active {kind} bundle to roll back", field="kind")
    previous = session.scalar(
        select(ArtifactVersion)
        .where(
            ArtifactVersion.kind == kind,
            ArtifactVersion.state == "retired",
            ArtifactVersion.activated_at.is_not(None),
        )
        .order_by(ArtifactVersion.activated_at.desc(), ArtifactVersion.id.desc())
        .limit(1)
    )
    if previous is None:
        raise InvalidTransition(f"no earlier active {kind} bundle to roll back to", field="kind")
    record_audit(session, actor, "model.rolled_back", f"{kind}:{previous.version}", previous=active.version)
    activated = registry.activate(session, kind, previous.version)
    announce_activation(session, "bundle.rolled_back", kind, previous.version, active.version, actor)
    return activated


def diff_versions(session: Session, kind: str, old: str, new: str) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: per-field metrics, label sets, training snapshot, libraries."""
    old_row, new_row = find_version(session, kind, old), find_version(session, kind, new)
    a, b, old, new = old_row.manifest, new_row.manifest, old_row.version, new_row.version
    metrics = {}
    for name in bundle_fields(a, b):
        before, after = a.get("metrics", {}).get(name, {}), b.get("metrics", {}).get(name, {})
        held_before = a.get("holdout", {}).get("metrics", {}).get(name, {})
        held_after = b.get("holdout", {}).get("metrics", {}).get(name, {})
        pairs = {
            "oof_accuracy": (before.get("oof_accuracy"), after.get("oof_accuracy")),
            "oof_ece": (before.get("oof_ece"), after.get("oof_ece")),
            "holdout_accuracy": (held_before.get("accuracy"), held_after.get("accuracy")),
            "holdout_macro_f1": (held_before.get("macro_f1"), held_after.get("macro_f1")),
        }
        metrics[name] = {
            key: {"old": x, "new": y, "delta": round(y - x, 4) if x is not None and y is not None else None}
            for key, (x, y) in pairs.items()
        }
    libraries = {
        name: {"old": a.get("libraries", {}).get(name), "new": b.get("libraries", {}).get(name)}
        for name in sorted(set(a.get("libraries", {})) | set(b.get("libraries", {})))
        if a.get("libraries", {}).get(name) != b.get("libraries", {}).get(name)
    }
    return {
        "old": old,
        "new": new,
        "metrics": metrics,
        "label_changes": label_changes(a, b),
        "training_set": {"old": a.get("inputs", {}).get("tickets"), "new": b.get("inputs", {}).get("tickets")},
        "libraries": libraries,
    }
