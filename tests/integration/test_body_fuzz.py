"""A bounded fuzz of the JSON bodies of the endpoints that take them, in process on the demo deployment:
nesting depth, size, unicode (lone surrogates, astral planes, right-to-left marks), control characters,
wrong types and raw bytes. Every answer is a success or problem details naming a field, never a 5xx and
never an unhandled error in the log."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from api.app import create_app
from tests.conftest import BACKENDS, new_key

EXAMPLES = 60  # per endpoint and strategy
ENDPOINTS = (  # (role, path) of the routes that take a JSON body and do not change global state
    ("portal", "/v1/portal/suggest"),
    ("portal", "/v1/portal/events"),
    ("agent", "/v1/suggest"),
    ("agent", "/v1/tickets"),
    ("agent", "/v1/tickets/1"),  # PATCH
    ("agent", "/v1/tickets/1/assist/feedback"),
    ("agent", "/v1/articles"),
)
FIELDS = ("subject", "body", "top_k", "suggestion_id", "type", "article", "title", "slug", "action", "actor")
_texts = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["\x00", "a\x07b", "\u202eevil", "\U0001f4a9", "\ufeff", "ab\r\n\tc", "\\", '"', "x" * 25_000]
)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _texts
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texts, inner, max_size=4), max_leaves=30
)
OBJECTS = st.dictionaries(st.sampled_from(FIELDS) | _texts, _values, max_size=6)
RAW = st.one_of(
    st.binary(max_size=200),
    st.integers(0, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(0, 3000).map(lambda n: b'{"subject":' + b"[" * n + b'"x"' + b"]" * n + b"}"),
    st.sampled_from([b'{"subject": "\\ud800"}', b'{"subject": "a", "subject": "b"}', b"NaN", b'{"top_k": 1e999}']),
)


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, deployments, encoder, tmp_path_factory):
    settings_ = deployments.copy(request.param, "active", tmp_path_factory.mktemp(f"body-fuzz-{request.param}"))
    with TestClient(create_app(settings_, encoder=encoder)) as client:
        client.keys = {role: new_key(client.app.state.serving.sessions, role) for role in ("portal", "agent")}
        yield client


def _send(client, role: str, path: str, content: bytes) -> None:
    method = "PATCH" if path == "/v1/tickets/1" else "POST"
    headers = {"authorization": f"Bearer {client.keys[role]}", "content-type": "application/json"}
    answer = client.request(method, path, content=content, headers=headers)
    assert answer.status_code < 500, (path, content[:200], answer.text[:300])
    if answer.status_code >= 400:
        problem = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert problem["status"] == answer.status_code and problem.get("field"), problem


@pytest.mark.parametrize(("role", "path"), ENDPOINTS)
def test_json_objects_of_any_shape_get_an_answer_or_a_problem_naming_a_field(client, role, path, caplog):
    @given(body=OBJECTS)
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def run(body) -> None:
        _send(client, role, path, json.dumps(body).encode())

    with caplog.at_level(logging.ERROR):
        run()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[:2000]


@pytest.mark.parametrize(("role", "path"), ENDPOINTS[:3])
def test_raw_deep_and_malformed_bodies_get_a_problem(client, role, path, caplog):
    @given(content=RAW)
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def run(content) -> None:
        _send(client, role, path, content)

    with caplog.at_level(logging.ERROR):
        run()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[:2000]
