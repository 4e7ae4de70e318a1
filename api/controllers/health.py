"""Liveness and readiness."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

__all__ = ("health", "ready")


@get("/health", tags=["health"])
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/ready", tags=["health"])
async def ready(state: State) -> Response[dict[str, str | None]]:
    """200 once the encoder and a bundle are loaded, else 503."""
    serving = state.serving
    bundle = serving.bundle
    if serving.encoder is None or bundle is None:
        return Response({"status": "not ready", "bundle_version": None}, status_code=503)
    return Response({"status": "ready", "bundle_version": bundle.version})
