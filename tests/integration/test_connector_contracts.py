"""The Zammad, Zendesk and Freshdesk connectors against their documented contracts: recorded webhooks
(signatures, parsing), the recorded API answers of the docs (tests/data/connectors), and a local stand-in
of each REST API (tests/standins) that refuses what the real one refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.connectors import HelpdeskConnector
from models.errors import InvalidInput
from tests.standins import StandIn, standin
from triage.channels.connectors import freshdesk
from triage.channels.connectors.base import MARKER, Connector, ConnectorConfig, RemoteError, RemoteGone
from triage.channels.connectors.history import history_values
from triage.channels.connectors.kinds import connector_class
from triage.channels.connectors.registry import Labels
from triage.channels.connectors.wire import InvalidSignature, body_digest

DATA = Path(__file__).resolve().parent.parent / "data" / "connectors"
SECRET = "s3cret-webhook-token"
KINDS = ("zammad", "zendesk", "freshdesk")
CLOSED = {"zammad": ("closed",), "zendesk": ("solved", "closed"), "freshdesk": (4, 5)}
OPEN = {"zammad": "open", "zendesk": "open", "freshdesk": 2}


def recorded(kind: str, name: str) -> Any:
    """A recorded payload or answer, without its ``_source`` (an array is kept under ``_body``)."""
    data = json.loads((DATA / kind / f"{name}.json").read_text())
    assert data.pop("_source").startswith("https://")
    return data.pop("_body") if "_body" in data else data


def raw(kind: str, name: str) -> bytes:
    return json.dumps(recorded(kind, name)).encode()


def connector(api: StandIn, **options: str) -> Connector:
    return connector_class(api.kind)(api.config(**options))


@pytest.fixture(scope="module", params=KINDS)
def api(request: pytest.FixtureRequest) -> Iterator[StandIn]:
    """One running stand-in per helpdesk for the module."""
    with standin(request.param) as running:
        yield running


# --- webhooks: signatures --------------------------------------------------------------------------------


def _zammad_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return {"X-Zammad-Trigger": "triage", "X-Zammad-Delivery": "a1b2c3", "X-Hub-Signature": f"sha1={digest}"}


def _zendesk_headers(body: bytes, secret: str = SECRET, stamp: str = "2024-06-11T12:00:05Z") -> dict[str, str]:
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Invocation-Id": "8350205582",
    }


def test_zammad_verifies_the_hub_signature_and_refuses_anything_else():
    hub = connector_class("zammad")(ConnectorConfig("z", "http://zammad.invalid", {"token": "t"}))
    body = raw("zammad", "webhook_created")
    hub.verify(_zammad_headers(body), {}, body, SECRET)
    hub.verify({k.lower(): v for k, v in _zammad_headers(body).items()}, {}, body, SECRET)
    refused = [
        _zammad_headers(body, "another secret"),
        {"X-Zammad-Delivery": "a1b2c3"},
        {"X-Hub-Signature": _zammad_headers(body)["X-Hub-Signature"].replace("sha1=", "sha256=")},
        {"X-Hub-Signature": _zammad_headers(body)["X-Hub-Signature"].removeprefix("sha1=")},
    ]
    for headers in refused:
        with pytest.raises(InvalidSignature):
            hub.verify(headers, {}, body, SECRET)
    with pytest.raises(InvalidSignature):
        hub.verify(_zammad_headers(body), {}, body + b" ", SECRET)


def test_zendesk_verifies_timestamp_and_body_and_refuses_anything_else():
    desk = connector_class("zendesk")(ConnectorConfig("z", "http://zendesk.invalid", {"email": "a@b", "token": "t"}))
    for name in ("webhook_trigger_created", "webhook_event_created"):
        body = raw("zendesk", name)
        desk.verify(_zendesk_headers(body), {}, body, SECRET)
        moved = {**_zendesk_headers(body), "X-Zendesk-Webhook-Signature-Timestamp": "2024-06-11T12:00:06Z"}
        unsigned = {"X-Zendesk-Webhook-Signature-Timestamp": "2024-06-11T12:00:05Z"}
        for headers in (_zendesk_headers(body, "another secret"), moved, unsigned):
            with pytest.raises(InvalidSignature):
                desk.verify(headers, {}, body, SECRET)


def test_freshdesk_takes_the_shared_token_in_the_url_or_a_header():
    desk = connector_class("freshdesk")(ConnectorConfig("f", "http://freshdesk.invalid", {"api_key": "k"}))
    body = raw("freshdesk", "webhook_created")
    desk.verify({}, {"token": SECRET}, body, SECRET)
    desk.verify({"X-Helpdesk-Triage-Token": SECRET}, {}, body, SECRET)
    for headers, query in (({}, {"token": "wrong"}), ({"X-Helpdesk-Triage-Token": "wrong"}, {}), ({}, {})):
        with pytest.raises(InvalidSignature):
            desk.verify(headers, query, body, SECRET)


# --- webhooks: what they report ------------------------------------------------------------------------


def test_zammad_events():
    hub = connector_class("zammad")(ConnectorConfig("z", "http://zammad.invalid", {"token": "t"}))
    body = raw("zammad", "webhook_created")
    event = hub.parse_event(_zammad_headers(body), body)
    assert (event.kind, event.ticket_id, event.delivery_id, event.ours) == ("created", "57", "a1b2c3", False)
    note = raw("zammad", "webhook_our_note")
    event = hub.parse_event({}, note)
    assert (event.kind, event.ticket_id, event.delivery_id, event.ours) == ("updated", "57", body_digest(note), True)
    assert hub.parse_event({"X-Zammad-Trigger": "Triage: ticket updated"}, body).kind == "updated"
    assert hub.parse_event({"X-Zammad-Trigger": "Triage: ticket created"}, note).kind == "created"
    timed = recorded("zammad", "webhook_created")
    del timed["ticket"]["article_ids"]
    assert hub.parse_event({}, json.dumps(timed).encode()).kind == "created"  # the article came with the ticket
    assert hub.parse_event({}, json.dumps({"ticket": {"id": 57}}).encode()).kind == "updated"  # no article
    for body, field in ((b"<html>", "body"), (b"[]", "ticket"), (b'{"ticket": {"id": "x"}}', "ticket.id")):
        with pytest.raises(InvalidInput) as error:
            hub.parse_event({}, body)
        assert error.value.field == field


def test_zendesk_events():
    desk = connector_class("zendesk")(ConnectorConfig("z", "http://zendesk.invalid", {"email": "a@b", "token": "t"}))
    body = raw("zendesk", "webhook_trigger_created")
    event = desk.parse_event(_zendesk_headers(body), body)
    assert (event.kind, event.ticket_id, event.delivery_id, event.ours) == ("created", "8123", "8350205582", False)
    event = desk.parse_event({}, raw("zendesk", "webhook_event_created"))
    assert (event.kind, event.ticket_id, event.ours) == ("created", "8123", False)
    assert event.delivery_id == "7c1f0d2e-5b7a-4f7e-9d5e-2f9a1c3b4d5e"  # the event's id without the header
    event = desk.parse_event({}, raw("zendesk", "webhook_event_our_note"))
    assert (event.kind, event.ticket_id, event.ours) == ("updated", "8123", True)
    ours = {"ticket_id": 8123, "event": "updated", "latest_comment": f"Team: Billing {MARKER}91"}
    assert desk.parse_event({}, json.dumps(ours).encode()).ours
    wrong = [
        (b"not json", "body"),
        (b'{"event": "created"}', "ticket_id"),
        (b'{"ticket_id": "8123"}', "event"),
        (b'{"ticket_id": "8123", "event": "deleted"}', "event"),
        (b'{"type": "zen:event-type:user.created", "detail": {"id": "1"}}', "type"),
        (b'{"type": "zen:event-type:ticket.created", "detail": {}}', "detail.id"),
    ]
    for body, field in wrong:
        with pytest.raises(InvalidInput) as error:
            desk.parse_event({}, body)
        assert error.value.field == field


def test_freshdesk_events_are_keyed_by_their_body():
    desk = connector_class("freshdesk")(ConnectorConfig("f", "http://freshdesk.invalid", {"api_key": "k"}))
    created, updated = raw("freshdesk", "webhook_created"), raw("freshdesk", "webhook_updated")
    event = desk.parse_event({}, created)
    assert (event.kind, event.ticket_id, event.delivery_id, event.ours) == (
        "created",
        "1042",
        body_digest(created),
        False,
    )
    again = desk.parse_event({}, updated)
    assert (again.kind, again.ticket_id) == ("updated", "1042") and again.delivery_id != event.delivery_id
    flat = desk.parse_event({}, json.dumps({"ticket_id": 7, "event": "updated"}).encode())
    assert (flat.kind, flat.ticket_id) == ("updated", "7")
    ours = {"freshdesk_webhook": {"ticket_id": "7", "event": "updated", "latest_private_comment": MARKER + "3"}}
    assert desk.parse_event({}, json.dumps(ours).encode()).ours
    wrong = [
        (b"{", "body"),
        (b'{"freshdesk_webhook": {"event": "created"}}', "freshdesk_webhook.ticket_id"),
        (b'{"freshdesk_webhook": {"ticket_id": "{{ticket.id}}", "event": "created"}}', "freshdesk_webhook.ticket_id"),
        (b'{"freshdesk_webhook": {"ticket_id": "7"}}', "freshdesk_webhook.event"),
    ]
    for body, field in wrong:
        with pytest.raises(InvalidInput) as error:
            desk.parse_event({}, body)
        assert error.value.field == field


# --- the documented API answers, read by the connectors ---------------------------------------------------


def _served(kind: str, answers: dict[str, Any], **options: str) -> Connector:
    """A connector whose HTTP client answers each path with a recorded answer (404 for others)."""

    def answer(request: httpx.Request) -> httpx.Response:
        found = answers.get(request.url.path)
        if callable(found):
            found = found(request)
        return httpx.Response(404) if found is None else httpx.Response(200, json=found)

    credentials = {k: "x" for k in connector_class(kind).credential_keys}
    config = ConnectorConfig(kind, "http://helpdesk.invalid", credentials, options)
    return connector_class(kind)(config, httpx.Client(transport=httpx.MockTransport(answer)))


def test_zammad_reads_the_documented_answers():
    hub = _served(
        "zammad",
        {
            "/api/v1/tickets/57": recorded("zammad", "ticket"),
            "/api/v1/ticket_articles/by_ticket/57": recorded("zammad", "articles"),
            "/api/v1/tickets/search": lambda r: recorded("zammad", "search") if r.url.params["page"] == "1" else [],
            "/api/v1/users/me": recorded("zammad", "users_me"),
        },
        category_field="category",
    )
    ticket = hub.fetch_ticket("57")
    assert (ticket.id, ticket.subject, ticket.status, ticket.requester) == (
        "57",
        "VPN drops every hour",
        "closed",
        "tomas@customer.example.test",
    )
    assert ticket.fields == {"assignee": "Network", "priority": "3 high", "category": "Network > VPN"}
    assert ticket.body == "Since Monday my VPN disconnects every hour.\nReconnecting works."
    assert ticket.resolution and ticket.resolution.startswith("Hi Tomas,")
    assert len(ticket.notes) == 1 and MARKER + "88" in ticket.notes[0]
    assert ticket.resolved_at and ticket.resolved_at.isoformat() == "2024-03-05T10:02:11.400000+00:00"
    first = hub.resolved_tickets(None)
    assert [t.id for t in first.tickets] == ["57"] and first.cursor == "2"
    assert hub.resolved_tickets(first.cursor) == type(first)(tickets=[], cursor=None)
    assert hub.whoami() == "Ines Varga (ines@desk.example.test)"


def test_zendesk_reads_the_documented_answers():
    desk = _served(
        "zendesk",
        {
            "/api/v2/tickets/8123.json": recorded("zendesk", "ticket"),
            "/api/v2/tickets/8123/comments.json": recorded("zendesk", "comments"),
            "/api/v2/groups.json": recorded("zendesk", "groups"),
            "/api/v2/incremental/tickets/cursor.json": recorded("zendesk", "incremental_cursor"),
            "/api/v2/users/me.json": recorded("zendesk", "users_me"),
        },
        category_field="36001234",
    )
    ticket = desk.fetch_ticket("8123")
    assert (ticket.status, ticket.requester, ticket.body) == (
        "resolved",
        "mara@customer.example.test",
        "Our March invoice has 19% VAT, we are exempt.",
    )
    assert ticket.fields == {"assignee": "Billing", "priority": "high", "category": "billing_tax"}
    assert ticket.resolution == "We corrected the invoice; the new one is attached."
    assert len(ticket.notes) == 1 and MARKER + "91" in ticket.notes[0]
    page = desk.resolved_tickets(None)
    assert [t.id for t in page.tickets] == ["8123"] and page.cursor is None  # the open one is left out
    assert desk.whoami() == "Triage Bot (triage@desk.example.test)"


def test_freshdesk_reads_the_documented_answers():
    desk = _served(
        "freshdesk",
        {
            "/api/v2/tickets/1042": recorded("freshdesk", "ticket"),
            "/api/v2/tickets/1042/conversations": recorded("freshdesk", "conversations"),
            "/api/v2/groups": recorded("freshdesk", "groups"),
            "/api/v2/tickets": recorded("freshdesk", "tickets_list"),
            "/api/v2/agents/me": recorded("freshdesk", "agents_me"),
        },
        category_field="cf_area",
    )
    ticket = desk.fetch_ticket("1042")
    assert (ticket.status, ticket.body) == ("resolved", "The scanner at till 3 is not detected since the update.")
    assert ticket.fields == {"assignee": "Hardware", "priority": "3", "category": "Hardware"}
    assert ticket.resolution == "Please reinstall the scanner driver 2.4 from the store portal."
    assert len(ticket.notes) == 1 and MARKER + "17" in ticket.notes[0]
    page = desk.resolved_tickets(None)
    assert [t.id for t in page.tickets] == ["1042"] and page.cursor is None  # no Link header: the last page
    assert desk.whoami() == "Triage Bot (triage@desk.example.test)"
    typed = _served("freshdesk", {"/api/v2/groups": recorded("freshdesk", "groups")}, category_field="type")
    assert typed._ticket(recorded("freshdesk", "ticket"), []).fields["category"] == "Incident"


# --- the stand-ins: every call the connectors make, and the failures ----------------------------------------

SEED = {  # a new ticket's group, priority and custom field in each helpdesk's values; what we write back
    "zammad": ("Support", "2 normal", {"category": "Printers"}, {"assignee": "Billing", "priority": "3 high"}),
    "zendesk": ("Support", "normal", {"36001234": "printers"}, {"assignee": "Billing", "priority": "high"}),
    "freshdesk": ("Support", 2, {"cf_area": "Printers"}, {"assignee": "Billing", "priority": "3"}),
}
CATEGORY = {"zammad": "category", "zendesk": "36001234", "freshdesk": "cf_area"}
WRITTEN = {  # the recorded body of set_fields(SEED's write-back)
    "zammad": {"group": "Billing", "priority": "3 high"},
    "zendesk": {"ticket": {"group_id": 360002, "priority": "high"}},
    "freshdesk": {"group_id": 43000002, "priority": 3},
}
BAD_PRIORITY = {"zammad": "9 extreme", "zendesk": "extreme", "freshdesk": "7"}
GROUPS = r"/api/v2/groups(\.json)?"


def _seed(api: StandIn, **changes: Any) -> str:
    group, priority, custom, _ = SEED[api.kind]
    fields = {"group": group, "priority": priority, "custom": custom, **changes}
    return api.add_ticket("Printer jams", "The printer on floor 2 jams on every page.", **fields)


def test_fetch_ticket(api: StandIn):
    ticket_id = _seed(api, replies=("Please clean the rollers.",), notes=(f"Team: Support {MARKER}5",))
    ticket = connector(api, category_field=CATEGORY[api.kind]).fetch_ticket(ticket_id)
    group, priority, custom, _ = SEED[api.kind]
    assert (ticket.id, ticket.subject, ticket.status) == (ticket_id, "Printer jams", "open")
    assert ticket.body == "The printer on floor 2 jams on every page."
    assert ticket.fields == {"assignee": group, "priority": str(priority), "category": next(iter(custom.values()))}
    assert len(ticket.notes) == 1 and f"{MARKER}5" in ticket.notes[0]
    assert ticket.created_at is not None and ticket.resolution is None
    api.page_size = 1  # comments and conversations come a page at a time
    try:
        assert connector(api, category_field=CATEGORY[api.kind]).fetch_ticket(ticket_id) == ticket
    finally:
        api.page_size = None


KIND_FIELD = {"zammad": "ticket_kind", "zendesk": "36009999", "freshdesk": "cf_kind"}  # where request_type lives


def test_an_added_field_is_read_from_the_helpdesk_field_its_option_names(api: StandIn):
    """A triage field a deployment added (request_type) comes from the field ``request_type_field`` names,
    and a resolved ticket stored as history keeps it in its labels."""
    _, _, custom, _ = SEED[api.kind]
    ticket_id = _seed(api, custom={**custom, KIND_FIELD[api.kind]: "Incident"})
    hub = connector(api, category_field=CATEGORY[api.kind], request_type_field=KIND_FIELD[api.kind])
    ticket = hub.fetch_ticket(ticket_id)
    assert ticket.fields["request_type"] == "Incident" and ticket.fields["category"] == next(iter(custom.values()))
    row = HelpdeskConnector(mapping={"request_type": {"Incident": "incident"}}, untriaged={})
    values = history_values("desk", api.kind, ticket, Labels(row, connector_class(api.kind)))
    assert values["labels"] == {"request_type": "incident"} and "request_type" not in values


def test_an_added_field_is_written_to_the_helpdesk_field_its_option_names(api: StandIn):
    ticket_id = _seed(api)
    hub = connector(api, request_type_field=KIND_FIELD[api.kind])
    assert "request_type" in hub.settable()
    hub.set_fields(ticket_id, {"request_type": "Incident", **SEED[api.kind][3]})
    assert api.ticket(ticket_id).custom[KIND_FIELD[api.kind]] == "Incident"
    assert hub.fetch_ticket(ticket_id).fields["request_type"] == "Incident"
    with pytest.raises(InvalidInput) as refused:  # no option names its field: nowhere to write it
        connector(api).set_fields(ticket_id, {"request_type": "Incident"})
    assert refused.value.field == "fields.request_type"


def test_add_note_writes_an_internal_note(api: StandIn):
    ticket_id = _seed(api)
    html = f"<p>Suggested team: <b>Billing</b></p><p><small>{MARKER}7</small></p>"
    connector(api).add_note(ticket_id, f"Suggested team: Billing\n{MARKER}7", html)
    call = api.calls[-1]
    expected = {
        "zammad": (
            "POST",
            "/api/v1/ticket_articles",
            {"ticket_id": int(ticket_id), "body": html, "content_type": "text/html", "type": "note", "internal": True},
        ),
        "zendesk": (
            "PUT",
            f"/api/v2/tickets/{ticket_id}.json",
            {"ticket": {"comment": {"html_body": html, "public": False}}},
        ),
        "freshdesk": ("POST", f"/api/v2/tickets/{ticket_id}/notes", {"body": html, "private": True}),
    }[api.kind]
    assert (call.method, call.path, call.json) == expected
    assert call.headers["content-type"] == "application/json"
    assert api.ticket(ticket_id).articles[-1]["internal"] is True
    assert any(f"{MARKER}7" in note for note in connector(api).fetch_ticket(ticket_id).notes)


def test_set_fields_by_name(api: StandIn):
    ticket_id = _seed(api)
    desk = connector(api)
    desk.set_fields(ticket_id, SEED[api.kind][3])
    assert api.calls[-1].json == WRITTEN[api.kind]
    assert desk.fetch_ticket(ticket_id).fields == {"assignee": "Billing", "priority": SEED[api.kind][3]["priority"]}
    listed = len(api.calls_to("GET", GROUPS))
    desk.set_fields(ticket_id, {"assignee": "Support"})
    assert len(api.calls_to("GET", GROUPS)) == listed  # the groups are looked up once per connector
    assert api.ticket(ticket_id).group == "Support"
    for values in ({"assignee": "No such team"}, {"priority": BAD_PRIORITY[api.kind]}):
        with pytest.raises(RemoteError) as error:
            desk.set_fields(ticket_id, values)
        assert error.value.retry is False and not isinstance(error.value, RemoteGone)
    assert api.ticket(ticket_id).group == "Support"
    with pytest.raises(InvalidInput):
        desk.set_fields(ticket_id, {"category": "Printers"})


def test_resolved_tickets_page_to_the_end(api: StandIn, monkeypatch: pytest.MonkeyPatch):
    for n in range(7):
        _seed(api, status=CLOSED[api.kind][n % len(CLOSED[api.kind])])
    _seed(api, status=OPEN[api.kind])
    if api.kind != "zammad":
        api.delete_ticket(_seed(api, status=CLOSED[api.kind][0]), soft=True)
    monkeypatch.setattr(freshdesk, "LAST_PAGE", 2)  # Freshdesk's 300-page limit, reached sooner
    api.page_size = 2
    try:
        desk, cursor, seen, pages = connector(api), None, [], 0
        while True:
            page = desk.resolved_tickets(cursor)
            seen += page.tickets
            pages, cursor = pages + 1, page.cursor
            if cursor is None or pages > 50:
                break
    finally:
        api.page_size = None
    closed = {str(t.id) for t in api.tickets.values() if t.status in CLOSED[api.kind] and not t.deleted}
    assert cursor is None and pages > 3
    assert {t.id for t in seen} == closed
    assert {t.status for t in seen} <= {"resolved", "closed"} and all(t.resolved_at for t in seen)


def test_whoami(api: StandIn):
    assert "Triage" in connector(api).whoami()


def test_a_service_that_is_down_is_tried_again(api: StandIn):
    ticket_id = _seed(api)
    desk = connector(api)
    api.fail_next(2, status=503)
    for call in (lambda: desk.fetch_ticket(ticket_id), desk.whoami):
        with pytest.raises(RemoteError) as error:
            call()
        assert (error.value.status, error.value.retry) == (503, True)
    assert desk.fetch_ticket(ticket_id).id == ticket_id


def test_a_deleted_ticket_is_gone(api: StandIn):
    ticket_id = _seed(api)
    api.delete_ticket(ticket_id)
    desk = connector(api)
    for call in (
        lambda: desk.fetch_ticket(ticket_id),
        lambda: desk.add_note(ticket_id, "note", "<p>note</p>"),
        lambda: desk.set_fields(ticket_id, {"priority": SEED[api.kind][3]["priority"]}),
    ):
        with pytest.raises(RemoteGone) as error:
            call()
        assert error.value.retry is False


def test_wrong_credentials_are_refused_for_good(api: StandIn):
    ticket_id = _seed(api)
    wrong = ConnectorConfig("desk", api.base_url, {k: "wrong" for k in api.credentials})
    desk = connector_class(api.kind)(wrong)
    for call in (desk.whoami, lambda: desk.fetch_ticket(ticket_id)):
        with pytest.raises(RemoteError) as error:
            call()
        assert (error.value.status, error.value.retry) == (401, False)
        assert not isinstance(error.value, RemoteGone)


def test_the_standin_refuses_malformed_calls(api: StandIn):
    ticket_id = _seed(api)
    auth = connector(api).auth()
    me, note = {
        "zammad": (
            "/api/v1/users/me",
            ("POST", "/api/v1/ticket_articles", {"ticket_id": int(ticket_id), "type": "note"}),
        ),
        "zendesk": (
            "/api/v2/users/me.json",
            ("PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"comment": {"public": False}}}),
        ),
        "freshdesk": ("/api/v2/agents/me", ("POST", f"/api/v2/tickets/{ticket_id}/notes", {"private": True})),
    }[api.kind]
    with httpx.Client(base_url=api.base_url) as client:
        assert client.get(me).status_code == 401
        assert client.get(me, headers={"Authorization": "Basic d3Jvbmc6d3Jvbmc="}).status_code == 401
        assert client.get("/api/v9/nothing/here", **auth).status_code == 404
        method, path, body = note
        refused = client.request(method, path, json=body, **auth)
        assert refused.status_code in (400, 422)
        assert set(refused.json()) & {"error", "errors", "description"}
        as_form = client.request(
            method,
            path,
            content=b"body=hello",
            headers={**auth.get("headers", {}), "Content-Type": "application/x-www-form-urlencoded"},
            auth=auth.get("auth"),
        )
        assert as_form.status_code in (400, 415, 422)
    assert len(api.ticket(ticket_id).articles) == 1  # nothing was written


def test_states_that_end_a_ticket_elsewhere():
    with standin("zammad") as hub:
        desk = connector(hub)
        assert desk.fetch_ticket(_seed(hub, status="pending close")).status == "pending"
        for state in ("merged", "removed"):
            with pytest.raises(RemoteGone):
                desk.fetch_ticket(_seed(hub, status=state))
    with standin("freshdesk") as fresh:
        desk = connector(fresh)
        assert desk.fetch_ticket(_seed(fresh, status=6)).status == "pending"  # a custom status
        trashed = _seed(fresh)
        fresh.delete_ticket(trashed, soft=True)
        with pytest.raises(RemoteGone):
            desk.fetch_ticket(trashed)
