"""Bundle versions over HTTP: list, gate, promote, roll back, diff, and an admin reload."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter

from models.db import session_scope
from triage.promotion import diff_versions, gate, promote, rollback
from triage.registry import list_versions
from triage.training import KIND

__all__ = ("AdminController", "ModelsController")


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
                session, KIND, version, serving.encoder, models.artifacts_dir, tolerance=models.promotion_tolerance
            )
            return asdict(report)

    @post("/{version:str}/promote", status_code=200)
    async def promote(
        self, state: State, version: str = Parameter(max_length=100), data: JSONBody[PromoteIn | None] = None
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
                    serving.encoder,
                    models.artifacts_dir,
                    tolerance=models.promotion_tolerance,
                    force=force,
                )
                return asdict(report)

        report = await anyio.to_thread.run_sync(run)
        await serving.refresh()
        return {"active": version, "gate": report}

    @post("/rollback", status_code=200)
    async def rollback(self, state: State) -> dict[str, Any]:
        """Re-activate the bundle that was active before the current one (409 when there is none)."""
        serving = state.serving

        def run() -> str:
            with session_scope(serving.sessions) as session:
                return rollback(session, KIND).version

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

    @post("/reload", status_code=200)
    async def reload(self, state: State) -> dict[str, Any]:
        """Load the active bundle now (off the request path of other requests) instead of at the next poll."""
        serving = state.serving
        swapped = await serving.refresh()
        return {"swapped": swapped, "bundle_version": serving.bundle.version if serving.bundle else None}
