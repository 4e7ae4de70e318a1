"""The OpenAPI page (/schema) runs offline: Swagger UI's files come from this origin (installed with the
package, no CDN), no inline script, and the same strict CSP as the other pages."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.controllers.pages import PAGE_HEADERS

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
LINK = re.compile(r"<link\b[^>]*\bhref=\"([^\"]*)\"", re.I)
SRC = re.compile(r"\bsrc=\"([^\"]*)\"", re.I)
KINDS = {"js": "text/javascript", "css": "text/css", "png": "image/png"}
CDNS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "http://", "https://")


@pytest.fixture
def app(settings, encoder):
    return create_app(settings, encoder=encoder)


def _assets(html: str) -> list[str]:
    """Every script ``src`` and link ``href`` in ``html``; fails on a script with an inline body."""
    urls = []
    for attributes, body in SCRIPT.findall(html):
        assert body.strip() == "", f"inline script: {body[:80]!r}"
        src = SRC.search(attributes)
        assert src, f"script without src: {attributes!r}"
        urls.append(src.group(1))
    return urls + LINK.findall(html)


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_the_openapi_page_loads_only_same_origin_files_under_the_strict_csp(app, path):
    with TestClient(app) as client:
        page = client.get(path)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        for name, value in PAGE_HEADERS.items():
            assert page.headers[name] == value
        html = page.text
        assert not any(host in html for host in CDNS), html
        assert "<style" not in html.lower() and " style=" not in html.lower()
        assert 'data-openapi-url="/schema/openapi.json"' in html
        urls = _assets(html)
        assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
        assert any(url.endswith("swagger-ui.css") for url in urls)
        assert "/static/schema-ui.js" in urls
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), url
            asset = client.get(url)
            assert asset.status_code == 200, url
            kind = KINDS[url.rsplit(".", 1)[-1]]
            assert asset.headers["content-type"].split(";")[0] == kind, url
            assert len(asset.content) > 100, url
        assert "SwaggerUIBundle(" in client.get("/static/schema-ui.js").text


def test_only_the_named_swagger_files_are_served_and_the_schema_still_is(app):
    with TestClient(app) as client:
        for name in ("index.html", "swagger-initializer.js", "oauth2-redirect.html", "..%2Fswagger-ui.css"):
            assert client.get(f"/schema/assets/{name}").status_code == 404, name
        schema = client.get("/schema/openapi.json")
        assert schema.status_code == 200
        assert schema.json()["openapi"].startswith("3.1")  # what Swagger UI 5 reads (4 could not)
        assert not any(path.startswith("/schema") for path in schema.json()["paths"])
