"""Business calendars: working days and hours in a time zone, public holidays from the maintained
``holidays`` library, and extra closed days. SLA clocks run only while the calendar is open."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from triage.errors import InvalidInput

__all__ = ("DAYS", "BusinessCalendar", "parse_calendar")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_DAYS = 3660  # ten years of calendar days: a due time further out is a configuration error


def _clock(value: Any, where: str) -> time | None:
    """``"08:30"`` as a time; ``"24:00"`` is the end of the day (None)."""
    if not isinstance(value, str) or len(value.split(":")) != 2:
        raise InvalidInput(f"{where} must be a time as HH:MM, not {value!r}", field=where)
    if value == "24:00":
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{where} must be a time as HH:MM, not {value!r}", field=where) from None


@dataclass(frozen=True)
class BusinessCalendar:
    """When the service desk works. ``hours`` maps a weekday (0 is Monday) to its opening and closing
    time (closing ``None`` is midnight); ``holidays`` are ``holidays`` country codes, optionally with a
    subdivision (``"DE-BY"``); ``closed_days`` are extra dates the desk is shut."""

    timezone: str = "Europe/Amsterdam"
    hours: Mapping[int, tuple[time, time | None]] = field(default_factory=dict)
    holidays: tuple[str, ...] = ()
    closed_days: frozenset[date] = frozenset()

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _holiday_sets(self) -> list[Any]:
        import holidays

        sets = []
        for code in self.holidays:
            country, _, subdivision = code.partition("-")
            sets.append(holidays.country_holidays(country, subdiv=subdivision or None))
        return sets

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday of one of the calendar's countries or an extra closed day."""
        return day in self.closed_days or any(day in h for h in self._holiday_sets)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The open interval of ``day`` in UTC, or None when the desk is closed that day."""
        hours = self.hours.get(day.weekday())
        if hours is None or self.is_holiday(day):
            return None
        start = datetime.combine(day, hours[0], tzinfo=self.zone)
        end = (
            datetime.combine(day, hours[1], tzinfo=self.zone)
            if hours[1]
            else datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
        )
        return start.astimezone(UTC), end.astimezone(UTC)

    def _days_from(self, moment: datetime):
        day = moment.astimezone(self.zone).date() - timedelta(days=1)  # a window may start the day before in UTC
        for _ in range(_MAX_DAYS):
            yield day
            day += timedelta(days=1)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of open time after ``start``."""
        left = max(0.0, seconds)
        for day in self._days_from(start):
            window = self.window(day)
            if window is None or window[1] <= start:
                continue
            begin = max(window[0], start)
            available = (window[1] - begin).total_seconds()
            if left <= available:
                return begin + timedelta(seconds=left)
            left -= available
        raise InvalidInput("the calendar has no open time in the next ten years", field="calendar")

    def between(self, start: datetime, end: datetime) -> float:
        """Seconds of open time from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        total = 0.0
        for day in self._days_from(start):
            window = self.window(day)
            if window is None:
                continue
            if window[0] >= end:
                break
            begin, finish = max(window[0], start), min(window[1], end)
            if finish > begin:
                total += (finish - begin).total_seconds()
        return total

    def to_dict(self) -> dict[str, Any]:
        """The calendar as the policy document writes it."""
        hours = {}
        for n, name in enumerate(DAYS):
            if n in self.hours:
                start, end = self.hours[n]
                hours[name] = [start.strftime("%H:%M"), end.strftime("%H:%M") if end else "24:00"]
        return {
            "timezone": self.timezone,
            "hours": hours,
            "holidays": list(self.holidays),
            "closed_days": sorted(d.isoformat() for d in self.closed_days),
        }


def _holiday_codes(codes: Any) -> tuple[str, ...]:
    import holidays

    if not isinstance(codes, Sequence) or isinstance(codes, str):
        raise InvalidInput(
            "calendar.holidays must be a list of country codes such as NL or DE-BY", field="calendar.holidays"
        )
    supported = holidays.list_supported_countries()
    for code in codes:
        country, _, subdivision = str(code).partition("-")
        if country not in supported:
            raise InvalidInput(f"no public holidays are known for country {code!r}", field="calendar.holidays")
        if subdivision and subdivision not in supported[country]:
            raise InvalidInput(f"{country} has no subdivision {subdivision!r}", field="calendar.holidays")
    return tuple(str(c) for c in codes)


def parse_calendar(document: Any) -> BusinessCalendar:
    """A calendar from its JSON form; a problem names the field (``calendar.hours.mon`` ...)."""
    if not isinstance(document, Mapping):
        raise InvalidInput("calendar must be an object", field="calendar")
    unknown = set(document) - {"timezone", "hours", "holidays", "closed_days"}
    if unknown:
        raise InvalidInput(f"unknown calendar field {sorted(unknown)[0]!r}", field=f"calendar.{sorted(unknown)[0]}")
    zone = document.get("timezone", "Europe/Amsterdam")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {zone!r}", field="calendar.timezone") from None
    raw_hours = document.get("hours")
    if not isinstance(raw_hours, Mapping) or not raw_hours:
        raise InvalidInput(
            'calendar.hours must name at least one working day, e.g. {"mon": ["09:00", "17:00"]}',
            field="calendar.hours",
        )
    hours: dict[int, tuple[time, time | None]] = {}
    for name, span in raw_hours.items():
        where = f"calendar.hours.{name}"
        if name not in DAYS:
            raise InvalidInput(f"{name!r} is not a day; use {', '.join(DAYS)}", field=where)
        if not isinstance(span, Sequence) or isinstance(span, str) or len(span) != 2:
            raise InvalidInput(f"{where} must be [opening, closing] as HH:MM", field=where)
        start, end = _clock(span[0], where), _clock(span[1], where)
        if start is None or (end is not None and end <= start):
            raise InvalidInput(f"{where} closes before it opens: no working hours", field=where)
        hours[DAYS.index(name)] = (start, end)
    closed = set()
    for value in document.get("closed_days", []) or []:
        try:
            closed.add(date.fromisoformat(str(value)))
        except ValueError:
            raise InvalidInput(
                f"closed day {value!r} is not a date as YYYY-MM-DD", field="calendar.closed_days"
            ) from None
    return BusinessCalendar(str(zone), hours, _holiday_codes(document.get("holidays", [])), frozenset(closed))
