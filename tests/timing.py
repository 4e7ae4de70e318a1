"""Where the suite's time goes: a pytest plugin that sums wall time by test module and fixture setup time by
fixture, and prints both tables after the run (beside ``--durations``). Works under pytest-xdist: each
worker sends its fixture times to the controller.

Fixture times are inclusive (a fixture's setup includes the setup of fixtures it requests that were not
built yet) and summed over every time the fixture was set up.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import pytest

_KEY = "helpdesk_fixture_times"
_fixtures: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
_modules: dict[str, float] = defaultdict(float)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    start = time.perf_counter()
    yield
    if getattr(fixturedef.func, "__name__", "") == "get_direct_param_fixture_func":
        return  # a plain parametrize argument, not a fixture
    entry = _fixtures[(fixturedef.argname, fixturedef.scope)]
    entry[0] += time.perf_counter() - start
    entry[1] += 1


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _modules[report.nodeid.split("::", 1)[0]] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the fixture times to the controller
        workeroutput[_KEY] = json.dumps([[name, scope, s, n] for (name, scope), (s, n) in _fixtures.items()])


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_testnodedown(node, error) -> None:
    for name, scope, seconds, count in json.loads(getattr(node, "workeroutput", {}).get(_KEY, "[]")):
        entry = _fixtures[(name, scope)]
        entry[0] += seconds
        entry[1] += count


def pytest_terminal_summary(terminalreporter) -> None:
    write = terminalreporter.write_line
    if _modules:
        terminalreporter.section("time by test module (setup + call + teardown, summed over workers)")
        for module, seconds in sorted(_modules.items(), key=lambda kv: -kv[1])[:25]:
            write(f"{seconds:8.1f} s  {module}")
        write(f"{sum(_modules.values()):8.1f} s  in all")
    if _fixtures:
        terminalreporter.section("fixture setup time (inclusive, summed over every setup)")
        ranked = sorted(_fixtures.items(), key=lambda kv: -kv[1][0])[:20]
        for (name, scope), (seconds, count) in ranked:
            write(f"{seconds:8.1f} s  {count:4d} x  {name} ({scope})")
