"""SLA policies: first-response and resolution targets per priority (optionally per category or requester
group), counted in the business hours of a calendar.

A policy is a JSON document::

    {"calendar": {"timezone": "Europe/Amsterdam", "hours": {"mon": ["08:30", "17:30"], ...},
                  "holidays": ["NL"], "closed_days": ["2026-12-24"]},
     "targets": [{"priority": "urgent", "first_response_minutes": 30, "resolution_minutes": 240},
                 {"priority": "normal", "category": "Network & VPN", "resolution_minutes": 960}, ...],
     "requester_groups": {"vip": ["ceo@example.com", "@board.example.com"]},
     "at_risk_probability": 0.5}

The most specific target wins: priority with category and group, then with category, then with group,
then priority alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triage.errors import InvalidInput
from triage.sla.calendar import BusinessCalendar, parse_calendar

__all__ = ("SlaPolicy", "Target", "parse_policy")

_MAX_MINUTES = 60 * 24 * 365  # a year of business minutes


@dataclass(frozen=True)
class Target:
    """The promised times for tickets of one priority (and optionally category and requester group), in
    business minutes; ``None`` promises nothing for that clock."""

    priority: str
    first_response_minutes: float | None
    resolution_minutes: float | None
    category: str | None = None
    requester_group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"priority": self.priority}
        if self.category:
            out["category"] = self.category
        if self.requester_group:
            out["requester_group"] = self.requester_group
        out["first_response_minutes"] = self.first_response_minutes
        out["resolution_minutes"] = self.resolution_minutes
        return out


@dataclass(frozen=True)
class SlaPolicy:
    """The calendar, the targets, who belongs to which requester group, and the breach probability at which
    an open ticket counts as at risk."""

    calendar: BusinessCalendar
    targets: tuple[Target, ...]
    requester_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    at_risk_probability: float = 0.5

    def group_of(self, requester: str | None) -> str | None:
        """The first group listing ``requester``'s address or its ``@domain``."""
        if not requester:
            return None
        address = requester.strip().lower()
        domain = "@" + address.rpartition("@")[2]
        for name, members in self.requester_groups.items():
            if address in members or domain in members:
                return name
        return None

    def target_for(self, priority: str | None, category: str | None, requester: str | None) -> Target | None:
        """The most specific target for a ticket, or None when the policy promises nothing for its priority."""
        if not priority:
            return None
        group = self.group_of(requester)
        best, best_rank = None, -1
        for target in self.targets:
            if target.priority != priority:
                continue
            if target.category and target.category != category:
                continue
            if target.requester_group and target.requester_group != group:
                continue
            rank = 2 * bool(target.category) + bool(target.requester_group)
            if rank > best_rank:
                best, best_rank = target, rank
        return best

    def to_dict(self) -> dict[str, Any]:
        """The policy as its JSON document."""
        return {
            "calendar": self.calendar.to_dict(),
            "targets": [t.to_dict() for t in self.targets],
            "requester_groups": {k: list(v) for k, v in self.requester_groups.items()},
            "at_risk_probability": self.at_risk_probability,
        }


def _minutes(raw: Mapping[str, Any], key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= _MAX_MINUTES:
        raise InvalidInput(f"{where}.{key} must be a number of minutes above 0, not {value!r}", field=f"{where}.{key}")
    return float(value)


def _target(raw: Any, n: int, groups: Mapping[str, Any]) -> Target:
    where = f"targets[{n}]"
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where} must be an object", field=where)
    known = {"priority", "category", "requester_group", "first_response_minutes", "resolution_minutes"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InvalidInput(f"unknown target field {unknown[0]!r}", field=f"{where}.{unknown[0]}")
    priority = raw.get("priority")
    if not isinstance(priority, str) or not priority.strip():
        raise InvalidInput(f"{where}.priority names the priority the target is for", field=f"{where}.priority")
    group = raw.get("requester_group")
    if group is not None and group not in groups:
        raise InvalidInput(f"no requester group {group!r} in requester_groups", field=f"{where}.requester_group")
    first, resolution = _minutes(raw, "first_response_minutes", where), _minutes(raw, "resolution_minutes", where)
    if first is None and resolution is None:
        raise InvalidInput(f"{where} promises nothing: give first_response_minutes or resolution_minutes", field=where)
    category = raw.get("category")
    if category is not None and (not isinstance(category, str) or not category.strip()):
        raise InvalidInput(f"{where}.category must be a category name", field=f"{where}.category")
    return Target(priority.strip(), first, resolution, category, group)


def parse_policy(document: Any) -> SlaPolicy:
    """A policy from its JSON document, every part checked; a problem names the field at fault."""
    if not isinstance(document, Mapping):
        raise InvalidInput("the SLA policy must be a JSON object", field="body")
    unknown = sorted(set(document) - {"calendar", "targets", "requester_groups", "at_risk_probability"})
    if unknown:
        raise InvalidInput(f"unknown policy field {unknown[0]!r}", field=unknown[0])
    calendar = parse_calendar(document.get("calendar"))
    raw_groups = document.get("requester_groups") or {}
    if not isinstance(raw_groups, Mapping):
        raise InvalidInput("requester_groups maps a group name to addresses or @domains", field="requester_groups")
    groups: dict[str, tuple[str, ...]] = {}
    for name, members in raw_groups.items():
        if not isinstance(members, list) or not all(isinstance(m, str) and "@" in m for m in members):
            raise InvalidInput(
                f"requester_groups.{name} must list addresses or @domains", field=f"requester_groups.{name}"
            )
        groups[str(name)] = tuple(m.strip().lower() for m in members)
    raw_targets = document.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise InvalidInput("targets must list at least one target", field="targets")
    targets = tuple(_target(raw, n, groups) for n, raw in enumerate(raw_targets))
    keys = [(t.priority, t.category, t.requester_group) for t in targets]
    for n, key in enumerate(keys):
        if key in keys[:n]:
            raise InvalidInput(f"targets[{n}] repeats an earlier target for the same tickets", field=f"targets[{n}]")
    threshold = document.get("at_risk_probability", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise InvalidInput("at_risk_probability must be a number between 0 and 1", field="at_risk_probability")
    return SlaPolicy(calendar, targets, groups, float(threshold))
