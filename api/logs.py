"""What the server writes to its log: one line per record, no query strings, no raw control characters.

uvicorn's access log wrote each request's full URL, query string included, so ``/demo/portal?key=...``
put an API key in the log. The access log now names the path alone; uvicorn's lines have their control
characters escaped (``\\n``, ``\\x00``) whether or not the uvicorn version quotes paths itself; and the
application escapes the request paths it logs (:func:`escape_controls`). ``helpdesk serve`` names these
formatters in uvicorn's logging configuration.
"""

from __future__ import annotations

import copy
import logging
import re

from uvicorn.logging import AccessFormatter, DefaultFormatter

__all__ = ("SafeAccessFormatter", "SafeFormatter", "escape_controls")

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with every control character (line breaks included) written as a Python escape."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class SafeFormatter(DefaultFormatter):
    """uvicorn's formatter, with control characters in the message escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escape_controls(super().formatMessage(record))


class SafeAccessFormatter(AccessFormatter):
    """uvicorn's access-log formatter, with the request's path alone (no query string) and control
    characters escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        if isinstance(record.args, tuple) and len(record.args) == 5:
            record = copy.copy(record)
            client, method, full_path, version, status = record.args
            record.args = (client, method, str(full_path).split("?", 1)[0], version, status)
        return escape_controls(super().formatMessage(record))
