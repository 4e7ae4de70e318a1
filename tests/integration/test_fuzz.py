"""Schemathesis over the OpenAPI schema of every endpoint, against a real server with the demo data:
valid and invalid requests alike must get no 5xx and no response that breaks the schema (status code,
content type, body). Run with ``-s`` to see the figures the README reports."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable

from models import ApiKey
from models.db import make_engine, make_session_factory, session_scope
from tests.processes import settings_env, start_server, stop_server
from triage.access import hash_key

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow  # a real server

EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "20"))  # per operation and mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_KEY = "hdt_fuzzing-admin-key-0123456789abcdef"


@dataclass
class Tally:
    operations: int = 0
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@pytest.fixture
def server(backend, deployments, tmp_path):
    settings = deployments.copy(backend, root=tmp_path)
    engine = make_engine(settings.database.url)
    with session_scope(make_session_factory(engine)) as session:
        # a high id, so fuzzed DELETE /v1/keys/{key_id} calls do not revoke the key doing the fuzzing
        session.add(
            ApiKey(
                id=2_000_000_000,
                name="fuzz",
                role="admin",
                prefix=FUZZ_KEY[:12],
                key_hash=hash_key(FUZZ_KEY),
                rate_limit=10**6,
            )
        )
    engine.dispose()
    process, port = start_server(settings_env(settings), log=tmp_path / "server.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def _fuzz(operation, mode: GenerationMode, base_url: str, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {FUZZ_KEY}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=120)
        tally.cases += 1
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, BaseExceptionGroup) as failure:  # a failed check, or a group of them
            tally.failures.append(f"{operation.label} ({mode.value}) -> {response.status_code}: {str(failure)[:400]}")

    with contextlib.suppress(Unsatisfiable):  # e.g. no invalid request exists for an operation without inputs
        run()


def test_no_request_gets_a_5xx_or_breaks_the_schema(server):
    schema = schemathesis.openapi.from_url(f"{server}/schema/openapi.json")
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        tally.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, server, tally)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    print(f"\nschemathesis: {tally.operations} operations, {tally.cases} cases, {len(tally.failures)} failures")
    print(f"responses by status: {statuses}")
    assert tally.operations >= 49
    assert tally.cases >= tally.operations * EXAMPLES
    assert tally.failures == [], "\n".join(tally.failures)
