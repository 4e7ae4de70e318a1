"""The ticket lifecycle over real HTTP: agents' overrides become feedback, resolving checks transitions."""

from __future__ import annotations

import pytest

from api.app import create_app
from tests.conftest import keyed_client

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(demo_settings, encoder):
    """One app per module and backend over the shared demo deployment (the tests only add to it)."""
    with keyed_client(create_app(demo_settings, encoder=encoder)) as client:
        yield client


def _ticket(client, subject: str, body: str = "") -> dict:
    created = client.post("/v1/tickets", json={"subject": subject, "body": body})
    assert created.status_code == 201, created.text
    return created.json()


def test_overrides_and_resolution_are_recorded_as_feedback(client):
    ticket = _ticket(client, "Printer on 3rd floor jammed", "Paper stuck in tray 2 again")
    tid, predicted = ticket["id"], ticket["suggestion"]["predictions"]
    assert predicted["category"]["label"] == "Printing"

    opened = client.patch(f"/v1/tickets/{tid}", json={"status": "open", "category": "Printing", "actor": "ann"})
    assert opened.status_code == 200, opened.text
    assert opened.json()["status"] == "open" and opened.json()["category"] == "Printing"
    moved = client.patch(f"/v1/tickets/{tid}", json={"assignee": "Facilities", "actor": "ann"}).json()
    assert moved["assignee"] == "Facilities"
    unchanged = client.patch(f"/v1/tickets/{tid}", json={"assignee": "Facilities", "actor": "ann"})
    assert unchanged.status_code == 200  # setting the same value again records nothing

    resolved = client.post(
        f"/v1/tickets/{tid}/resolve",
        json={
            "resolution": "Cleared the jam in tray 2 and replaced the worn roller.",
            "priority": "low",
            "helped_articles": ["printer-paper-jam-and-toner"],
            "actor": "bob",
        },
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (
        body["status"] == "resolved"
        and body["resolved_at"]
        and body["helped_articles"] == ["printer-paper-jam-and-toner"]
    )
    assert (body["category"], body["priority"], body["assignee"]) == ("Printing", "low", "Facilities")

    feedback = client.get(f"/v1/tickets/{tid}/feedback").json()
    updates = [(f["field"], f["value"], f["action"], f["on_behalf_of"]) for f in feedback if f["source"] == "update"]
    assert updates == [
        ("category", "Printing", "accepted", "ann"),
        (
            "assignee",
            "Facilities",
            "accepted" if predicted["assignee"]["label"] == "Facilities" else "overridden",
            "ann",
        ),
    ]
    assert {f["actor"] for f in feedback} == {"test-admin"}  # the key that made the change, not the body's name
    final = {f["field"]: f for f in feedback if f["source"] == "resolve"}
    assert set(final) == {"category", "priority", "assignee"} and final["priority"]["on_behalf_of"] == "bob"
    assert final["priority"]["predicted"] == predicted["priority"]["label"]
    assert final["priority"]["action"] == ("accepted" if predicted["priority"]["label"] == "low" else "overridden")
    assert all(f["suggestion_id"] == ticket["suggestion"]["id"] and f["bundle_version"] for f in feedback)

    again = client.post(f"/v1/tickets/{tid}/resolve", json={"resolution": "again"})
    assert again.status_code == 409 and again.json()["field"] == "status"
    reopened = client.patch(f"/v1/tickets/{tid}", json={"status": "open"}).json()
    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    closed = client.patch(f"/v1/tickets/{tid}", json={"status": "closed"}).json()
    assert closed["status"] == "closed"
    final_word = client.patch(f"/v1/tickets/{tid}", json={"category": "Hardware"})
    assert final_word.status_code == 409 and final_word.headers["content-type"].startswith(PROBLEM)
    assert client.get(f"/v1/tickets/{tid}").json()["category"] == "Printing"  # nothing half-applied


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "field"),
    [
        ("patch", "", {"status": "resolved"}, 409, "status"),
        ("patch", "", {"status": "done"}, 422, "status"),
        ("patch", "", {}, 422, "body"),
        ("patch", "", {"category": "   "}, 422, "category"),
        ("patch", "", {"colour": "red"}, 422, "colour"),
        ("post", "/resolve", {"resolution": "  "}, 422, "resolution"),
        ("post", "/resolve", {"category": "Printing"}, 422, "resolution"),
        ("post", "/resolve", {"resolution": "done", "helped_articles": ["no-such-article"]}, 422, "helped_articles"),
    ],
)
def test_bad_changes_get_problem_details_and_change_nothing(client, method, path, payload, status, field):
    ticket = _ticket(client, "Monitor flickers", "The second screen flickers when I dock")
    response = getattr(client, method)(f"/v1/tickets/{ticket['id']}{path}", json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM) and response.json()["field"] == field
    after = client.get(f"/v1/tickets/{ticket['id']}").json()
    assert after["status"] == "new" and after["category"] is None and after["resolution"] is None
    assert client.get(f"/v1/tickets/{ticket['id']}/feedback").json() == []


def test_unknown_tickets_are_404(client):
    for response in (
        client.patch("/v1/tickets/999999", json={"status": "open"}),
        client.post("/v1/tickets/999999/resolve", json={"resolution": "x"}),
        client.get("/v1/tickets/999999/feedback"),
    ):
        assert response.status_code == 404 and response.json()["field"] == "ticket_id"


def test_prediction_analytics_show_acceptance_abstention_and_drift(client):
    ticket = _ticket(client, "Scanner driver on the kiosk", "The glorbnax scanner needs a frobulated driver")
    predicted = ticket["suggestion"]["predictions"]["category"]["label"]
    client.patch(f"/v1/tickets/{ticket['id']}", json={"category": "Hardware & Peripherals", "actor": "ann"})
    client.post(f"/v1/tickets/{ticket['id']}/resolve", json={"resolution": "Installed the driver.", "actor": "ann"})

    report = client.get("/v1/analytics/predictions", params={"bucket": "week"}).json()
    version = ticket["suggestion"]["bundle_version"]
    category = report["fields"]["category"]
    assert category["decisions"] >= 2 and category["accepted"] + category["overridden"] == category["decisions"]
    ours = next(v for v in report["versions"] if v["field"] == "category" and v["bundle_version"] == version)
    assert ours["decisions"] >= 2 and 0 <= ours["acceptance_rate"] <= 1
    if predicted != "Hardware & Peripherals":
        assert ours["overridden"] >= 1
    assert report["over_time"][-1]["bucket"].startswith(str(ticket["created_at"][:4]))
    assert any(a["bundle_version"] == version and a["predictions"] >= 1 for a in report["abstention"])
    drift = report["drift"]
    assert drift["low_confidence"]["category"]["recent_predictions"] >= 1
    assert drift["low_confidence"]["category"]["training_abstention_share"] is not None
    vocabulary = drift["vocabulary"]
    assert vocabulary["recent"]["tickets"] >= 1 and vocabulary["training_window"]["tickets"] >= 100
    assert vocabulary["recent"]["unseen_word_share"] > vocabulary["training_window"]["unseen_word_share"]

    bad = client.get("/v1/analytics/predictions", params={"bucket": "month"})
    assert bad.status_code == 422 and bad.json()["field"] == "bucket"
