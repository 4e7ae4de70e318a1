"""Retraining as one unit of work, shared by the CLI, the API's background job and notebooks: write a
candidate bundle from the resolved tickets and, when asked, promote it through the gate."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.audit import Actor, record_audit
from models.db import session_scope
from triage.bundles.adaptation import FineTuning
from triage.bundles.jobs import run_job, start_job
from triage.bundles.promotion import promote as promote_version
from triage.bundles.training import KIND, Progress, train_bundle
from triage.errors import GateFailed
from triage.ml.encoder import Encoder

__all__ = ("retrain", "retrain_in_background")


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


def retrain_in_background(
    sessions: sessionmaker[Session],
    encoder: Encoder,
    artifacts_dir: Path,
    **options: Any,
) -> str:
    """Record a queued training job and run :func:`retrain` (with ``options``) for it in a daemon
    thread; returns the job id at once. 409 while another training job is live."""
    hidden = ("actor", "redact_patterns")  # who started it is in the audit trail; patterns are in the bundle
    params = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in options.items() if k not in hidden}
    actor = options.get("actor")
    with session_scope(sessions) as session:
        job_id = start_job(session, "train", params).id
        record_audit(session, actor, "model.training_started", f"job:{job_id}", promote=bool(options.get("promote")))

    def work(progress: Progress) -> dict[str, Any]:
        return retrain(sessions, encoder, artifacts_dir, progress=progress, **options)

    threading.Thread(target=run_job, args=(sessions, job_id, work), name=f"job-{job_id}", daemon=True).start()
    return job_id
