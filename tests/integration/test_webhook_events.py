"""The events other than tickets' reach the outbox with the change they report, and a subscribed receiver:
``article.published`` (a new published article, a draft published, a new revision), ``bundle.promoted`` and
``bundle.rolled_back``, ``incident.detected``; and erasing a requester (GDPR) scrubs the outbox events about
their tickets, so a delivery still pending sends only that the ticket was erased."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.app import create_app
from models import OutboxEvent, Ticket, WebhookDelivery
from models.audit import local_actor
from models.base import utcnow
from models.channel_settings import WebhookSettings
from models.db import session_scope
from tests.conftest import BACKENDS, keyed_client
from tests.receiver import Receiver
from triage.assist.duplicates import ticket_vectors
from triage.assist.incidents import SpikeSettings, record_incidents, spike_candidates
from triage.bundles import registry
from triage.bundles.promotion import rollback
from triage.bundles.training import KIND
from triage.desk.privacy import ERASED
from triage.ml.embedding_cache import EmbeddingCache
from triage.text.redaction import Redactor

FAST = WebhookSettings(
    allow_networks=("loopback",),
    backoff_seconds=0.2,
    max_backoff_seconds=1.0,
    max_attempts=30,  # a receiver kept down on purpose is retried for half a minute
    poll_seconds=0.2,
    timeout_seconds=5.0,
    lease_seconds=10.0,
)
BURST = [
    "Cannot log in to Salesforce, SSO error",
    "Salesforce login fails with single sign-on error",
    "SSO error when opening Salesforce",
    "Salesforce says SSO assertion invalid",
    "Can't get into Salesforce - SSO login error",
]


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, deployments, encoder):
    """One app per backend over a demo deployment whose bundle is trained but not yet promoted."""
    settings = replace(deployments.copy(request.param, "candidate"), webhooks=FAST)
    with keyed_client(create_app(settings, encoder=encoder), "admin") as client:
        yield client


@pytest.fixture
def subscribe(client) -> Iterator[Callable[..., Receiver]]:
    """Subscribe a receiver (started unless ``started=False``) to event types; removed after the test."""
    made: list[tuple[int, Receiver]] = []

    def make(*events: str, started: bool = True) -> Receiver:
        receiver = Receiver()
        answer = client.post("/v1/webhooks", json={"url": receiver.url, "events": list(events)})
        assert answer.status_code == 201, answer.text
        receiver.secret = answer.json()["secret"]
        made.append((answer.json()["id"], receiver))
        return receiver.start() if started else receiver

    yield make
    for hook, receiver in made:
        client.delete(f"/v1/webhooks/{hook}")
        receiver.stop()


def _events(client, event_type: str, subject: str | None = None) -> list[OutboxEvent]:
    with session_scope(client.app.state.serving.sessions) as session:
        query = select(OutboxEvent).where(OutboxEvent.type == event_type).order_by(OutboxEvent.id)
        if subject is not None:
            query = query.where(OutboxEvent.subject == subject)
        rows = session.scalars(query).all()
        session.expunge_all()
        return list(rows)


def _article_id(client, slug: str) -> int:
    from models import Article

    with session_scope(client.app.state.serving.sessions) as session:
        return session.scalar(select(Article.id).where(Article.slug == slug))


def test_publishing_an_article_is_announced_with_its_revision_and_help_page(client, subscribe):
    receiver = subscribe("article.published")
    body = "# Reset\n\nOpen the portal and choose *Reset password*.\n"
    article = {"slug": "webhooks-reset", "title": "Resetting a password", "body": body, "tags": ["account"]}
    assert client.post("/v1/articles", json={**article, "status": "published"}).status_code == 201
    (published,) = _events(client, "article.published", f"article:{_article_id(client, 'webhooks-reset')}")
    assert published.payload["article"] == {
        "slug": "webhooks-reset",
        "title": "Resetting a password",
        "language": "en",
        "revision": 1,
        "tags": ["account"],
        "path": "/help/webhooks-reset",
        "first_publication": True,
    }

    draft = {**article, "slug": "webhooks-draft", "title": "A draft"}
    assert client.post("/v1/articles", json=draft).status_code == 201
    subject = f"article:{_article_id(client, 'webhooks-draft')}"
    assert _events(client, "article.published", subject) == []  # a draft is not announced
    assert client.post("/v1/articles/webhooks-draft/publish").status_code == 200
    assert client.post("/v1/articles/webhooks-draft/publish").status_code == 200  # nothing new: no event
    edited = client.put("/v1/articles/webhooks-draft", json={"title": "A draft", "body": body + "\nOr call us.\n"})
    assert edited.status_code == 200, edited.text
    announced = [e.payload["article"] for e in _events(client, "article.published", subject)]
    assert [(a["revision"], a["first_publication"], a["path"]) for a in announced] == [
        (1, True, "/help/webhooks-draft"),
        (2, False, "/help/webhooks-draft"),
    ]

    got = receiver.wait_for(3)
    assert [(r.data["article"]["slug"], r.data["article"]["revision"]) for r in got] == [
        ("webhooks-reset", 1),
        ("webhooks-draft", 1),
        ("webhooks-draft", 2),
    ]


def test_promotion_and_rollback_are_announced(client, subscribe):
    receiver = subscribe("bundle.promoted", "bundle.rolled_back")
    sessions = client.app.state.serving.sessions
    with session_scope(sessions) as session:
        (first,) = registry.list_versions(session, KIND)
        first, path, manifest = first.version, first.path, dict(first.manifest)
    assert client.post(f"/v1/models/{first}/promote").status_code == 200
    (promoted,) = _events(client, "bundle.promoted")
    assert promoted.subject == f"bundle:{KIND}"
    data = promoted.payload
    assert (data["kind"], data["version"], data["previous_version"], data["forced"]) == (KIND, first, None, False)
    assert data["actor"]

    # a second version made active and rolled back in one transaction (the serving process never loads
    # it): rollback() is what the API and the CLI call
    with session_scope(sessions) as session:
        registry.register(session, KIND, "webhooks-second", path, manifest)
        registry.activate(session, KIND, "webhooks-second")
        assert rollback(session, KIND, actor=local_actor("test")).version == first
    (rolled_back,) = _events(client, "bundle.rolled_back")
    assert rolled_back.payload == {
        "kind": KIND,
        "version": first,
        "previous_version": "webhooks-second",
        "actor": local_actor("test").name,
    }

    got = receiver.wait_for(2)
    assert [(r.type, r.data["version"]) for r in got] == [("bundle.promoted", first), ("bundle.rolled_back", first)]
    assert client.get("/ready").json()["bundle_version"] == first


def test_a_detected_spike_is_announced(client, subscribe, encoder):
    receiver = subscribe("incident.detected")
    serving = client.app.state.serving
    cache = EmbeddingCache.in_artifacts(serving.settings.models.artifacts_dir, encoder)
    now = utcnow()
    with session_scope(serving.sessions) as session:
        for n in range(15):
            subject = f"{BURST[n % len(BURST)]} ({n})"
            created = now - timedelta(minutes=45 - 3 * n)
            session.add(Ticket(subject=subject, body="", content_hash=f"burst-{n}", created_at=created))
        session.flush()
        vectors = lambda ts: ticket_vectors(ts, encoder, cache, Redactor())  # noqa: E731
        (candidate,) = spike_candidates(session, vectors, now=now, settings=SpikeSettings())
        (incident,) = record_incidents(session, [candidate], now=now)
        incident_id = incident.id
    (event,) = _events(client, "incident.detected", f"incident:{incident_id}")
    data = event.payload["incident"]
    assert data["size"] == 15 and "Salesforce" in data["subject"] and data["member_ids"] == candidate["member_ids"]
    assert data["representative_id"] == candidate["representative_id"] and data["at"] == now.isoformat()
    (got,) = receiver.wait_for(1)
    assert got.webhook_id == event.event_id and got.data == event.payload


def test_erasing_a_requester_scrubs_the_events_still_to_be_sent(client, subscribe):
    requester = "erase.me@example.org"
    receiver = subscribe("ticket.created", "ticket.updated", "incident.detected", started=False)
    mine = []
    for subject in ("My laptop screen flickers", "Laptop screen still flickers after the update"):
        answer = client.post("/v1/tickets", json={"subject": subject, "body": "Call me", "requester": requester})
        assert answer.status_code == 201, answer.text
        mine.append(answer.json()["id"])
    assert client.patch(f"/v1/tickets/{mine[0]}", json={"priority": "high"}).status_code == 200
    quoting = {"subject": "Shared printer", "body": f"Please ask {requester} about the toner", "requester": "b@x.org"}
    other = client.post("/v1/tickets", json=quoting).json()["id"]
    sessions = client.app.state.serving.sessions
    with session_scope(sessions) as session:  # an incident represented by one of their tickets
        candidate = {"size": 5, "rate_per_hour": 5.0, "baseline_per_hour": 0.0, "representative_id": mine[0]}
        candidate |= {"subject": "My laptop screen flickers", "member_ids": [*mine, other, 10**6, 10**6 + 1]}
        (incident,) = record_incidents(session, [candidate])
        incident_subject = f"incident:{incident.id}"

    exported = client.post("/v1/requesters/export", json={"requester": requester})
    assert exported.status_code == 200 and set(exported.json()) == {
        "requester",
        "exported_at",
        "tickets",
        "suggestions",
        "feedback",
        "messages",
        "inbound_mail",
    }  # their mail, nothing about the outbox
    about_them = OutboxEvent.subject.in_([f"ticket:{i}" for i in mine])
    with session_scope(sessions) as session:
        pending = session.scalars(select(WebhookDelivery.state).join(OutboxEvent).where(about_them)).all()
    assert len(pending) == 3 and set(pending) <= {"pending", "sending"}  # the receiver is down

    erased = client.post("/v1/requesters/erase", json={"requester": requester})
    assert erased.status_code == 200 and erased.json()["ticket_ids"] == mine, erased.text
    for tid in mine:
        events = _events(client, "ticket.created", f"ticket:{tid}") + _events(client, "ticket.updated", f"ticket:{tid}")
        assert events and all(e.payload == {"ticket": {"id": tid, "erased": True}} for e in events)
    (quoted,) = _events(client, "ticket.created", f"ticket:{other}")
    assert requester not in json.dumps(quoted.payload) and ERASED in quoted.payload["ticket"]["body"]
    (spike,) = _events(client, "incident.detected", incident_subject)
    assert spike.payload["incident"]["subject"] == ERASED

    receiver.start()
    got = receiver.wait_for(5)
    sent = json.dumps([r.data for r in got])
    assert requester not in sent and "flickers" not in sent
    assert sorted(r.data["ticket"]["id"] for r in got if r.data.get("ticket", {}).get("erased")) == sorted(
        [mine[0], mine[0], mine[1]]
    )
