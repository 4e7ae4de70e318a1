from __future__ import annotations

from kb.rendering import anchor_for, render_html, split_sections

ARTICLE = """Intro before any heading.

## Before you start
You need your **Kestrel ID**.

### On a phone
Open the app.

## Steps
1. Go to [the portal](https://id.kestrel.example/reset).
"""


def test_raw_html_and_scripts_never_pass_through():
    html = render_html('Hi <script>alert(1)</script> <img src=x onerror="boom()">\n\n[x](javascript:alert(1))')
    assert "<script" not in html
    assert "<img" not in html
    assert 'href="javascript:' not in html
    assert "&lt;script&gt;" in html


def test_headings_get_anchors_and_links_render():
    html = render_html(ARTICLE)
    assert '<h2 id="before-you-start">Before you start</h2>' in html
    assert '<a href="https://id.kestrel.example/reset">the portal</a>' in html


def test_sections_keep_their_heading_path():
    sections = split_sections("Reset your password", ARTICLE)
    assert [s.heading for s in sections] == ["Reset your password", "Before you start", "On a phone", "Steps"]
    assert sections[2].heading_path == ("Reset your password", "Before you start", "On a phone")
    assert sections[3].heading_path == ("Reset your password", "Steps")
    assert sections[1].text == "You need your Kestrel ID."
    assert sections[3].anchor == "steps"


def test_anchor_is_ascii_and_stable():
    assert anchor_for("Schritt 2 – VPN prüfen!") == "schritt-2-vpn-prufen"
