"""Zammad: its REST API (https://docs.zammad.org/en/latest/api/intro.html) with an access token, and the
webhooks of its triggers (https://admin-docs.zammad.org/en/latest/manage/webhook.html).

Setup in Zammad: *Manage > Webhook*, a webhook to our URL with an *HMAC SHA1 Signature Token* (the
connector's webhook secret: Zammad then signs every request, ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the
body>``, and we refuse unsigned ones) and the default payload (``{"ticket": {...}, "article": {...}}``);
then *Manage > Trigger*, triggers that run it. Name them so that the name says what happened, e.g.
``helpdesk-triage: ticket created`` (condition *Action is created*) and ``helpdesk-triage: ticket updated``
(*Action is updated*): the ``X-Zammad-Trigger`` header carries the name.

What happened (``created`` or ``updated``): a trigger name that contains ``create`` but not ``update`` means
created, one that contains ``update`` but not ``create`` means updated; otherwise the payload decides: the
delivery is ``created`` when its article is the ticket's first (the lowest of ``ticket.article_ids``, or,
without those, an article made within two seconds of the ticket), ``updated`` in every other case (no
article, a later article). The delivery id is ``X-Zammad-Delivery`` (the same on Zammad's retries); the
delivery is ours when its article's body carries :data:`~triage.channels.connectors.base.MARKER`.

States: ``new`` and ``open`` are open, ``pending reminder`` and ``pending close`` pending, ``closed`` closed,
any other (a custom state) open. A ``merged`` ticket lives on in the ticket it was merged into and a
``removed`` one is gone, so reading either raises :class:`~triage.channels.connectors.base.RemoteGone`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from inscriptis import get_text

from models.errors import InvalidInput
from triage.channels.connectors.base import MARKER, Connector, InboundEvent, Page, RemoteError, RemoteGone, RemoteTicket
from triage.channels.connectors.wire import (
    InvalidSignature,
    body_digest,
    check_hmac,
    field_value,
    header,
    json_payload,
    when,
)

__all__ = ("ZammadConnector",)

STATES = {"new": "open", "open": "open", "pending reminder": "pending", "pending close": "pending", "closed": "closed"}
GONE = ("merged", "removed")
PAGE_SIZE = 50
CREATED_WITHIN = 2.0  # seconds between a ticket and its first article


def _plain(article: Mapping[str, Any]) -> str:
    body = str(article.get("body") or "")
    if str(article.get("content_type") or "").startswith("text/html"):
        return get_text(body).strip()
    return body.strip()


def _name(value: Any) -> str | None:
    """A relation as ``?expand=true`` names it (a string) or as a webhook carries it (an object)."""
    if isinstance(value, Mapping):
        value = value.get("name")
    return field_value(value)


class ZammadConnector(Connector):
    """Zammad by its REST API (``Authorization: Token token=...``) and trigger webhooks."""

    kind: ClassVar[str] = "zammad"
    title: ClassVar[str] = "Zammad"
    credential_keys: ClassVar[tuple[str, ...]] = ("token",)
    option_keys: ClassVar[tuple[str, ...]] = ("category_field",)  # a custom ticket attribute's name
    untriaged: ClassVar[dict[str, tuple[str, ...]]] = {"priority": ("2 normal",)}
    default_mapping: ClassVar[dict[str, dict[str, str]]] = {
        "priority": {"1 low": "low", "2 normal": "normal", "3 high": "high"}
    }

    def auth(self) -> dict[str, Any]:
        """The access token header."""
        return {"headers": {"Authorization": f"Token token={self.config.credentials['token']}"}}

    def verify(self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, secret: str) -> None:
        """``X-Hub-Signature: sha1=<hex>``, the HMAC-SHA1 of the body under the webhook's signature token."""
        given = header(headers, "x-hub-signature")
        if given is not None:
            method, _, digest = given.strip().partition("=")
            if method.lower() != "sha1" or not digest:
                raise InvalidSignature("X-Hub-Signature is not sha1=<hex>", field="signature")
            given = digest
        check_hmac(given, secret, body, "sha1")

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """The ticket, what happened to it (see the module's docstring) and whether the article is ours."""
        payload = json_payload(body)
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, dict):
            raise InvalidInput("the webhook body has no ticket object", field="ticket")
        ticket_id = ticket.get("id")
        if isinstance(ticket_id, bool) or not str(ticket_id or "").isdigit():
            raise InvalidInput("the webhook's ticket has no numeric id", field="ticket.id")
        article = payload.get("article")
        article = article if isinstance(article, dict) and article else None
        ours = article is not None and MARKER in str(article.get("body") or "")
        delivery = header(headers, "x-zammad-delivery") or body_digest(body)
        kind = self._kind(header(headers, "x-zammad-trigger") or "", ticket, article)
        return InboundEvent(delivery_id=delivery, kind=kind, ticket_id=str(ticket_id), ours=ours)

    @staticmethod
    def _kind(trigger: str, ticket: Mapping[str, Any], article: Mapping[str, Any] | None) -> str:
        name = trigger.lower()
        if ("create" in name) != ("update" in name):
            return "created" if "create" in name else "updated"
        if article is None:
            return "updated"
        ids = [i for i in ticket.get("article_ids") or [] if isinstance(i, int)]
        if ids and isinstance(article.get("id"), int):
            return "created" if article["id"] == min(ids) else "updated"
        made, written = when(ticket.get("created_at")), when(article.get("created_at"))
        if made and written and abs((written - made).total_seconds()) <= CREATED_WITHIN:
            return "created"
        return "updated"

    def fetch_ticket(self, ticket_id: str) -> RemoteTicket:
        """``GET /api/v1/tickets/{id}?expand=true`` and its articles."""
        ticket = self.json(
            self.request("GET", f"/api/v1/tickets/{ticket_id}?expand=true", ticket_id=ticket_id), "a ticket"
        )
        if not isinstance(ticket, dict):
            raise RemoteError("Zammad answered a ticket with no object", retry=False)
        state = str(_name(ticket.get("state")) or "").lower()
        if state in GONE:
            raise RemoteGone(f"Zammad ticket {ticket_id} is {state}", status=None)
        return self._ticket(ticket, self._articles(ticket_id))

    def _articles(self, ticket_id: str) -> list[dict[str, Any]]:
        found = self.json(
            self.request("GET", f"/api/v1/ticket_articles/by_ticket/{ticket_id}", ticket_id=ticket_id), "articles"
        )
        return sorted((a for a in found if isinstance(a, dict)), key=lambda a: a.get("id") or 0) if found else []

    def _ticket(self, ticket: Mapping[str, Any], articles: list[dict[str, Any]]) -> RemoteTicket:
        state = str(_name(ticket.get("state")) or "").lower()
        status = STATES.get(state, "open")
        public = [a for a in articles if not a.get("internal")]
        first = public[0] if public else (articles[0] if articles else {})
        replies = [a for a in public if str(_name(a.get("sender")) or "").lower() == "agent"]
        fields: dict[str, str | None] = {
            "assignee": _name(ticket.get("group")),
            "priority": _name(ticket.get("priority")),
            **self.custom_fields(ticket),  # category and added fields: custom ticket attributes
        }
        closed = when(ticket.get("last_close_at")) or when(ticket.get("close_at"))
        return RemoteTicket(
            id=str(ticket.get("id")),
            subject=str(ticket.get("title") or ""),
            body=_plain(first) if first else "",
            status=status,
            fields=fields,
            requester=_name(ticket.get("customer")),
            resolution=_plain(replies[-1]) if replies and status == "closed" else None,
            created_at=when(ticket.get("created_at")),
            resolved_at=closed if status == "closed" else None,
            notes=tuple(str(a.get("body") or "") for a in articles if a.get("internal")),
            first_reply_at=when(replies[0].get("created_at")) if replies else None,
        )

    def resolved_tickets(self, cursor: str | None) -> Page:
        """The documented ticket search for closed tickets, by id ascending; the cursor is the page number
        (Zammad gives no total: the first empty page ends it)."""
        page = int(cursor) if cursor and cursor.isdigit() and int(cursor) > 0 else 1
        params = {
            "query": "state.name:closed",
            "page": str(page),
            "per_page": str(PAGE_SIZE),
            "sort_by": "id",
            "order_by": "asc",
            "expand": "true",
        }
        found = self.json(self.request("GET", "/api/v1/tickets/search", params=params), "a search")
        if isinstance(found, dict):  # older versions answer {"tickets": [ids], "assets": {...}} without expand
            assets = (found.get("assets") or {}).get("Ticket") or {}
            found = [assets.get(str(i)) for i in found.get("tickets") or []]
        rows = [t for t in found or [] if isinstance(t, dict)]
        tickets = []
        for row in rows:
            try:
                tickets.append(self._ticket(row, self._articles(str(row.get("id")))))
            except RemoteGone:  # deleted between the search and the read
                continue
        return Page(tickets=tickets, cursor=str(page + 1) if rows else None)

    def add_note(self, ticket_id: str, text: str, html: str) -> None:
        """An internal note article (``type: note``, ``internal: true``) in HTML."""
        note = {
            "ticket_id": int(ticket_id) if ticket_id.isdigit() else ticket_id,
            "body": html,
            "content_type": "text/html",
            "type": "note",
            "internal": True,
        }
        self.request("POST", "/api/v1/ticket_articles", ticket_id=ticket_id, json=note)

    def set_fields(self, ticket_id: str, values: Mapping[str, str]) -> None:
        """``PUT /api/v1/tickets/{id}`` with the group and priority by name, and added fields' attributes."""
        names = {"assignee": "group", "priority": "priority", **self.added_fields()}  # added: custom attributes
        self.check_settable(values, tuple(names))
        change = {names[k]: v for k, v in values.items()}
        if change:
            self.request("PUT", f"/api/v1/tickets/{ticket_id}", ticket_id=ticket_id, json=change)

    def whoami(self) -> str:
        """``GET /api/v1/users/me``."""
        me = self.json(self.request("GET", "/api/v1/users/me"), "users/me")
        if not isinstance(me, dict) or me.get("id") is None:
            raise RemoteError("Zammad answered users/me with no user", retry=False)
        login = me.get("login") or me.get("email") or me.get("id")
        name = " ".join(str(me.get(k) or "") for k in ("firstname", "lastname")).strip()
        return f"{name} ({login})" if name else str(login)
