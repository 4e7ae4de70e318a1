"""How deep a JSON body nests, counted before it is decoded (``api.limits``)."""

from __future__ import annotations

from api.limits import json_depth


def test_json_depth_counts_arrays_and_objects_but_not_strings():
    assert json_depth(b"") == 0 and json_depth(b'"[[["') == 0 and json_depth(b"[]") == 1
    assert json_depth(rb'{"a": [1, {"b": "x]]}} \"quoted\" ends in a backslash \\"}, 2], "c": {}}') == 3
    assert json_depth(b"[" * 40 + b"]" * 40) == 40
    assert json_depth(b"[" * 1000, stop_after=32) == 33  # stops counting past the limit
