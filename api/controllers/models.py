"""Bundle versions over HTTP: retrain as a background job, list, gate, promote, roll back, diff, reload."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter

from api.auth import actor_of, roles
from models.db import session_scope
from triage.analytics.curves import bundle_curves
from triage.bundles.jobs import get_job
from triage.bundles.promotion import diff_versions, find_version, gate, promote, rollback
from triage.bundles.registry import list_versions
from triage.bundles.shadow import shadow_evaluate
from triage.bundles.training import KIND
from triage.work.jobs import start_training

__all__ = ("AdminController", "JobsController", "ModelsController")


class TrainIn(msgspec.Struct, forbid_unknown_fields=True):
    """A retraining request: the window of resolved tickets, and whether to promote through the gate."""

    promote: bool = False
    force: bool = False
    since: datetime | None = None
    until: datetime | None = None
    finetune_minutes: Annotated[float, msgspec.Meta(gt=0, le=1440)] | None = None  # the bundle carries the result


class PromoteIn(msgspec.Struct, forbid_unknown_fields=True):
    """``force`` promotes even when the metric gate fails (never on a library or encoder mismatch)."""

    force: bool = False


def _version_out(row) -> dict[str, Any]:
    manifest = row.manifest
    return {
        "version": row.version,
        "state": row.state,
        "created_at": row.created_at,
        "activated_at": row.activated_at,
        "encoder": manifest.get("encoder", {}).get("name"),
        "training_set": manifest.get("inputs", {}).get("tickets"),
        "holdout": manifest.get("holdout"),
        "metrics": manifest.get("metrics"),
    }


class ModelsController(Controller):
    path = "/v1/models"
    tags = ["models"]
    opt = roles("analyst")

    @post("/train", status_code=202)
    async def train(self, request: Request, state: State, data: JSONBody[TrainIn | None] = None) -> dict[str, Any]:
        """Start retraining in the background and answer at once with the job (202); ``GET /v1/jobs/{id}``
        shows its state and progress. 409 while another training job runs."""
        serving = state.serving
        models = serving.settings.models
        caller = actor_of(request)
        train = data or TrainIn()
        job_id = await anyio.to_thread.run_sync(
            lambda: start_training(
                serving,
                caller,
                promote=train.promote,
                force=train.force,
                tolerance=models.promotion_tolerance,
                min_examples=models.min_examples_per_label,
                decision=models.decision,
                since=train.since,
                until=train.until,
                ann_exact_limit=models.ann_exact_limit,
                finetune_minutes=train.finetune_minutes,
            )
        )
        return {"id": job_id, "state": "queued", "url": f"/v1/jobs/{job_id}"}

    @get("/", sync_to_thread=True)
    def list(self, state: State) -> list[dict[str, Any]]:
        """Every triage bundle, newest first: state, training set, held-out and out-of-fold metrics."""
        with session_scope(state.serving.sessions) as session:
            return [_version_out(row) for row in list_versions(session, KIND)]

    @get("/{version:str}/gate", sync_to_thread=True)
    def gate(self, state: State, version: str = Parameter(max_length=100)) -> dict[str, Any]:
        """What the promotion gate says about a version, without promoting it."""
        serving = state.serving
        models = serving.settings.models
        with session_scope(serving.sessions) as session:
            report = gate(
                session, KIND, version, serving.base_encoder, models.artifacts_dir, tolerance=models.promotion_tolerance
            )
            return asdict(report)

    @get("/{version:str}/curves", sync_to_thread=True)
    def curves(self, state: State, version: str = Parameter(max_length=100)) -> dict[str, Any]:
        """Calibration bins and the precision-coverage curve of each field, on the version's held-out
        tickets, with the abstention threshold it uses."""
        with session_scope(state.serving.sessions) as session:
            path = Path(find_version(session, KIND, version).path)
        return bundle_curves(path)

    @get("/{version:str}/shadow", sync_to_thread=True)
    def shadow(
        self,
        state: State,
        version: str = Parameter(max_length=100),
        last: int = Parameter(default=200, ge=1, le=5000, description="How many resolved tickets to replay."),
    ) -> dict[str, Any]:
        """Replay the last resolved tickets through a version and the active bundle: where they differ
        from each other and from the final labels."""
        serving = state.serving
        with session_scope(serving.sessions) as session:
            return shadow_evaluate(
                session, KIND, version, serving.base_encoder, serving.settings.models.artifacts_dir, last=last
            )

    @post("/{version:str}/promote", status_code=200)
    async def promote(
        self,
        request: Request,
        state: State,
        version: str = Parameter(max_length=100),
        data: JSONBody[PromoteIn | None] = None,
    ) -> dict[str, Any]:
        """Gate a version against the active bundle and activate it (409 with the reasons when the gate
        fails); this process swaps at once, the others at their next poll."""
        serving = state.serving
        models = serving.settings.models
        force = bool(data and data.force)

        def run() -> dict[str, Any]:
            with session_scope(serving.sessions) as session:
                report = promote(
                    session,
                    KIND,
                    version,
                    serving.base_encoder,
                    models.artifacts_dir,
                    tolerance=models.promotion_tolerance,
                    force=force,
                    actor=actor_of(request),
                )
                return asdict(report)

        report = await anyio.to_thread.run_sync(run)
        await serving.refresh()
        return {"active": report["candidate"], "gate": report}

    @post("/rollback", status_code=200)
    async def rollback(self, request: Request, state: State) -> dict[str, Any]:
        """Re-activate the bundle that was active before the current one (409 when there is none)."""
        serving = state.serving

        def run() -> str:
            with session_scope(serving.sessions) as session:
                return rollback(session, KIND, actor=actor_of(request)).version

        version = await anyio.to_thread.run_sync(run)
        await serving.refresh()
        return {"active": version}

    @get("/diff", sync_to_thread=True)
    def diff(
        self, state: State, old: str = Parameter(max_length=100), new: str = Parameter(max_length=100)
    ) -> dict[str, Any]:
        """Per-field metrics, label sets, training sets and libraries of ``new`` against ``old``."""
        with session_scope(state.serving.sessions) as session:
            return diff_versions(session, KIND, old, new)


class AdminController(Controller):
    path = "/v1/admin"
    tags = ["admin"]
    opt = roles()

    @post("/reload", status_code=200)
    async def reload(self, state: State) -> dict[str, Any]:
        """Load the active bundle now (off the request path of other requests) instead of at the next poll."""
        serving = state.serving
        swapped = await serving.refresh()
        return {"swapped": swapped, "bundle_version": serving.bundle.version if serving.bundle else None}


class JobsController(Controller):
    path = "/v1/jobs"
    tags = ["models"]
    opt = roles("analyst")

    @get("/{job_id:str}", sync_to_thread=True)
    def read(self, state: State, job_id: str = Parameter(max_length=32)) -> dict[str, Any]:
        """A job's state (queued, running, succeeded, failed), progress, result or error."""
        with session_scope(state.serving.sessions) as session:
            job = get_job(session, job_id)
            return {
                "id": job.id,
                "kind": job.kind,
                "state": job.state,
                "params": job.params,
                "progress": job.progress,
                "result": job.result,
                "error": job.error,
                "created_at": job.created_at,
                "started_at": job.started_at,
                "finished_at": job.finished_at,
            }
