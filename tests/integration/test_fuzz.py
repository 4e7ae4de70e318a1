"""Schemathesis over the OpenAPI schema of every endpoint, against a real server with the demo data:
valid and invalid requests alike must get no 5xx and no response that breaks the schema (status code,
content type, body). Run with ``-s`` to see the figures the README reports.

The stateful test runs sequences of calls where one response feeds the next (create a ticket, then read,
update and resolve it; create an article, then replace and delete it; ...), along OpenAPI links that this
module adds to the served schema (which has none)."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Flaky, Unsatisfiable

from kb.parsing import ARTICLE_STATUSES, SLUG_RE
from models import ApiKey
from models.access import ROLES, hash_key
from models.db import make_engine, make_session_factory, session_scope
from models.tickets import TICKET_STATUSES
from tests.processes import settings_env, start_server, stop_server

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.engine.errors import is_inconsistent_replay  # noqa: E402
from schemathesis.generation.stateful import run_state_machine_as_test  # noqa: E402
from schemathesis.generation.stateful.state_machine import release_state_machines  # noqa: E402

# imported at collection, not first inside a test: CPython 3.11.7 can fail to compile a module that pytest
# rewrites when it is first imported from a deep stack ("SystemError: AST constructor recursion depth mismatch")
from schemathesis.specs.openapi import schemas as _openapi_schemas  # noqa: E402, F401
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow  # a real server

EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "20"))  # per operation and mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_KEY = "hdt_fuzzing-admin-key-0123456789abcdef"
# a high id, so fuzzed DELETE /v1/keys/{key_id} calls do not revoke the key doing the fuzzing
FUZZ_KEY_ID = 2_000_000_000
HEADERS = {"Authorization": f"Bearer {FUZZ_KEY}"}


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
        session.add(
            ApiKey(
                id=FUZZ_KEY_ID,
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
    headers = HEADERS

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


# How our resources chain, as OpenAPI links: (source operation, its success status) -> {link name: (target
# operation, parameters, request body)}. The links go into the schema the stateful test loads; schemathesis's
# own link inference (dependency analysis) is switched off, so these links are the whole state machine: only
# operations named here are called, and nothing links GET /v1/keys to DELETE /v1/keys/{key_id}.
TICKET = {"ticket_id": "$response.body#/id"}
ARTICLE = {"slug": "$response.body#/slug"}
REVISION = {"slug": "$response.body#/slug", "number": "$response.body#/revision"}
MACRO = {"macro_id": "$response.body#/id"}
ON_A_TICKET = {
    "ReadTicket": ("GET /v1/tickets/{ticket_id}", TICKET, None),
    "UpdateTicket": ("PATCH /v1/tickets/{ticket_id}", TICKET, None),
    "ResolveTicket": ("POST /v1/tickets/{ticket_id}/resolve", TICKET, None),
    "TicketFeedback": ("GET /v1/tickets/{ticket_id}/feedback", TICKET, None),
}
ON_AN_ARTICLE = {
    "ReadArticle": ("GET /v1/articles/{slug}", ARTICLE, None),
    "ReplaceArticle": ("PUT /v1/articles/{slug}", ARTICLE, None),
    "DeleteArticle": ("DELETE /v1/articles/{slug}", ARTICLE, None),
    "PublishArticle": ("POST /v1/articles/{slug}/publish", ARTICLE, None),
    "ArchiveArticle": ("POST /v1/articles/{slug}/archive", ARTICLE, None),
    "ArticleRevisions": ("GET /v1/articles/{slug}/revisions", ARTICLE, None),
    "ArticleRevision": ("GET /v1/articles/{slug}/revisions/{number}", REVISION, None),
}
ON_A_MACRO = {
    "ReadMacro": ("GET /v1/macros/{macro_id}", MACRO, None),
    "ReplaceMacro": ("PUT /v1/macros/{macro_id}", MACRO, None),
    "DeleteMacro": ("DELETE /v1/macros/{macro_id}", MACRO, None),
}
SUGGESTION = "$response.body#/suggestion_id"
LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str], dict | None]]] = {
    ("POST /v1/tickets", "201"): {
        **ON_A_TICKET,
        "TicketAssist": ("GET /v1/tickets/{ticket_id}/assist", TICKET, None),
        "SimilarTickets": ("GET /v1/tickets/{ticket_id}/similar", TICKET, None),
        "MergeIntoItself": ("POST /v1/tickets/{ticket_id}/merge", TICKET, {"primary_id": "$response.body#/id"}),
    },
    ("GET /v1/tickets/{ticket_id}", "200"): ON_A_TICKET,
    ("PATCH /v1/tickets/{ticket_id}", "200"): ON_A_TICKET,
    ("POST /v1/tickets/{ticket_id}/resolve", "200"): ON_A_TICKET,  # resolving again, reopening
    ("POST /v1/articles", "201"): ON_AN_ARTICLE,
    ("GET /v1/articles/{slug}", "200"): ON_AN_ARTICLE,
    ("PUT /v1/articles/{slug}", "200"): ON_AN_ARTICLE,  # the slug may have changed
    ("POST /v1/articles/{slug}/publish", "200"): ON_AN_ARTICLE,
    ("POST /v1/articles/{slug}/archive", "200"): ON_AN_ARTICLE,
    ("DELETE /v1/articles/{slug}", "204"): {
        "ReadDeletedArticle": ("GET /v1/articles/{slug}", {"slug": "$request.path.slug"}, None),
    },
    ("POST /v1/portal/suggest", "200"): {
        "SuggestionShown": ("POST /v1/portal/events", {}, {"suggestion_id": SUGGESTION, "type": "shown"}),
        "ShownArticleHelped": (
            "POST /v1/portal/events",
            {},
            {"suggestion_id": SUGGESTION, "type": "helpful", "article": "$response.body#/articles/0/slug"},
        ),
        "NothingFitTicketFiled": ("POST /v1/portal/events", {}, {"suggestion_id": SUGGESTION, "type": "ticket_filed"}),
    },
    ("POST /v1/portal/events", "201"): {  # the same event again: 200, not counted twice
        "RepeatEvent": (
            "POST /v1/portal/events",
            {},
            {"suggestion_id": SUGGESTION, "type": "$response.body#/type", "article": "$response.body#/article"},
        ),
    },
    ("POST /v1/keys", "201"): {"RevokeKey": ("DELETE /v1/keys/{key_id}", {"key_id": "$response.body#/id"}, None)},
    ("DELETE /v1/keys/{key_id}", "200"): {
        "RevokeAgain": ("DELETE /v1/keys/{key_id}", {"key_id": "$response.body#/id"}, None),
    },
    ("POST /v1/macros", "201"): ON_A_MACRO,
    ("GET /v1/macros/{macro_id}", "200"): ON_A_MACRO,
    ("PUT /v1/macros/{macro_id}", "200"): ON_A_MACRO,
    ("DELETE /v1/macros/{macro_id}", "204"): {
        "ReadDeletedMacro": ("GET /v1/macros/{macro_id}", {"macro_id": "$request.path.macro_id"}, None),
    },
}
# Chained calls that must have succeeded at least once, each on a resource an earlier step of its sequence made
MUST_CHAIN = {
    ("GET /v1/tickets/{ticket_id}", 200),
    ("PATCH /v1/tickets/{ticket_id}", 200),
    ("POST /v1/tickets/{ticket_id}/resolve", 200),
    ("GET /v1/tickets/{ticket_id}/feedback", 200),
    ("GET /v1/articles/{slug}", 200),
    ("PUT /v1/articles/{slug}", 200),
    ("DELETE /v1/articles/{slug}", 204),
    ("POST /v1/portal/events", 201),
    ("DELETE /v1/keys/{key_id}", 200),
    ("GET /v1/macros/{macro_id}", 200),
}
SEQUENCES = int(os.environ.get("HELPDESK_FUZZ_SEQUENCES", "200"))
STEPS = 12  # at most, per sequence
# (request body schema, field) -> the values the server takes there
CHOICES = {
    ("KeyIn", "role"): ROLES,
    ("ArticleIn", "status"): ARTICLE_STATUSES,
    ("ArticleUpdate", "status"): ARTICLE_STATUSES,
    ("TicketPatch", "status"): TICKET_STATUSES,
}
# the added triage fields of the demo deployment with a fixed label set: the values the server takes there
ADDED_FIELDS = {
    f["name"]: f["labels"]
    for f in json.loads((Path(__file__).resolve().parents[2] / "data" / "fields.json").read_text())["fields"]
    if f.get("labels")
}
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # what api/limits.py takes for text in a JSON body
# text that must say something (a resolution, a label): TEXT with at least one character that is not a space
SAID = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# (request body schema, field) -> the longest value the server takes there, where it is shorter than the schema's
SHORTER = {("TicketPatch", "priority"): 50, ("TicketResolve", "priority"): 50}
MAX_SUITES = 40
MORE = 25  # sequences per suite once SEQUENCES ran, while a chained call of MUST_CHAIN is still missing


def _operation_ref(label: str) -> str:
    method, path = label.split(" ", 1)
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


def _as_the_server_checks(node: dict, components: dict) -> None:
    """Close the objects of a request body schema ``node`` and keep its free text strings free of the control
    characters the server refuses, in place."""
    if "$ref" in node:
        node = components[node["$ref"].rsplit("/", 1)[1]]
    if node.get("type") == "object":
        node.setdefault("additionalProperties", False)
    if node.get("type") == "string" and not {"enum", "format", "pattern"} & node.keys():
        node["pattern"] = TEXT
    for inner in [*node.get("properties", {}).values(), *node.get("oneOf", []), *node.get("anyOf", [])]:
        _as_the_server_checks(inner, components)
    if isinstance(node.get("items"), dict):
        _as_the_server_checks(node["items"], components)


def _text(schema: dict, name: str) -> dict:
    """The string schema of property ``name`` of the object ``schema`` (its string branch, if nullable)."""
    prop = schema["properties"][name]
    return next(branch for branch in [prop, *prop.get("oneOf", [])] if branch.get("type") == "string")


def _closed_labels(schema: dict) -> None:
    """Property ``labels`` of the object ``schema`` (its object branch, if nullable) names only the fields the
    demo deployment added with a fixed label set, each taking one of its labels: any other field name or
    label is a 422, so an open map would almost never let a resolve or an agent's change through."""
    prop = schema["properties"]["labels"]
    branch = next(b for b in [prop, *prop.get("oneOf", []), *prop.get("anyOf", [])] if b.get("type") == "object")
    branch.pop("additionalProperties", None)
    branch["properties"] = {name: {"type": "string", "enum": labels} for name, labels in ADDED_FIELDS.items()}
    branch["additionalProperties"] = False


def _stateful_schema(raw: dict) -> dict:
    """The schema ``raw`` with :data:`LINKS` added to its responses, and rules the server enforces on request
    bodies that the schema does not say: no field it does not know, no control character but tab, line feed
    and carriage return in a string (both 422), the values of :data:`CHOICES` and of the added fields
    (:data:`ADDED_FIELDS`), no blank label or resolution, no longer priority than the column holds, no
    helped article a sequence cannot know, and an article's slug matches
    :data:`kb.parsing.SLUG_RE`. Without them most generated bodies would create nothing for the next step to
    use (and no key or article at all)."""
    schemas = raw["components"]["schemas"]
    for (name, field_name), values in CHOICES.items():
        _text(schemas[name], field_name)["enum"] = list(values)
    for name in ("TicketPatch", "TicketResolve"):
        _closed_labels(schemas[name])
        for field_name in ("category", "priority", "assignee"):  # a blank label is a 422
            _text(schemas[name], field_name)["pattern"] = SAID
    for (name, field_name), longest in SHORTER.items():
        _text(schemas[name], field_name)["maxLength"] = longest
    _text(schemas["TicketResolve"], "resolution")["pattern"] = SAID  # a blank resolution is a 422
    # the articles that helped must exist, and a sequence cannot name one: leave them to the request fuzz
    schemas["TicketResolve"]["properties"]["helped_articles"]["maxItems"] = 0
    for name in ("ArticleIn", "ArticleUpdate"):
        _text(schemas[name], "slug")["pattern"] = SLUG_RE.pattern
    for operations in raw["paths"].values():
        for operation in operations.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _as_the_server_checks(content.get("schema", {}), schemas)
    for (source, status), links in LINKS.items():
        method, path = source.split(" ", 1)
        response = raw["paths"][path][method.lower()]["responses"][status]
        response["links"] = {
            name: {
                "operationRef": _operation_ref(target),
                "parameters": parameters,
                **({"requestBody": body} if body is not None else {}),
            }
            for name, (target, parameters, body) in links.items()
        }
    return raw


@dataclass
class StatefulTally:
    sequences: int = 0
    steps: int = 0
    lengths: Counter = field(default_factory=Counter)  # steps per sequence
    statuses: Counter = field(default_factory=Counter)
    modes: Counter = field(default_factory=Counter)  # steps by generation mode
    links: Counter = field(default_factory=Counter)  # transition id -> times followed with its data
    chained: Counter = field(default_factory=Counter)  # (target operation, status) of followed links
    spared: int = 0  # generated calls that would have revoked the fuzzing key
    suites: int = 0
    suites_cut: int = 0  # ended early by Hypothesis as flaky (see _run_suites)
    failures: list[str] = field(default_factory=list)


def _state_machine(schema, base_url: str, tally: StatefulTally):
    class Sequences(schema.as_state_machine()):
        def setup(self) -> None:
            super().setup()
            self.length = 0

        def teardown(self) -> None:
            tally.sequences += 1
            tally.lengths[self.length] += 1
            super().teardown()

        def step(self, input):
            self.length += 1
            output = super().step(input)
            if input.transition is not None and input.is_applied:  # a link followed with data from its source
                tally.links[input.transition.id] += 1
                tally.chained[(input.case.operation.label, output.response.status_code)] += 1
            return output

        def before_call(self, case) -> None:
            super().before_call(case)
            key_id = (case.path_parameters or {}).get("key_id")
            if case.operation.label == "DELETE /v1/keys/{key_id}" and str(key_id) == str(FUZZ_KEY_ID):
                case.path_parameters["key_id"] = FUZZ_KEY_ID - 1  # no such key: a 404
                tally.spared += 1

        def get_call_kwargs(self, case) -> dict:
            return {"base_url": base_url, "headers": HEADERS, "timeout": 120}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            tally.steps += 1
            tally.statuses[response.status_code] += 1
            tally.modes[case.meta.generation.mode.value if case.meta else "?"] += 1
            try:
                case.validate_response(
                    response, checks=CHECKS, headers=HEADERS, transport_kwargs=kwargs, recorder=self.recorder
                )
            except (AssertionError, BaseExceptionGroup) as failure:  # a failed check, or a group of them
                request = f"{case.operation.label} {case.path_parameters or ''} {case.query or ''} {case.body!r}"
                tally.failures.append(f"{request[:300]} -> {response.status_code}: {str(failure)[:400]}")

    return Sequences


def _unchained(tally: StatefulTally) -> set[tuple[str, int]]:
    """The chained calls of :data:`MUST_CHAIN` that no sequence has made yet."""
    return MUST_CHAIN - {key for key, n in tally.chained.items() if n}


def _run_suites(machine, tally: StatefulTally) -> None:
    """Run ``machine`` until :data:`SEQUENCES` sequences ran and every chained call of :data:`MUST_CHAIN` was
    made (more suites of :data:`MORE` sequences while one is missing), in suites of fixed seeds 0, 1, 2...
    (deterministic, like ``derandomize``, but each suite new). The server keeps its state from one sequence to
    the next, so Hypothesis, which replays the start of earlier sequences, may see a replayed call answer
    differently (a slug taken now, a key revoked) and end the suite as flaky; as schemathesis's own runner
    does, that only ends the suite, and the next seed goes on. Which sequences a seed makes depends on what
    the server answered before, so a change anywhere in the answers can move a rare chain to a later suite."""
    for suite in range(MAX_SUITES):
        remaining = SEQUENCES - tally.sequences
        if remaining <= 0 and not _unchained(tally):
            return
        suite_machine = seed(suite)(type(f"Suite{suite}", (machine,), {"rule_order_seed": suite}))
        settings = hypothesis_settings(
            max_examples=max(remaining, MORE),
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        try:
            run_state_machine_as_test(suite_machine, settings=settings)
        except (Flaky, Unsatisfiable, AssertionError) as error:
            if isinstance(error, AssertionError) and not is_inconsistent_replay(error):
                raise
            tally.suites_cut += 1
        finally:
            release_state_machines(suite_machine)
        tally.suites += 1


def test_stateful_sequences_get_no_5xx(server):
    with urllib.request.urlopen(f"{server}/schema/openapi.json", timeout=60) as answer:
        raw = json.load(answer)
    schema = schemathesis.openapi.from_dict(_stateful_schema(raw))
    schema.config.phases.stateful.inference.algorithms = []  # exactly our links, none inferred
    # every call carries FUZZ_KEY (a generated Authorization header, or none, would only get a 401)
    schema.config.generation.with_security_parameters = False
    tally = StatefulTally()
    started = time.monotonic()
    _run_suites(_state_machine(schema, server, tally), tally)
    elapsed = time.monotonic() - started
    links = sum(len(targets) for targets in LINKS.values())
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    chained = ", ".join(f"{label} {code}: {n}" for (label, code), n in sorted(tally.chained.items()))
    multi = sum(n for length, n in tally.lengths.items() if length >= 2)
    print(
        f"\nschemathesis stateful: {tally.sequences} sequences ({multi} of 2+ steps), {tally.steps} steps "
        f"({', '.join(f'{n} {mode}' for mode, n in sorted(tally.modes.items()))}), "
        f"{sum(tally.links.values())} chained calls along {len(tally.links)} of {links} links, "
        f"{len(tally.failures)} failures, {tally.spared} fuzzing-key revocations spared, "
        f"{tally.suites} suites ({tally.suites_cut} cut short as flaky), {elapsed:.0f} s"
    )
    print(f"responses by status: {statuses}")
    print(f"chained calls by status: {chained}")
    assert tally.failures == [], "\n".join(tally.failures)
    assert tally.sequences >= SEQUENCES, f"only {tally.sequences} sequences in {MAX_SUITES} suites"
    assert multi >= SEQUENCES // 2, f"only {multi} sequences of more than one step"
    missing = _unchained(tally)
    assert not missing, f"never answered so on a resource made earlier in its sequence: {sorted(missing)}"
