"""The OpenAPI page (``/schema``): Swagger UI from the files the ``swagger-ui-bundle-v2`` package installs,
served from this app's own origin (nothing is fetched from a CDN, so it works offline), started by a
script file of ours (``/static/schema-ui.js``) rather than an inline one, under the pages' strict CSP."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File
from swagger_ui_bundle import swagger_ui_path

from api.auth import PUBLIC

__all__ = ("ASSETS", "ASSETS_PATH", "SwaggerUIPlugin", "swagger_asset")

SWAGGER_DIR = Path(str(swagger_ui_path))
ASSETS_PATH = "/assets"  # under the OpenAPI router's path: /schema/assets/<name>
# The only files served from the package's folder (not its index.html, initializer or OAuth page).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "index.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


@get(
    f"{ASSETS_PATH}/{{name:str}}",
    include_in_schema=False,
    opt=PUBLIC,
    sync_to_thread=False,
    cache_control=CacheControlHeader(max_age=3600),
)
def swagger_asset(name: FromPath[str]) -> File:
    """One of Swagger UI's files named in ``ASSETS`` (404 for any other name)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFoundException("no such OpenAPI page asset")
    return File(path=SWAGGER_DIR / name, media_type=media_type, content_disposition_type="inline")


class SwaggerUIPlugin(OpenAPIRenderPlugin):
    """Swagger UI from installed files: the page is ``schema.html`` (no inline script or style), its assets
    are served by ``swagger_asset``, which this plugin adds to the OpenAPI router."""

    def __init__(self, *, path: str | Sequence[str] = ("/", "/swagger"), template: str = "schema.html") -> None:
        """Serve the page at ``path`` (relative to the OpenAPI router) from the app's ``template``."""
        super().__init__(path=path)
        self.template = template

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        """The page's HTML; the schema itself is fetched by the browser from the JSON route."""
        engine = request.app.template_engine
        if engine is None:  # pragma: no cover - create_app always configures templates
            raise RuntimeError("the OpenAPI page needs the app's template engine")
        schema_path = request.app.openapi_config.path if request.app.openapi_config else "/schema"
        html = engine.get_template(self.template).render(
            title=openapi_schema["info"]["title"],
            openapi_url=self.get_openapi_json_route(request),
            assets=f"{schema_path}{ASSETS_PATH}",
        )
        return html.encode("utf-8")

    def receive_router(self, router: Router) -> None:
        """Add the asset route to the OpenAPI router (public, out of the schema, like the page)."""
        router.register(swagger_asset)
