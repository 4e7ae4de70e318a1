"""Typed values of ``HELPDESK_*`` environment variables: a value that is not what its variable takes fails at
start-up with :class:`InvalidSetting`, which names the variable and says what it takes (the command line
prints it as one line, never a traceback)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from models.errors import InvalidInput

__all__ = ("InvalidSetting", "choice", "integer", "json_object", "number", "share")


class InvalidSetting(InvalidInput, ValueError):
    """An environment variable's value is not one its setting takes; ``field`` is the variable's name."""

    def __init__(self, name: str, takes: str, raw: str) -> None:
        super().__init__(f"{name} must be {takes}, not {raw!r}", field=name)


def _bounds(low: float, high: float) -> str:
    if math.isinf(high):
        return f"at least {low:g}"
    return f"from {low:g} to {high:g}"


def _real(env: Mapping[str, str], name: str, default: float, takes: str, fits: Callable[[float], bool]) -> float:
    """The value of ``name`` as a finite number that ``fits`` (``default`` when unset or empty)."""
    raw = env.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and fits(value)):
        raise InvalidSetting(name, takes, raw)
    return value


def number(env: Mapping[str, str], name: str, default: float, *, low: float = 0.0, high: float = math.inf) -> float:
    """The value of ``name`` as a finite number from ``low`` to ``high`` (``default`` when unset or empty)."""
    return _real(env, name, default, f"a number {_bounds(low, high)}", lambda value: low <= value <= high)


def integer(
    env: Mapping[str, str],
    name: str,
    default: int,
    *,
    low: int = 0,
    high: float = math.inf,
    words: Mapping[str, int] | None = None,
) -> int:
    """The value of ``name`` as a whole number from ``low`` to ``high`` (``default`` when unset or empty);
    ``words`` are names it also takes for numbers (``{"auto": 0}``)."""
    raw = env.get(name, "").strip()
    if not raw:
        return int(default)
    if words and raw.lower() in words:
        return words[raw.lower()]
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InvalidSetting(name, f"a whole number {_bounds(low, high)}", raw)
    return value


def share(env: Mapping[str, str], name: str, default: float) -> float:
    """The value of ``name`` as a share: a number above 0 and at most 1."""
    return _real(env, name, default, "a number above 0 and at most 1", lambda value: 0 < value <= 1)


def choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """The value of ``name``, one of ``choices`` (the first when unset or empty)."""
    value = env.get(name, "").strip() or choices[0]
    if value not in choices:
        raise InvalidSetting(name, f"one of {', '.join(choices)}", value)
    return value


def json_object(env: Mapping[str, str], name: str) -> dict[str, Any]:
    """The value of ``name`` as a JSON object (empty when unset or empty)."""
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidSetting(name, "a JSON object", raw)
    return value
