"""Request checks that apply to every route: JSON bodies only (415), and the CORS allow-list."""

from __future__ import annotations

from litestar import Request
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException

from models.settings import ApiSettings

__all__ = ("cors_config", "require_json_body")

BODY_METHODS = ("POST", "PUT", "PATCH")


async def require_json_body(request: Request) -> None:
    """Refuse (415) a request body that is not declared as JSON, before anything reads it."""
    if request.method not in BODY_METHODS:
        return
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return  # no body (e.g. POST /v1/models/rollback)
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(status_code=415, detail=f"send the body as application/json, not {media or 'untyped'}")


def cors_config(api: ApiSettings) -> CORSConfig | None:
    """Browsers on the configured origins may call the API; with none configured, no CORS headers at all."""
    if not api.cors_origins:
        return None
    return CORSConfig(allow_origins=list(api.cors_origins), allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
