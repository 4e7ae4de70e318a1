"""New kinds of tickets over real HTTP on a copy of the demo deployment: a ticket unlike the history is
not new alone, but once several recent open tickets are like it (and unlike the history), it abstains as
a new kind on every field; a burst of a kind the history knows changes nothing, nor do resends of the
ticket itself, and resolving the burst takes it out of the comparison."""

from __future__ import annotations

import pytest

from api.app import create_app
from tests.conftest import BACKENDS, keyed_client
from triage.assist.recent import RecentTickets
from triage.ml.novelty import COPY_SIMILARITY
from triage.text.texts import ticket_text

EXPENSES = [  # no demo ticket is about expense claims; the first and the last are not new alone
    ("Expense claim rejected by system", "I cannot submit my hotel receipt in the expense portal"),
    ("Expense report stuck in approval", "my travel expenses have been pending approval for two weeks"),
    ("Travel expense claim not approved", "the expense tool says awaiting manager approval"),
    ("Expenses not reimbursed", "my expense report from last month is still not paid out"),
]
VPN = [
    ("VPN keeps disconnecting", "GlobalProtect drops every few minutes"),
    ("VPN disconnects", "my VPN connection drops when working from home"),
    ("VPN unstable", "GlobalProtect keeps losing the connection"),
    ("VPN drops all the time", "connection to the VPN is lost every 10 minutes"),
]
RESENDS = [  # the last expense ticket sent again with a few words more: under 0.95 similar, most words the same
    ("Expenses not reimbursed", "my expense report from last month is still not paid out. Any update?"),
    ("Expenses not reimbursed", "hi, my expense report from last month is still not paid out, please help asap"),
    ("FW: Expenses not reimbursed", "my expense report from last month is still not paid out?? who can help"),
]
FIELDS = {"category", "priority", "assignee", "request_type"}


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, deployments, encoder, tmp_path_factory):
    """A copy of the demo deployment of its own (the tests file tickets), re-reading open tickets at once."""
    settings = deployments.copy(request.param, root=tmp_path_factory.mktemp(f"new-kinds-{request.param}"))
    with keyed_client(create_app(settings, encoder=encoder)) as client:
        client.app.state.serving.recent = RecentTickets(settings.models.new_kind_recent_days, refresh_seconds=0)
        yield client


def _new_kind(predictions: dict) -> set[str]:
    """The fields that abstained as a new kind of ticket."""
    return {
        name
        for name, p in predictions.items()
        if p["status"] == "abstained" and (p["reason"] or "").startswith("a new kind of ticket")
    }


def _file(client, subject: str, body: str) -> dict:
    created = client.post("/v1/tickets", json={"subject": subject, "body": body})
    assert created.status_code == 201, created.text
    return created.json()


def _draft(client, subject: str, body: str) -> set[str]:
    return _new_kind(client.post("/v1/suggest", json={"subject": subject, "body": body}).json()["predictions"])


def test_a_burst_of_a_new_kind_makes_the_next_one_abstain_as_new(client):
    assert _draft(client, *EXPENSES[3]) == set()  # alone: unusual, not new
    for subject, body in VPN[:3]:
        _file(client, subject, body)
    assert _draft(client, *VPN[3]) == set()  # a burst of a kind the history knows changes nothing
    first = _file(client, *EXPENSES[0])
    assert _new_kind(first["suggestion"]["predictions"]) == set()  # the first of its kind: itself not counted
    ids = [first["id"]] + [_file(client, *ticket)["id"] for ticket in EXPENSES[1:3]]
    assert _draft(client, *EXPENSES[3]) == FIELDS
    fourth = _file(client, *EXPENSES[3])
    predictions = fourth["suggestion"]["predictions"]
    assert _new_kind(predictions) == FIELDS
    for prediction in predictions.values():  # the reason names the open tickets that tipped it
        assert prediction["reason"].startswith("a new kind of ticket: more like recent open tickets (#")
        assert all(f"#{ticket_id}" in prediction["reason"] for ticket_id in ids) and prediction["top"]["label"]
    _resolve(client, ids + [fourth["id"]])  # resolved, they are history to learn from, no longer recent
    assert _draft(client, *EXPENSES[3]) == set()


def _resolve(client, ticket_ids: list[int]) -> None:
    for ticket_id in ticket_ids:
        resolved = client.post(f"/v1/tickets/{ticket_id}/resolve", json={"resolution": "Sent to finance."})
        assert resolved.status_code == 200, resolved.text


def test_resends_with_a_few_words_more_are_the_same_ticket_not_a_burst(client, encoder):
    vectors = encoder.encode_batch([ticket_text(*ticket) for ticket in [EXPENSES[3], *RESENDS]])
    assert (vectors[1:] @ vectors[0] < COPY_SIMILARITY).all()  # similarity alone would count them as alike
    ids = [_file(client, *ticket)["id"] for ticket in RESENDS]
    assert _draft(client, *EXPENSES[3]) == set()  # their words are its words: copies, left out
    _resolve(client, ids)
