"""Triage fields as configuration on a copy of the demo deployment (whose fourth field is request_type,
a fixed label set): predicted, evidenced and set like the built-in fields over HTTP; bad declarations
refused naming the field; a field added or removed is a label change to the gate, not a failure."""

from __future__ import annotations

import pytest

from api.app import create_app
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import BACKENDS, key_for, keyed_client
from triage.bundles.promotion import gate
from triage.bundles.training import KIND, train_bundle

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request, deployments, encoder, tmp_path_factory):
    """A copy of the demo deployment of its own (the tests change its fields) and an admin client."""
    settings = deployments.copy(request.param, root=tmp_path_factory.mktemp(f"fields-{request.param}"))
    with keyed_client(create_app(settings, encoder=encoder)) as client:
        yield settings, client


def test_an_added_field_is_predicted_evidenced_and_set_like_the_others(deployment):
    _, client = deployment
    declared = client.get("/v1/fields").json()["fields"]
    assert [f["name"] for f in declared] == ["category", "priority", "assignee", "request_type"]
    assert declared[3]["labels"] == ["incident", "request", "question"] and not declared[3]["built_in"]

    ticket = client.post("/v1/tickets", json={"subject": "Printer on floor 2 is dead", "body": "No lights at all"})
    assert ticket.status_code == 201, ticket.text
    body = ticket.json()
    kind = body["suggestion"]["predictions"]["request_type"]
    assert kind["status"] in ("ok", "abstained") and kind["top"]["label"] in ("incident", "request", "question")
    assert kind["top"]["label"] == "incident"
    assert {t["label"] for t in kind["evidence"]["tickets"]} <= {"incident", "request", "question"}
    assert body["labels"] == {"category": None, "priority": None, "assignee": None, "request_type": None}

    tid = body["id"]
    wrong = client.patch(f"/v1/tickets/{tid}", json={"labels": {"request_type": "bug"}})
    assert wrong.status_code == 422 and wrong.json()["field"] == "labels.request_type"
    unknown = client.patch(f"/v1/tickets/{tid}", json={"labels": {"product": "Webshop"}})
    assert unknown.status_code == 422 and unknown.json()["field"] == "labels.product"
    set_ = client.patch(f"/v1/tickets/{tid}", json={"labels": {"request_type": "incident"}, "category": "Printing"})
    assert set_.status_code == 200 and set_.json()["labels"]["request_type"] == "incident"
    resolved = client.post(f"/v1/tickets/{tid}/resolve", json={"resolution": "Replaced the power supply."})
    assert resolved.json()["labels"]["request_type"] == "incident"
    feedback = [(f["field"], f["value"], f["source"]) for f in client.get(f"/v1/tickets/{tid}/feedback").json()]
    assert ("request_type", "incident", "update") in feedback and ("category", "Printing", "update") in feedback
    fields = client.get("/v1/analytics/predictions").json()["fields"]
    assert fields["request_type"]["decisions"] >= 1


def test_a_fixed_priority_set_is_checked_at_intake(deployment):
    _, client = deployment
    fields = client.get("/v1/fields").json()["fields"]
    fixed = [{**f, "labels": ["urgent", "high", "normal", "low"]} if f["name"] == "priority" else f for f in fields]
    assert client.put("/v1/fields", json={"fields": fixed}).status_code == 200
    try:
        refused = client.post("/v1/tickets", json={"subject": "VPN down", "priority": "P1"})
        assert refused.status_code == 422 and refused.json()["field"] == "priority"
        taken = client.post("/v1/tickets", json={"subject": "VPN down", "priority": "urgent"})
        assert taken.status_code == 201 and taken.json()["sla"]["priority_source"] == "set"
        assert taken.json()["sla"]["resolution_minutes"] == 240
    finally:
        assert client.put("/v1/fields", json={"fields": fields}).status_code == 200


def test_bad_declarations_are_refused_naming_the_field(deployment):
    settings, client = deployment
    fields = client.get("/v1/fields").json()["fields"]
    refused = client.put("/v1/fields", json={"fields": [*fields, {"name": "subject"}]})
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["field"] == "fields[4].name"
    agent = {"Authorization": f"Bearer {key_for(settings.database.url, 'agent')}"}
    assert client.put("/v1/fields", json={"fields": fields}, headers=agent).status_code == 403
    assert client.get("/v1/fields").json()["fields"] == fields  # nothing was saved


def test_the_gate_reports_an_added_and_a_removed_field_as_label_changes(deployment, encoder):
    settings, client = deployment
    fields = client.get("/v1/fields").json()["fields"]
    swapped = [*fields[:3], {"name": "product", "source": "product"}]  # request_type out, product in
    assert client.put("/v1/fields", json={"fields": swapped}).status_code == 200
    sessions = make_session_factory(make_engine(settings.database.url))
    with session_scope(sessions) as session:
        version = train_bundle(session, encoder, settings.models.artifacts_dir, activate=False).version
    with session_scope(sessions) as session:
        report = gate(session, KIND, version, encoder, settings.models.artifacts_dir)
    assert report.label_changes["request_type"]["field"] == "removed"
    assert report.label_changes["request_type"]["removed"] == ["incident", "question", "request"]
    assert report.label_changes["product"] == {"added": [], "removed": [], "field": "added"}
    assert not [r for r in report.reasons if "request_type" in r], report.reasons
    shown = client.get(f"/v1/models/{version}/gate").json()
    assert shown["label_changes"]["request_type"]["field"] == "removed"
