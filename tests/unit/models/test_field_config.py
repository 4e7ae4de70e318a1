"""Triage fields as configuration: declarations checked field by field, labels read and written in the
column of a built-in field or the ticket's labels for an added one."""

from __future__ import annotations

import pytest

from models import Ticket
from models.db import session_scope
from models.errors import InvalidInput
from models.fields import active_fields, field_names, label_of, parse_fields, save_fields, set_label

FOUR = {"fields": [{"name": "category"}, {"name": "priority"}, {"name": "assignee"}, {"name": "request_type"}]}


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ([{"name": "subject"}], "fields[0].name"),
        ([{"name": "category"}, {"name": "status"}], "fields[1].name"),
        ([{"name": "Product"}], "fields[0].name"),
        ([{"name": "a" * 21}], "fields[0].name"),
        ([{"name": "product"}, {"name": "product"}], "fields[1].name"),
        ([{"name": "product", "labels": ["only one"]}], "fields[0].labels"),
        ([{"name": "product", "labels": ["a", "a"]}], "fields[0].labels"),
        ([{"name": "product", "source": ""}], "fields[0].source"),
        ([{"name": "product", "colour": "red"}], "fields[0].colour"),
        ([], "fields"),
    ],
)
def test_bad_declarations_name_the_field(fields, where):
    with pytest.raises(InvalidInput) as raised:
        parse_fields({"fields": fields})
    assert raised.value.field == where, raised.value.detail


def test_fields_are_versions_and_labels_find_their_place(sessions):
    with session_scope(sessions) as session:
        assert field_names(session) == ("category", "priority", "assignee")  # the default
        with pytest.raises(InvalidInput):
            save_fields(session, {"fields": [{"name": "body"}]}, "test")
        assert field_names(session) == ("category", "priority", "assignee")  # nothing was saved
        save_fields(session, FOUR, "test")
        save_fields(session, {**FOUR, "fields": [*FOUR["fields"][:3], {"name": "product", "source": "Product"}]}, "t")
        specs = active_fields(session)
        assert [s.name for s in specs] == ["category", "priority", "assignee", "product"]
        assert specs[-1].column == "Product" and specs[-1].labels is None

        ticket = Ticket(subject="s", body="", content_hash="x", category="Printing")
        session.add(ticket)
        set_label(ticket, "product", "Webshop")
        set_label(ticket, "priority", "low")
        session.flush()
        session.expire(ticket)
        assert (label_of(ticket, "product"), label_of(ticket, "priority")) == ("Webshop", "low")
        assert ticket.labels == {"product": "Webshop"} and label_of(ticket, "category") == "Printing"
        set_label(ticket, "product", None)
        assert ticket.labels == {} and label_of(ticket, "request_type") is None
