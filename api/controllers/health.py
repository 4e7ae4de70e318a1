"""Liveness and readiness."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from api.auth import PUBLIC

__all__ = ("health", "ready")


@get("/health", tags=["health"], opt=PUBLIC, security=[])
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get(
    "/ready",
    tags=["health"],
    opt=PUBLIC,
    security=[],
    responses={503: ResponseSpec(data_container=dict[str, str | None], description="No bundle loaded yet")},
)
async def ready(state: State) -> Response[dict[str, str | None]]:
    """200 once the encoder and a bundle are loaded, else 503."""
    serving = state.serving
    bundle = serving.bundle
    if serving.encoder is None or bundle is None:
        return Response({"status": "not ready", "bundle_version": None}, status_code=503)
    return Response({"status": "ready", "bundle_version": bundle.version})
