"""Business calendars, SLA policies and the breach-risk estimate: exact times around Dutch holidays and
summer time, every bad document refused naming its field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from triage.errors import InvalidInput
from triage.sla.policy import parse_policy
from triage.sla.risk import ResolutionEstimate, estimate_resolution

DEMO_POLICY = json.loads((Path(__file__).parents[3] / "data" / "sla" / "policy.json").read_text(encoding="utf-8"))
HOUR = 3600


@pytest.fixture(scope="module")
def policy():
    return parse_policy(DEMO_POLICY)


def test_a_due_time_skips_the_weekend_and_kings_day(policy):
    calendar = policy.calendar
    friday = datetime(2026, 4, 24, 14, 30, tzinfo=UTC)  # 16:30 in Amsterdam: one working hour left
    due = calendar.add(friday, 4 * HOUR)
    # Saturday, Sunday and Monday 27 April (King's Day) are closed: Tuesday 08:30 + 3 h = 11:30 CEST
    assert due == datetime(2026, 4, 28, 9, 30, tzinfo=UTC)
    assert calendar.between(friday, due) == 4 * HOUR
    assert calendar.is_holiday(datetime(2026, 4, 27).date())


def test_closed_days_and_summer_time(policy):
    calendar = policy.calendar
    # Thursday 24 December 2026 is an extra closed day, 25 and 26 are public holidays, then the weekend
    start = datetime(2026, 12, 23, 15, 30, tzinfo=UTC)  # 16:30 CET
    assert calendar.add(start, 2 * HOUR) == datetime(2026, 12, 28, 8, 30, tzinfo=UTC)  # Monday 09:30 CET
    # the clocks go forward on Sunday 29 March 2026: Friday 17:00 CET + 1 h = Monday 09:00 CEST (07:00 UTC)
    assert calendar.add(datetime(2026, 3, 27, 16, 0, tzinfo=UTC), HOUR) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_outside_hours_the_clock_starts_at_opening(policy):
    saturday = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)
    assert policy.calendar.add(saturday, 0) == datetime(2026, 6, 8, 6, 30, tzinfo=UTC)
    assert policy.calendar.between(saturday, datetime(2026, 6, 7, 23, 0, tzinfo=UTC)) == 0


def test_round_the_clock_calendar_and_german_regional_holidays():
    document = {
        "calendar": {"timezone": "Europe/Berlin", "hours": {d: ["00:00", "24:00"] for d in ("mon", "tue", "wed")}},
        "targets": [{"priority": "p1", "resolution_minutes": 60}],
    }
    calendar = parse_policy(document).calendar
    assert calendar.add(datetime(2026, 6, 2, 23, 30, tzinfo=UTC), HOUR) == datetime(2026, 6, 3, 0, 30, tzinfo=UTC)
    document["calendar"]["holidays"] = ["DE-BY"]
    bavaria = parse_policy(document).calendar
    assert bavaria.is_holiday(datetime(2026, 1, 6).date())  # Epiphany: Bavaria, not all of Germany


def test_the_most_specific_target_wins(policy):
    normal = policy.target_for("normal", "Printing", "someone@example.com")
    board = policy.target_for("normal", "Printing", "CEO@Board.Example.com")
    assert (normal.resolution_minutes, board.resolution_minutes) == (960, 480)
    assert board.requester_group == "management"
    assert policy.target_for("unheard-of", None, None) is None and policy.target_for(None, None, None) is None


def _broken(path: tuple, value) -> dict:
    document = copy.deepcopy(DEMO_POLICY)
    place = document
    for key in path[:-1]:
        place = place[key]
    if value is KeyError:
        del place[path[-1]]
    else:
        place[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("calendar", "timezone"), "Europe/Atlantis", "calendar.timezone"),
        (("calendar", "hours"), {}, "calendar.hours"),
        (("calendar", "hours", "mon"), ["17:00", "09:00"], "calendar.hours.mon"),
        (("calendar", "hours", "mon"), ["9 am", "5 pm"], "calendar.hours.mon"),
        (("calendar", "hours", "funday"), ["09:00", "17:00"], "calendar.hours.funday"),
        (("calendar", "holidays"), ["XX"], "calendar.holidays"),
        (("calendar", "closed_days"), ["24 Dec"], "calendar.closed_days"),
        (("targets", 0, "resolution_minutes"), 0, "targets[0].resolution_minutes"),
        (("targets", 1, "first_response_minutes"), -30, "targets[1].first_response_minutes"),
        (("targets", 2, "resolution_minutes"), "two days", "targets[2].resolution_minutes"),
        (("targets", 0, "priority"), "", "targets[0].priority"),
        (("targets", 4, "requester_group"), "nobody", "targets[4].requester_group"),
        (("targets",), [], "targets"),
        (("at_risk_probability",), 1.5, "at_risk_probability"),
        (("colour",), "blue", "colour"),
    ],
)
def test_bad_policies_name_the_field(path, value, field):
    with pytest.raises(InvalidInput) as raised:
        parse_policy(_broken(path, value))
    assert raised.value.field == field, raised.value.detail


def test_a_calendar_with_no_open_time_is_refused():
    document = _broken(("calendar", "hours"), {"mon": ["09:00", "09:00"]})
    with pytest.raises(InvalidInput) as raised:
        parse_policy(document)
    assert raised.value.field == "calendar.hours.mon"


def test_a_repeated_target_is_refused():
    document = copy.deepcopy(DEMO_POLICY)
    document["targets"].append(dict(document["targets"][0]))
    with pytest.raises(InvalidInput) as raised:
        parse_policy(document)
    assert raised.value.field == f"targets[{len(document['targets']) - 1}]"


def test_the_estimate_weighs_neighbours_and_the_priority():
    neighbours = [(2 * HOUR, 0.9), (3 * HOUR, 0.8), (40 * HOUR, 0.2)]
    prior = [10 * HOUR] * 10
    estimate = estimate_resolution(neighbours, prior, prior_weight=0.3)
    assert abs(sum(w for _, w in estimate.samples) - 1) < 1e-9
    assert estimate.neighbours == 3
    assert estimate.quantile(0.5) == 3 * HOUR and estimate.quantile(0.9) == 10 * HOUR
    # given 5 hours have passed, the close neighbours are done: what is left is the prior and the far one
    assert estimate.miss_probability(8 * HOUR) < estimate.miss_probability(8 * HOUR, elapsed_seconds=5 * HOUR)
    assert estimate.miss_probability(8 * HOUR, elapsed_seconds=9 * HOUR) == 1.0
    assert ResolutionEstimate.from_dict(estimate.to_dict()).quantiles() == estimate.quantiles()
    assert estimate_resolution([], prior).quantile(0.5) == 10 * HOUR  # no neighbours: the prior alone
    assert ResolutionEstimate(()).miss_probability(HOUR) is None
