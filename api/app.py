"""The Litestar app factory."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from api.auth import PUBLIC, Access, authorize, rate_limit_headers
from api.controllers.access import AuditController, KeyController, RequesterController, whoami
from api.controllers.analytics import AnalyticsController
from api.controllers.articles import ArticleController
from api.controllers.assist import IncidentController, MacroController, TicketAssistController
from api.controllers.connectors import ConnectorController
from api.controllers.fields import FieldController
from api.controllers.health import health, ready
from api.controllers.kb_search import KbSearchController
from api.controllers.mail import MailController
from api.controllers.models import AdminController, JobsController, ModelsController
from api.controllers.pages import PAGE_HEADERS, PagesController, static_files
from api.controllers.portal import PortalController
from api.controllers.sla import SlaController
from api.controllers.suggest import SuggestController
from api.controllers.tickets import TicketController
from api.controllers.webhooks import WebhookController
from api.errors import EXCEPTION_HANDLERS, document_problems
from api.i18n import load_catalogue
from api.lifespan import serving_lifespan
from api.limits import BoundedJSONRequest, check_request, cors_config
from api.openapi_ui import SwaggerUIPlugin
from api.rate_limits import windows_for
from models.audit_writer import AuditWriter
from models.db import make_engine, make_session_factory
from models.settings import Settings, get_settings
from triage.ml.encoder import Encoder
from triage.ml.threads import dump_stacks_on_signal
from triage.work.queue import queue_enabled
from triage.work.serving import Serving

__all__ = ("ROUTE_HANDLERS", "create_app", "create_app_from_env")

ROUTE_HANDLERS = (
    health,
    ready,
    SuggestController,
    TicketController,
    ArticleController,
    KbSearchController,
    PortalController,
    AnalyticsController,
    ModelsController,
    JobsController,
    AdminController,
    KeyController,
    AuditController,
    RequesterController,
    TicketAssistController,
    MacroController,
    IncidentController,
    WebhookController,
    ConnectorController,
    SlaController,
    FieldController,
    MailController,
    PagesController,
    whoami,
)
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _openapi() -> OpenAPIConfig:
    """The schema at ``/schema/openapi.json`` and Swagger UI at ``/schema`` (and ``/schema/swagger``) from
    installed files, public and under the pages' headers (their strict CSP)."""
    return OpenAPIConfig(
        title="helpdesk-triage",
        version="0.1.0",
        path="/schema",
        render_plugins=[SwaggerUIPlugin()],
        components=Components(
            security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer", description="an API key")}
        ),
        security=[{"apiKey": []}],
        openapi_router=Router(
            "/schema", route_handlers=[], include_in_schema=False, opt=PUBLIC, response_headers=PAGE_HEADERS
        ),
    )


def create_app(settings: Settings, *, encoder: Encoder | None = None) -> Litestar:
    """Build the app for ``settings``; pass an already loaded ``encoder`` to share one across apps. A translations
    file that cannot be used stops it here (:class:`api.i18n.TranslationsError`, naming the file)."""
    translations = load_catalogue(settings.api.translations_dir)
    queue_enabled(settings)  # HELPDESK_BACKGROUND=queue off PostgreSQL stops the start here, naming the setting
    engine = make_engine(settings.database.url, busy_timeout_ms=settings.database.busy_timeout_ms)
    serving = Serving(settings=settings, sessions=make_session_factory(engine), encoder=encoder)
    app = Litestar(
        route_handlers=[*ROUTE_HANDLERS, static_files()],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[serving_lifespan],
        openapi_config=_openapi(),
        request_max_body_size=1_048_576,
        request_class=BoundedJSONRequest,
        guards=[authorize],
        before_request=check_request,
        before_send=[rate_limit_headers],
        cors_config=cors_config(settings.api),
    )
    document_problems(app)
    app.state.serving = serving
    app.state.translations = translations
    app.state.access = Access(
        serving.sessions,
        settings.api.rate_limits,
        settings.api.key_cache_seconds,
        unknown_key_limit=settings.api.unknown_key_rate_limit,
        windows=windows_for(settings, serving.sessions),
    )
    app.state.audit_writer = AuditWriter(serving.sessions)  # served suggestions' audit events, in batches
    app.on_shutdown.extend([lambda: app.state.audit_writer.close(), lambda: engine.dispose()])
    return app


def create_app_from_env() -> Litestar:
    """The app on the process's ``HELPDESK_*`` settings (used by ``helpdesk serve``). ``kill -USR1`` on a
    server process writes every thread's stack to its stderr: what a stuck request is waiting on."""
    dump_stacks_on_signal()
    return create_app(get_settings())
