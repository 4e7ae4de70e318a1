"""JSON bodies as ``api.limits`` reads them: how deep they nest (counted before decoding), duplicate
keys, coercion and control characters refused."""

from __future__ import annotations

import msgspec
import pytest
from litestar.exceptions import HTTPException, ValidationException

from api.limits import control_character_at, decode_json_strictly, json_depth


class Body(msgspec.Struct, forbid_unknown_fields=True):
    subject: str | None = None
    top_k: int | None = None
    flag: bool = False


def test_json_depth_counts_arrays_and_objects_but_not_strings():
    assert json_depth(b"") == 0 and json_depth(b'"[[["') == 0 and json_depth(b"[]") == 1
    assert json_depth(rb'{"a": [1, {"b": "x]]}} \"quoted\" ends in a backslash \\"}, 2], "c": {}}') == 3
    assert json_depth(b"[" * 40 + b"]" * 40) == 40
    assert json_depth(b"[" * 1000, stop_after=32) == 33  # stops counting past the limit


def test_decoding_takes_json_as_declared():
    assert decode_json_strictly(b'{"subject": "tab\\there\\r\\nand \\u00e9", "top_k": 5}', Body) == {
        "subject": "tab\there\r\nand \u00e9",
        "top_k": 5,
    }
    assert decode_json_strictly(b"null") is None and decode_json_strictly(b"[1, 2]") == [1, 2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"top_k": "5"}', "top_k"),  # no coercion of a string to a number
        (b'{"flag": 1}', "flag"),
        (b'{"subject": 5}', "subject"),
        (b'{"subject": "nul \\u0000 byte"}', "subject"),
        (b'{"subject": "bell \\u0007"}', "subject"),
    ],
)
def test_wrong_types_and_control_characters_are_422_naming_the_field(body, field):
    with pytest.raises(ValidationException) as refused:
        decode_json_strictly(body, Body)
    assert refused.value.extra[0]["key"] == field


@pytest.mark.parametrize(
    "body",
    [
        b'{"subject": "a", "subject": "b"}',  # which one wins would be the parser's guess
        b'{"top_k": NaN}',
        b'{"subject": "\\ud800"}',  # a lone surrogate: no text, and PostgreSQL cannot store it
        b'{"subject": "a"',
        b"[" * 40 + b"]" * 40,
    ],
)
def test_duplicate_keys_malformed_and_deep_bodies_are_400(body):
    with pytest.raises(HTTPException) as refused:
        decode_json_strictly(body, Body)
    assert refused.value.status_code == 400


def test_control_characters_are_found_at_their_path():
    assert control_character_at({"a": [{"b": "ok\tfine\n"}, {"c": "x\x00"}]}) == "a[1].c"
    assert control_character_at({"a\x01": 1}) == "body" and control_character_at("\x1b[31m") == "body"
    assert control_character_at({"a": "\u200b text\r\n", "n": 5, "t": True, "z": None}) is None
