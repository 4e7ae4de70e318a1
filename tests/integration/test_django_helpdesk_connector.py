"""The django-helpdesk connector against a real django-helpdesk (``tests.djangohelpdesk``: its REST API on a
free port, its webhooks posted to a receiver here): tickets read back as the API wrote them, our notes are
private follow-ups whose webhooks come back marked as ours, fields are set, resolved tickets page in order,
gone tickets and refused credentials say so, and the webhooks that really arrive verify and parse."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from models.errors import InvalidInput
from tests.djangohelpdesk import DjangoHelpdesk, shared_folder, start_django_helpdesk
from triage.channels.connectors.base import MARKER, ConnectorConfig, InboundEvent, RemoteError, RemoteGone
from triage.channels.connectors.django_helpdesk import DjangoHelpdeskConnector
from triage.channels.connectors.wire import InvalidSignature
from triage.evaluation.bench import free_port

pytestmark = pytest.mark.slow

SECRET = "s3cret-token"


class Hooks:
    """A webhook receiver: every POST's path with query, headers and body, answered 200."""

    def __init__(self) -> None:
        self.port, self.got, self.lock = free_port(), [], threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with hooks.lock:
                    hooks.got.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, token: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/django-helpdesk?token={token}"

    def for_ticket(self, ticket_id: int, count: int = 0, timeout: float = 5.0) -> list[tuple[str, dict, bytes]]:
        """The deliveries about ``ticket_id`` (waits until there are ``count``)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [g for g in self.got if json.loads(g[2])["ticket"]["id"] == ticket_id]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, hooks: Hooks) -> Iterator[DjangoHelpdesk]:
    url = hooks.url(SECRET)
    server = start_django_helpdesk(
        tmp_path_factory.mktemp("django-helpdesk"),
        shared=shared_folder(tmp_path_factory),
        new_ticket_webhooks=[url],
        followup_webhooks=[url],
    )
    yield server
    server.stop()


def make(desk: DjangoHelpdesk, password: str | None = None, **options: str) -> DjangoHelpdeskConnector:
    credentials = {"user": desk.user, "password": password or desk.password}
    return DjangoHelpdeskConnector(ConnectorConfig("desk", desk.base_url, credentials, options))


@pytest.fixture
def connector(desk: DjangoHelpdesk) -> Iterator[DjangoHelpdeskConnector]:
    connector = make(desk, category_field="category")
    yield connector
    connector.close()


def test_a_ticket_reads_back_as_the_api_created_it(desk, connector):
    made = desk.create_ticket(
        "VPN drops every few minutes",
        "Since this morning the VPN disconnects every 5 minutes.",
        desk.queues["Network"],
        priority=2,
        submitter_email="lena.park@example.org",
        custom_category="Network & VPN",
    )
    remote = connector.fetch_ticket(str(made["id"]))
    assert (remote.id, remote.subject, remote.status) == (str(made["id"]), "VPN drops every few minutes", "open")
    assert remote.body == "Since this morning the VPN disconnects every 5 minutes."
    assert remote.fields == {"assignee": str(desk.queues["Network"]), "priority": "2", "category": "Network & VPN"}
    assert remote.requester == "lena.park@example.org"
    assert remote.created_at is not None and remote.created_at.tzinfo is not None
    assert (remote.resolution, remote.resolved_at) == (None, None)
    assert connector.writable == ("assignee", "priority", "category")
    assert make(desk).writable == ("assignee", "priority")
    assert make(desk).fetch_ticket(remote.id).fields == {"assignee": str(desk.queues["Network"]), "priority": "2"}


def test_a_note_is_a_private_follow_up_whose_webhook_is_ours(desk, connector, hooks):
    ticket = desk.create_ticket("Printer jams", "The 2nd floor printer jams on every job.", desk.queues["Hardware"])
    text = (
        "Triage suggestion (internal)\n\n- Category: Printing (91% sure)\n- [Clear a jam](http://kb.example/help/jam)"
        "\n\nTemplates stay text: {{ ticket.title }} {% if x %} {# c #} 100%}\n\n" + f"{MARKER}42\n"
    )
    connector.add_note(str(ticket["id"]), text, "<p>ignored</p>")
    remote = connector.fetch_ticket(str(ticket["id"]))
    assert [n.replace("\u200b", "") for n in remote.notes] == [ticket["description"], text.strip()]  # DRF trims
    followup = desk.get_ticket(ticket["id"])["followup_set"][-1]
    assert followup["public"] is False and followup["user"] is not None
    assert desk.get_ticket(ticket["id"])["title"] == "Printer jams"
    assert not any(MARKER in mail for mail in desk.sent_mail())  # only public follow-ups reach the submitter
    (_, headers, body) = hooks.for_ticket(ticket["id"], count=2)[-1]
    event = connector.parse_event(headers, body)
    assert event == InboundEvent(f"followup:{followup['id']}", "updated", str(ticket["id"]), ours=True)


def test_set_fields_patches_queue_priority_and_category_and_sends_no_webhook(desk, connector, hooks):
    ticket = desk.create_ticket("Laptop will not boot", "Black screen after the logo.", desk.queues["Service Desk"])
    before = len(hooks.for_ticket(ticket["id"], count=1))
    wanted = {"assignee": str(desk.queues["Hardware"]), "priority": "1", "category": "Hardware"}
    connector.set_fields(str(ticket["id"]), wanted)
    assert connector.fetch_ticket(str(ticket["id"])).fields == wanted
    assert len(hooks.for_ticket(ticket["id"], timeout=0.3)) == before
    with pytest.raises(InvalidInput) as caught:
        connector.set_fields(str(ticket["id"]), {"priority": "high"})
    assert caught.value.field == "fields.priority"
    with pytest.raises(RemoteError) as refused:
        connector.set_fields(str(ticket["id"]), {"category": "Not a category"})
    assert (refused.value.status, refused.value.retry) == (400, False)
    with pytest.raises(InvalidInput):
        make(desk).set_fields(str(ticket["id"]), {"category": "Hardware"})


def test_an_added_field_is_a_custom_field_read_and_written(desk):
    """request_type, a field the deployment added, lives in the custom field its option names."""
    hub = make(desk, category_field="category", request_type_field="kind")
    ticket = desk.create_ticket("Laptop for a new starter", "Please prepare a laptop.", desk.queues["Hardware"])
    assert hub.settable() == ("assignee", "priority", "category", "request_type")
    hub.set_fields(str(ticket["id"]), {"request_type": "request"})
    assert hub.fetch_ticket(str(ticket["id"])).fields["request_type"] == "request"
    assert desk.get_ticket(ticket["id"])["custom_kind"] == "request"
    hub.close()


def test_resolved_tickets_page_oldest_first_with_their_resolutions(desk, connector, hooks):
    made = [desk.create_ticket(f"Account locked {n}", "Locked out after a password change.", 4) for n in range(4)]
    resolved = desk.resolve(made[0]["id"], "Unlocked the account in AD.")
    desk.add_followup(made[1]["id"], "Closed without a reply.", new_status=4)
    desk.resolve(made[2]["id"], "Reset the password.")  # made[3] stays open
    (_, headers, body) = hooks.for_ticket(made[0]["id"], count=2)[-1]
    assert connector.parse_event(headers, body) == InboundEvent(
        f"followup:{resolved['id']}", "updated", str(made[0]["id"])
    )
    connector.page_size = 2
    pages, cursor, cursors = [], None, []
    while True:
        page = connector.resolved_tickets(cursor)
        pages.append(page.tickets)
        cursors.append(page.cursor)
        if page.cursor is None:
            break
        cursor = page.cursor
    every = [t for tickets in pages for t in tickets]
    assert all(len(tickets) <= 2 for tickets in pages) and cursors[0] == "2" and len(pages) >= 2
    ids = [int(t.id) for t in every]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    ours = {t.id: t for t in every if int(t.id) in {m["id"] for m in made}}
    assert set(ours) == {str(m["id"]) for m in made[:3]}
    first, second = ours[str(made[0]["id"])], ours[str(made[1]["id"])]
    assert (first.status, first.resolution) == ("resolved", "Unlocked the account in AD.")
    assert (second.status, second.resolution) == ("closed", "Closed without a reply.")
    assert first.resolved_at is not None and first.resolved_at >= first.created_at
    assert connector.resolved_tickets("999").tickets == [] and connector.resolved_tickets("999").cursor is None


def test_deleted_and_merged_tickets_are_gone(desk, connector):
    doomed = desk.create_ticket("Old request", "Nobody needs this.", desk.queues["Access"])
    desk.delete_ticket(doomed["id"])
    for call in (
        lambda: connector.fetch_ticket(str(doomed["id"])),
        lambda: connector.add_note(str(doomed["id"]), "note", "<p>note</p>"),
        lambda: connector.set_fields(str(doomed["id"]), {"priority": "2"}),
    ):
        with pytest.raises(RemoteGone) as caught:
            call()
        assert caught.value.retry is False
    kept, merged = (desk.create_ticket(t, "Outlook asks for my password.", 1) for t in ("Password prompt", "Same"))
    desk.client.patch(f"tickets/{merged['id']}/", json={"merged_to": kept["id"]}).raise_for_status()
    with pytest.raises(RemoteGone):
        connector.fetch_ticket(str(merged["id"]))


def test_credentials_are_checked(desk, connector):
    assert connector.whoami() == f"admin on django-helpdesk at {desk.base_url}"
    wrong = make(desk, password="not-the-password")
    for call in (wrong.whoami, lambda: wrong.fetch_ticket("1"), lambda: wrong.resolved_tickets(None)):
        with pytest.raises(RemoteError) as caught:
            call()
        assert caught.value.retry is False and caught.value.status in (401, 403)
        assert not isinstance(caught.value, RemoteGone)
    wrong.close()


def test_the_webhooks_that_arrive_verify_and_parse(desk, connector, hooks):
    ticket = desk.create_ticket("Teams crashes on start", "Since the update Teams closes at once.", 1)
    followup = desk.add_followup(ticket["id"], "Asked the user for the crash log.", public=True)
    deliveries = hooks.for_ticket(ticket["id"], count=2)
    assert len(deliveries) == 2
    events = []
    for path, headers, body in deliveries:
        query = dict(parse_qsl(urlsplit(path).query))
        connector.verify(headers, query, body, SECRET)
        with pytest.raises(InvalidSignature):
            connector.verify(headers, {"token": "guess"}, body, SECRET)
        with pytest.raises(InvalidSignature):
            connector.verify(headers, {}, body, SECRET)
        events.append(connector.parse_event(headers, body))
        assert json.loads(body)["queue_slug"] == "service-desk"
    assert events == [
        InboundEvent(f"ticket:{ticket['id']}", "created", str(ticket["id"])),
        InboundEvent(f"followup:{followup['id']}", "updated", str(ticket["id"])),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [(b"not json", "body"), (b"[]", "ticket"), (b'{"ticket": {"id": "7"}}', "ticket.id"),
     (b'{"ticket": {"id": 7}, "followup_id": "x"}', "followup_id")],
)  # fmt: skip
def test_malformed_webhooks_name_the_field(connector, body, field):
    with pytest.raises(InvalidInput) as caught:
        connector.parse_event({}, body)
    assert caught.value.field == field
