"""The built-in connectors by kind; each is imported when first asked for."""

from __future__ import annotations

from importlib import import_module

from triage.channels.connectors.base import Connector
from triage.errors import InvalidQuery

__all__ = ("KINDS", "connector_class")

KINDS = {
    "django-helpdesk": "triage.channels.connectors.django_helpdesk:DjangoHelpdeskConnector",
    "zammad": "triage.channels.connectors.zammad:ZammadConnector",
    "zendesk": "triage.channels.connectors.zendesk:ZendeskConnector",
    "freshdesk": "triage.channels.connectors.freshdesk:FreshdeskConnector",
}


def connector_class(kind: str) -> type[Connector]:
    """The connector class of ``kind``; raise :class:`InvalidQuery` naming ``kind`` for an unknown one."""
    if kind not in KINDS:
        raise InvalidQuery(f"unknown connector kind {kind!r}; the kinds are {', '.join(KINDS)}", field="kind")
    module, name = KINDS[kind].split(":")
    return getattr(import_module(module), name)
