"""The Freshdesk stand-in: its API v2 as documented (https://developers.freshdesk.com/api/)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from tests.standins.base import Call, Hook, Reply, StandIn, StoredTicket, plain, when

__all__ = ("FreshdeskStandIn",)


class FreshdeskStandIn(StandIn):
    """Freshdesk's API v2 (https://developers.freshdesk.com/api/)."""

    kind = "freshdesk"
    groups = {43000001: "Support", 43000002: "Billing"}
    statuses = (2, 3, 4, 5)
    priorities = (1, 2, 3, 4)
    defaults = (2, 1)

    def authorized(self, headers: dict[str, str]) -> bool:
        return self.basic(headers, self.credentials["api_key"], "X")

    def refusal(self, status: int, message: str, field_name: str | None = None) -> Reply:
        if status == 401:
            return Reply(
                401, {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
            )
        if status == 404:
            return Reply(404, None)
        if status == 415:
            return Reply(415, {"code": "invalid_content_type", "message": message})
        errors = [{"field": field_name or "body", "message": message, "code": "invalid_value"}]
        return Reply(400, {"description": "Validation failed", "errors": errors})

    def webhook(self, ticket_id: str, event: str, secret: str) -> Hook:
        """An automation rule's *Trigger webhook* with the advanced JSON content, its placeholders filled in
        (``ticket.status`` as Freshdesk names it), to a URL that carries the shared secret as ``?token=``."""
        ticket = self.ticket(ticket_id)
        status = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}.get(ticket.status, str(ticket.status))
        hook = {"ticket_id": str(ticket.id), "ticket_status": status, "event": event}
        return Hook(json.dumps({"freshdesk_webhook": hook}).encode(), {}, {"token": secret})

    def routes(self) -> list[tuple[str, str, Any]]:
        me = {
            "id": 43000100,
            "type": "support_agent",
            "contact": {"name": "Triage Bot", "email": "triage@example.test"},
        }
        return [
            ("GET", r"/api/v2/tickets", self.list_tickets),
            ("GET", r"/api/v2/tickets/(\d+)", lambda m, c: self.render(self.stored(m[1]), c.query.get("include", ""))),
            ("GET", r"/api/v2/tickets/(\d+)/conversations", self.conversations),
            ("POST", r"/api/v2/tickets/(\d+)/notes", self.add_note),
            ("PUT", r"/api/v2/tickets/(\d+)", self.update),
            (
                "GET",
                r"/api/v2/groups",
                lambda m, c: self.listed([{"id": i, "name": n} for i, n in self.groups.items()], c),
            ),
            ("GET", r"/api/v2/agents/me", lambda m, c: me),
        ]

    def listed(self, items: list[Any], call: Call, most: int = 100) -> Any:
        """A page of a list; a ``Link: <...>; rel="next"`` header says that more follow (raised as the
        answer, to carry the header)."""
        shown, more = self.page(items, call, 30, most)
        if more:
            query = {**call.query, "page": str(int(call.query.get("page", "1")) + 1)}
            link = f'<{self.base_url}{call.path}?{"&".join(f"{k}={v}" for k, v in query.items())}>; rel="next"'
            raise Reply(200, shown, {"link": link})
        return shown

    def render(self, t: StoredTicket, include: str = "") -> dict[str, Any]:
        out = {
            "id": t.id,
            "subject": t.subject,
            "status": t.status,
            "priority": t.priority,
            "group_id": self.group_id(t.group),
            "requester_id": 43000500,
            "responder_id": None,
            "source": 2,
            "type": t.custom.get("type"),
            "custom_fields": {k: v for k, v in t.custom.items() if k != "type"},
            "tags": [],
            "spam": False,
            "created_at": t.created_at,
            "updated_at": t.updated_at,
        }
        if "description" in include.split(",") or not include.startswith("list"):
            first = t.articles[0]["body"] if t.articles else ""
            out.update(description=f"<div>{html.escape(first)}</div>", description_text=first)
        if t.deleted:
            out["deleted"] = True
        if "stats" in include.split(","):
            done = t.status in (4, 5)
            out["stats"] = {"resolved_at": t.updated_at if done else None, "closed_at": None}
        if "requester" in include.split(","):
            out["requester"] = {"id": 43000500, "name": t.requester.split("@")[0], "email": t.requester}
            out["requester"].update(mobile=None, phone=None)
        return out

    def conversations(self, match: re.Match[str], call: Call) -> Any:
        ticket = self.stored(match[1])
        found = [
            {
                "id": a["id"],
                "ticket_id": ticket.id,
                "body": a.get("html") or f"<div>{html.escape(a['body'])}</div>",
                "body_text": plain(a["html"]) if "html" in a else a["body"],
                "incoming": not a["agent"],
                "private": a["internal"],
                "source": 2 if a["internal"] else 0,
                "user_id": 43000100 if a["agent"] else 43000500,
                "created_at": a["created_at"],
                "updated_at": a["created_at"],
            }
            for a in ticket.articles[1:]
        ]
        return self.listed(found, call)

    def add_note(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        ticket = self.stored(match[1])
        note = call.json
        unknown = [k for k in note if k not in ("body", "private", "incoming", "notify_emails", "user_id")]
        if unknown:
            raise self.refusal(400, "Unexpected/invalid field in request", unknown[0])
        if not isinstance(note.get("body"), str) or not note["body"].strip():
            raise self.refusal(400, "It should be a/an String", "body")
        if not isinstance(note.get("private", True), bool):
            raise self.refusal(400, "It should be a/an Boolean", "private")
        article = self.add_article(ticket, plain(note["body"]), internal=note.get("private", True), agent=True)
        article["html"] = note["body"]
        return {"id": article["id"], "ticket_id": ticket.id, "body": note["body"], "private": article["internal"]}

    def update(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        ticket = self.stored(match[1])
        change = call.json
        unknown = [k for k in change if k not in ("group_id", "priority", "status", "subject", "type", "custom_fields")]
        if unknown:
            raise self.refusal(400, "Unexpected/invalid field in request", unknown[0])
        if "priority" in change and change["priority"] not in self.priorities:
            raise self.refusal(400, "It should be one of these values: '1,2,3,4'", "priority")
        if "group_id" in change and change["group_id"] not in self.groups:
            raise self.refusal(400, "There is no group matching the given group_id", "group_id")
        if "status" in change and change["status"] not in self.statuses:
            raise self.refusal(400, "It should be one of these values: '2,3,4,5'", "status")
        if not isinstance(change.get("custom_fields", {}), dict):
            raise self.refusal(400, "It should be a/an key/value pair", "custom_fields")
        ticket.custom.update(change.get("custom_fields") or {})
        if "type" in change:
            ticket.custom["type"] = change["type"]
        ticket.group = self.groups[change["group_id"]] if "group_id" in change else ticket.group
        ticket.priority = change.get("priority", ticket.priority)
        ticket.status = change.get("status", ticket.status)
        ticket.updated_at = self.now()
        return self.render(ticket)

    def list_tickets(self, match: re.Match[str], call: Call) -> Any:
        q = call.query
        if q.get("order_by", "created_at") not in ("created_at", "due_by", "updated_at", "status"):
            raise self.refusal(
                400, "It should be one of these values: 'created_at,due_by,updated_at,status'", "order_by"
            )
        if q.get("order_type", "desc") not in ("asc", "desc"):
            raise self.refusal(400, "It should be one of these values: 'asc,desc'", "order_type")
        if int(q.get("page", "1")) > 300:
            raise self.refusal(400, "You cannot access tickets beyond the 300th page.", "page")
        found = [t for t in self.tickets.values() if not t.deleted]
        if "updated_since" in q:
            try:
                since = when(q["updated_since"])
            except ValueError:
                raise self.refusal(400, "It should be in the 'valid date' format", "updated_since") from None
            found = [t for t in found if when(t.updated_at) >= since]
        key = "updated_at" if q.get("order_by") == "updated_at" else "created_at"
        found.sort(key=lambda t: (getattr(t, key), t.id), reverse=q.get("order_type", "desc") == "desc")
        include = q.get("include", "")
        wrong = [i for i in include.split(",") if i and i not in ("description", "stats", "requester")]
        if wrong:
            raise self.refusal(400, "It should be one of these values: 'description,requester,stats'", "include")
        return self.listed([self.render(t, "list," + include) for t in found], call)
