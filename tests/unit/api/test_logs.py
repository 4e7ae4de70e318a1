"""Log lines without query strings or raw control characters (``api.logs``)."""

from __future__ import annotations

import logging

from api.logs import SafeAccessFormatter, SafeFormatter, escape_controls


def test_log_lines_escape_control_characters_and_leave_out_query_strings():
    access = SafeAccessFormatter(
        '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    )
    args = ("127.0.0.1:1", "GET", "/help/x\nINFO: forged\x00?key=hdt_secret", "1.1", 404)
    line = access.format(logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s %s %s %s %d", args, None))
    assert "\n" not in line and "\x00" not in line and "hdt_secret" not in line
    assert '"GET /help/x\\nINFO: forged\\x00 HTTP/1.1" 404' in line
    plain = SafeFormatter("%(message)s", use_colors=False)
    message = plain.format(logging.LogRecord("api", logging.ERROR, __file__, 1, "on %s", ("/a\u2028b\r",), None))
    assert message == "on /a\\u2028b\\r" and escape_controls("tab\there") == "tab\\there"
