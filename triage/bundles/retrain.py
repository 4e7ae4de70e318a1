"""Retraining as one unit of work, shared by the CLI, the API's background job and notebooks: write a
candidate bundle from the resolved tickets and, when asked, promote it through the gate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.audit import Actor
from models.db import session_scope
from triage.bundles.adaptation import FineTuning
from triage.bundles.promotion import promote as promote_version
from triage.bundles.training import KIND, Progress, train_bundle
from triage.errors import GateFailed
from triage.ml.encoder import Encoder

__all__ = ("retrain",)


def retrain(
    sessions: sessionmaker[Session],
    encoder: Encoder,
    artifacts_dir: Path,
    *,
    promote: bool = False,
    force: bool = False,
    tolerance: float = 0.02,
    min_examples: int = 2,
    decision: str = "most_probable",
    since: datetime | None = None,
    until: datetime | None = None,
    redact_patterns: Mapping[str, str] | None = None,
    ann_exact_limit: int = 100_000,
    finetune_minutes: float | None = None,
    progress: Progress = lambda step, done, total: None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Train a candidate (committed on its own, so it stays even when the gate refuses it) and, with
    ``promote``, gate and activate it. The result says what was written and what the gate found;
    ``promoted`` is false with the gate's reasons when it refused. With ``finetune_minutes``, the
    candidate carries an encoder fine-tuned for at most that long (:mod:`triage.bundles.adaptation`)."""
    with session_scope(sessions) as session:
        trained = train_bundle(
            session,
            encoder,
            artifacts_dir,
            min_examples=min_examples,
            decision=decision,
            activate=False,
            since=since,
            until=until,
            redact_patterns=redact_patterns,
            ann_exact_limit=ann_exact_limit,
            finetune=FineTuning(minutes=finetune_minutes) if finetune_minutes else None,
            progress=progress,
        )
    result: dict[str, Any] = {
        "version": trained.version,
        "path": str(trained.path),
        "training_set": trained.manifest["inputs"]["tickets"],
        "holdout": trained.manifest["holdout"],
        "classifiers_skipped": trained.manifest["classifiers_skipped"],
        "encoder": trained.manifest["encoder"],
        "promoted": False,
        "gate": None,
    }
    if promote:
        progress("promote", 0, 1)
        try:
            with session_scope(sessions) as session:
                report = promote_version(
                    session,
                    KIND,
                    trained.version,
                    encoder,
                    artifacts_dir,
                    tolerance=tolerance,
                    force=force,
                    actor=actor,
                )
            result.update(promoted=True, gate=asdict(report))
        except GateFailed as exc:
            result["gate"] = asdict(exc.report) if exc.report is not None else {"reasons": exc.reasons}
        progress("promote", 1, 1)
    return result
