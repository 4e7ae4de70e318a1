from __future__ import annotations

import pytest

from kb.errors import InvalidArticle
from kb.parsing import parse_article

GOOD = """---
title: Reset your VPN password
slug: reset-vpn-password
tags: [vpn, password]
language: en
status: published
---

## Steps
1. Go to the reset page.
"""


def test_parses_front_matter_and_body():
    draft = parse_article(GOOD)
    assert draft.slug == "reset-vpn-password"
    assert draft.title == "Reset your VPN password"
    assert draft.tags == ("vpn", "password")
    assert draft.status == "published"
    assert draft.body.startswith("## Steps")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("no front matter here\n", "front_matter"),
        ("---\ntitle: [unclosed\n---\nbody\n", "front_matter"),
        ("---\nslug: x\n---\nbody\n", "front_matter.title"),
        ("---\ntitle: T\nslug: Not A Slug\n---\nbody\n", "front_matter.slug"),
        ("---\ntitle: T\nslug: t\nstatus: live\n---\nbody\n", "front_matter.status"),
        ("---\ntitle: T\nslug: t\ntags: vpn\n---\nbody\n", "front_matter.tags"),
        ("---\ntitle: T\nslug: t\n---\n\n", "front_matter.body"),
    ],
)
def test_bad_front_matter_names_the_field(text: str, field: str):
    with pytest.raises(InvalidArticle) as info:
        parse_article(text)
    assert info.value.field == field
