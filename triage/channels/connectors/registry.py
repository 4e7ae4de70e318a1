"""The connectors a deployment configured: add, read, change and remove them (admin), their label mapping
between the helpdesk's values and ours, and the connector object that talks to each. Credentials and the
webhook secret are stored but never returned (the secret once, when it is made) or logged."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.connectors import ConnectorInbound, HelpdeskConnector
from models.fields import field_names
from models.outbox import WebhookDelivery, WebhookSubscription
from models.tickets import LABEL_FIELDS
from triage.channels.connectors.base import Connector, ConnectorConfig
from triage.channels.connectors.kinds import connector_class
from triage.channels.webhooks.destinations import check_url
from triage.errors import ConnectorExists, ConnectorNotFound, InvalidQuery

__all__ = (
    "Labels",
    "build_connector",
    "connector_out",
    "create_connector",
    "delete_connector",
    "get_connector",
    "list_connectors",
    "update_connector",
)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_VALUE = 200


def _strings(value: Any, field: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise InvalidQuery(f"{field} must be a non-empty string", field=field)
    text = str(value).strip()
    if len(text) > MAX_VALUE:
        raise InvalidQuery(f"{field} is longer than {MAX_VALUE} characters", field=field)
    return text


def _check_credentials(cls: type[Connector], credentials: Mapping[str, Any]) -> dict[str, str]:
    unknown = [k for k in credentials if k not in cls.credential_keys]
    if unknown:
        known = ", ".join(cls.credential_keys)
        raise InvalidQuery(
            f"{cls.title} takes credentials {known}, not {unknown[0]!r}", field=f"credentials.{unknown[0]}"
        )
    clean = {k: _strings(v, f"credentials.{k}") for k, v in credentials.items()}
    missing = [k for k in cls.credential_keys if k not in clean]
    if missing:
        raise InvalidQuery(f"{cls.title} needs credentials {', '.join(missing)}", field=f"credentials.{missing[0]}")
    return clean


FIELD_OPTION = re.compile(r"^[a-z][a-z0-9_]{0,19}_field$")  # the helpdesk field holding one of our fields


def _check_options(cls: type[Connector], options: Mapping[str, Any]) -> dict[str, str]:
    unknown = [k for k in options if k not in cls.option_keys and not FIELD_OPTION.match(k)]
    if unknown:
        known = ", ".join(cls.option_keys) or "none"
        raise InvalidQuery(f"{cls.title} takes options {known}, not {unknown[0]!r}", field=f"options.{unknown[0]}")
    return {k: _strings(v, f"options.{k}") for k, v in options.items()}


def _check_fields(names: Sequence[str], allowed: Sequence[str], field: str) -> list[str]:
    wrong = [n for n in names if n not in allowed]
    if wrong:
        raise InvalidQuery(f"{field}: {wrong[0]!r} is not one of {', '.join(allowed)}", field=field)
    return list(dict.fromkeys(names))


def _check_mapping(mapping: Mapping[str, Any], field: str, fields: Sequence[str]) -> dict[str, dict[str, str]]:
    clean: dict[str, dict[str, str]] = {}
    for name, pairs in mapping.items():
        _check_fields([name], fields, field)
        if not isinstance(pairs, Mapping):
            raise InvalidQuery(f"{field}.{name} maps the helpdesk's values to ours", field=f"{field}.{name}")
        clean[name] = {_strings(k, f"{field}.{name}"): _strings(v, f"{field}.{name}.{k}") for k, v in pairs.items()}
    return clean


def _check_untriaged(untriaged: Mapping[str, Any], fields: Sequence[str]) -> dict[str, list[str]]:
    clean: dict[str, list[str]] = {}
    for name, values in untriaged.items():
        _check_fields([name], fields, "untriaged")
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise InvalidQuery(f"untriaged.{name} is a list of the helpdesk's values", field=f"untriaged.{name}")
        clean[name] = [_strings(v, f"untriaged.{name}") for v in values]
    return clean


def build_connector(row: HelpdeskConnector, *, timeout: float = 10.0) -> Connector:
    """The connector object that talks to ``row``'s helpdesk."""
    config = ConnectorConfig(row.name, row.base_url, dict(row.credentials or {}), dict(row.options or {}))
    return connector_class(row.kind)(config, timeout=timeout)


class Labels:
    """A connector's translation between the helpdesk's values and our labels, per field: the deployment's
    mapping over the connector's default one; a value with no entry is the same in both."""

    def __init__(self, row: HelpdeskConnector, cls: type[Connector]) -> None:
        names = list(dict.fromkeys([*LABEL_FIELDS, *(row.mapping or {}), *(row.untriaged or {})]))  # added fields too
        self.mapping = {
            name: {**cls.default_mapping.get(name, {}), **(row.mapping or {}).get(name, {})} for name in names
        }
        self.untriaged = {name: tuple((row.untriaged or {}).get(name, cls.untriaged.get(name, ()))) for name in names}

    def ours(self, name: str, theirs: str | None) -> str | None:
        """Our label for the helpdesk's value (``None`` stays ``None``)."""
        return None if theirs is None else self.mapping.get(name, {}).get(theirs, theirs)

    def theirs(self, name: str, ours: str) -> str | None:
        """The helpdesk's value for our label: the first mapped to it, the label itself when the field has no
        mapping, ``None`` when it has one but nothing maps to this label (it cannot be written)."""
        pairs = self.mapping.get(name, {})
        matches = [theirs for theirs, label in pairs.items() if label == ours]
        if matches:
            return matches[0]
        return None if pairs else ours

    def unset(self, name: str, theirs: str | None) -> bool:
        """Whether the helpdesk's value means nobody chose one yet (empty, or one of the untriaged values)."""
        return theirs is None or theirs == "" or theirs in self.untriaged.get(name, ())


def create_connector(
    session: Session,
    *,
    name: str,
    kind: str,
    base_url: str,
    credentials: Mapping[str, Any],
    webhook_secret: str | None = None,
    options: Mapping[str, Any] | None = None,
    mapping: Mapping[str, Any] | None = None,
    write_fields: Sequence[str] | None = None,
    untriaged: Mapping[str, Any] | None = None,
    note: bool = True,
    allow_networks: tuple[str, ...] = (),
) -> HelpdeskConnector:
    """A new active connector, with its internal queue; ``write_fields`` defaults to every field the
    connector can set (each only when the prediction is confident and nobody set the field)."""
    if not NAME.match(name or ""):
        raise InvalidQuery("a name is 1 to 40 lower-case letters, digits and dashes", field="name")
    cls = connector_class(kind)
    check_url(base_url, allow_networks, field="base_url")
    clean_options = _check_options(cls, options or {})
    connector = cls(ConnectorConfig(name, base_url, _check_credentials(cls, credentials), clean_options))
    writable = connector.settable()
    secret = _strings(webhook_secret, "webhook_secret") if webhook_secret else secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise InvalidQuery("a webhook secret has at least 16 characters", field="webhook_secret")
    if session.scalar(select(HelpdeskConnector.id).where(HelpdeskConnector.name == name)):
        raise ConnectorExists(f"a connector named {name!r} exists", field="name")
    queue = WebhookSubscription(kind="connector", url=f"connector:{name}", event_types=[], secret="-", active=True)
    row = HelpdeskConnector(
        name=name,
        kind=kind,
        base_url=base_url,
        credentials=dict(connector.config.credentials),
        webhook_secret=secret,
        options=clean_options,
        mapping=_check_mapping(mapping or {}, "mapping", field_names(session)),
        write_fields=_check_fields(list(writable if write_fields is None else write_fields), writable, "write_fields"),
        untriaged=_check_untriaged(untriaged or {}, field_names(session)),
        note=note,
        active=True,
        backfill_state={},
    )
    try:
        with session.begin_nested():
            session.add(queue)
            session.flush()
            row.subscription_id = queue.id
            queue.description = f"connector {name}"
            session.add(row)
    except IntegrityError:
        raise ConnectorExists(f"a connector named {name!r} exists", field="name") from None
    return row


def get_connector(session: Session, name: str) -> HelpdeskConnector:
    """The connector called ``name``; raise :class:`ConnectorNotFound`."""
    row = session.scalar(select(HelpdeskConnector).where(HelpdeskConnector.name == name))
    if row is None:
        raise ConnectorNotFound(f"no connector named {name!r}", field="name")
    return row


def list_connectors(session: Session) -> list[HelpdeskConnector]:
    """Every connector, by name."""
    return list(session.scalars(select(HelpdeskConnector).order_by(HelpdeskConnector.name)))


def update_connector(
    session: Session, name: str, *, allow_networks: tuple[str, ...] = (), **changes: Any
) -> HelpdeskConnector:
    """Change a connector: any of ``base_url``, ``credentials`` (replaced whole), ``webhook_secret``,
    ``options``, ``mapping``, ``write_fields``, ``untriaged``, ``note``, ``active``."""
    row = get_connector(session, name)
    cls = connector_class(row.kind)
    if changes.get("base_url") is not None:
        check_url(changes["base_url"], allow_networks, field="base_url")
        row.base_url = changes["base_url"]
    if changes.get("credentials") is not None:
        row.credentials = _check_credentials(cls, changes["credentials"])
    if changes.get("webhook_secret") is not None:
        secret = _strings(changes["webhook_secret"], "webhook_secret")
        if len(secret) < 16:
            raise InvalidQuery("a webhook secret has at least 16 characters", field="webhook_secret")
        row.webhook_secret = secret
    if changes.get("options") is not None:
        row.options = _check_options(cls, changes["options"])
    writable = build_connector(row).settable()
    if changes.get("mapping") is not None:
        row.mapping = _check_mapping(changes["mapping"], "mapping", field_names(session))
    if changes.get("write_fields") is not None:
        row.write_fields = _check_fields(changes["write_fields"], writable, "write_fields")
    if changes.get("untriaged") is not None:
        row.untriaged = _check_untriaged(changes["untriaged"], field_names(session))
    for flag in ("note", "active"):
        if changes.get(flag) is not None:
            setattr(row, flag, bool(changes[flag]))
    if row.subscription_id is not None:
        session.get(WebhookSubscription, row.subscription_id).active = row.active
    row.updated_at = utcnow()
    session.flush()
    return row


def delete_connector(session: Session, name: str) -> None:
    """Remove a connector with its queue and delivery log; the tickets it brought stay."""
    row = get_connector(session, name)
    session.query(ConnectorInbound).filter(ConnectorInbound.connector_id == row.id).delete()
    if row.subscription_id is not None:
        session.query(WebhookDelivery).filter(WebhookDelivery.subscription_id == row.subscription_id).delete()
        session.query(WebhookSubscription).filter(WebhookSubscription.id == row.subscription_id).delete()
    session.delete(row)
    session.flush()


def connector_out(row: HelpdeskConnector, *, secret: bool = False) -> dict[str, Any]:
    """A connector as the API and CLI show it: never its credentials (only which are set), its webhook
    secret only right after it was made."""
    cls = connector_class(row.kind)
    labels = Labels(row, cls)
    out: dict[str, Any] = {
        "name": row.name,
        "kind": row.kind,
        "base_url": row.base_url,
        "credentials": sorted((row.credentials or {}).keys()),
        "options": dict(row.options or {}),
        "mapping": {name: pairs for name, pairs in labels.mapping.items() if pairs},
        "write_fields": list(row.write_fields or []),
        "untriaged": {name: list(values) for name, values in labels.untriaged.items() if values},
        "note": row.note,
        "active": row.active,
        "events_path": f"/v1/connectors/{row.name}/events",
        "backfill": {"cursor": row.backfill_cursor, **(row.backfill_state or {})},
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    if secret:
        out["webhook_secret"] = row.webhook_secret
    return out
