"""The table of which role may call which endpoint, read from the routes' guards (so the README's copy
cannot drift: a test compares them). ``python -m api.access_table`` prints it as Markdown."""

from __future__ import annotations

from litestar import Litestar

from models.access import ROLES

__all__ = ("markdown_table", "route_roles")


def route_roles(app: Litestar) -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(method, path, roles) for every API route; roles is ``None`` for a public route. Admin keys may
    call every route, so admin is in every tuple."""
    rows = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                opt = handler.opt
                path = route.path
                if path.startswith(app.openapi_config.path if app.openapi_config else "/schema"):
                    continue
                allowed = None if opt.get("public") else (*opt.get("roles", ()), "admin")
                rows.append((method, path, allowed))
    return sorted(set(rows), key=lambda row: (row[1], row[0]))


def markdown_table(app: Litestar) -> str:
    """The role x endpoint table as Markdown."""
    lines = ["| Endpoint | " + " | ".join(ROLES) + " |", "|---|" + "---|" * len(ROLES)]
    for method, path, allowed in route_roles(app):
        shown = path.replace(":int}", "}").replace(":str}", "}").replace(":path}", "}")
        cells = ["public" if allowed is None else ("yes" if role in allowed else "") for role in ROLES]
        lines.append(f"| `{method} {shown}` | " + " | ".join(cells) + " |")
    lines.append(f"| `GET {app.openapi_config.path}` (OpenAPI page and schema) | " + " | ".join(["public"] * 4) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    from api.app import create_app
    from models.settings import get_settings

    print(markdown_table(create_app(get_settings())))
