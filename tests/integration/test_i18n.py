"""The customer's language over real HTTP: help pages by ``?lang=`` or Accept-Language, the demo portal, and
the widget's texts from GET /v1/portal/translations (with a deployment's own translations over the shipped)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from api.app import create_app
from tests.conftest import keyed_client, new_key

# the language of a page is no matter of the database: SQLite alone
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

ARTICLE = "## Reset it yourself\nOpen the Kestrel ID portal, choose Forgot password and follow the e-mail link.\n"


@pytest.fixture
def client(settings, encoder, tmp_path):
    own = tmp_path / "translations"
    own.mkdir()
    (own / "fr.json").write_text(json.dumps({"widget.heading": "Ces articles peuvent vous aider"}), "utf-8")
    (own / "nl.json").write_text(json.dumps({"widget.thanks": "Top, dan hoef je niets te versturen."}), "utf-8")
    api = replace(settings.api, translations_dir=own, cors_origins=("https://portal.example.com",))
    with keyed_client(create_app(replace(settings, api=api), encoder=encoder), role="portal") as client:
        admin = {"authorization": f"Bearer {new_key(client.app.state.serving.sessions, 'admin')}"}
        article = {"slug": "vpn-password", "title": "VPN password", "body": ARTICLE, "status": "published"}
        assert client.post("/v1/articles", json=article, headers=admin).status_code == 201
        yield client


def test_help_pages_speak_the_language_asked_for_then_the_browsers_then_english(client):
    dutch = client.get("/help/vpn-password", params={"lang": "nl"})
    assert dutch.status_code == 200 and '<html lang="nl">' in dutch.text
    assert "Versie 1, bijgewerkt op " in dutch.text and '<article class="help" lang="en">' in dutch.text
    assert dutch.headers["content-language"] == "nl" and "Accept-Language" in dutch.headers["vary"]
    assert "script-src 'self'" in dutch.headers["content-security-policy"]  # the pages' headers stay

    german = client.get("/help/vpn-password", headers={"accept-language": "de-DE,de;q=0.9,en;q=0.8"})
    assert '<html lang="de">' in german.text and "Version 1, aktualisiert am " in german.text
    asked = client.get("/help/vpn-password", params={"lang": "nl"}, headers={"accept-language": "de"})
    assert asked.headers["content-language"] == "nl"  # ?lang= before the header
    fallback = client.get("/help/vpn-password", params={"lang": "sv"}, headers={"accept-language": "sv, da;q=0.5"})
    assert '<html lang="en">' in fallback.text and "Revision 1, updated " in fallback.text
    assert client.get("/help/vpn-password", params={"lang": "fr"}).headers["content-language"] == "fr"  # added
    assert client.get("/help/no-such-article", params={"lang": "de"}).status_code == 404


def test_the_demo_portal_and_its_thank_you_page_in_german(client):
    key = client.headers["authorization"].removeprefix("Bearer ")
    page = client.get("/demo/portal", params={"key": key, "lang": "de"})
    assert '<html lang="de">' in page.text and "<h1>Support kontaktieren</h1>" in page.text
    assert '<label for="body">Beschreiben Sie Ihr Problem</label>' in page.text
    assert 'action="/demo/portal/sent?lang=de"' in page.text
    assert f'data-key="{key}" data-form' in page.text  # the widget reads the page's <html lang>
    sent = client.post("/demo/portal/sent", params={"lang": "de"}, data={"subject": "x"})
    assert sent.status_code == 200 and "<h1>Vielen Dank</h1>" in sent.text and "Zurück zum Formular" in sent.text
    assert "<h1>Contact support</h1>" in client.get("/demo/portal").text


def test_the_widget_gets_its_texts_in_the_customers_language_with_a_portal_key(client):
    dutch = client.get("/v1/portal/translations", params={"lang": "nl"})
    assert dutch.status_code == 200 and dutch.headers["content-language"] == "nl"
    answer = dutch.json()
    assert answer["language"] == "nl" and answer["available"] == ["de", "en", "fr", "nl"]
    assert answer["texts"]["widget.heading"] == "Deze artikelen beantwoorden misschien je vraag"
    assert answer["texts"]["widget.thanks"] == "Top, dan hoef je niets te versturen."  # the deployment's text

    french = client.get("/v1/portal/translations", params={"lang": "fr-CA,de"}).json()
    assert french["language"] == "fr" and french["texts"]["widget.heading"] == "Ces articles peuvent vous aider"
    assert french["texts"]["widget.helpful"] == "This solved it"  # not translated: English
    by_header = client.get("/v1/portal/translations", params={"lang": "sv"}, headers={"accept-language": "de-AT"})
    assert by_header.json()["language"] == "de" and by_header.json()["texts"]["widget.not_helpful"] == "Nicht hilfreich"
    assert client.get("/v1/portal/translations").json()["language"] == "en"
    too_long = client.get("/v1/portal/translations", params={"lang": "de," * 100})
    assert too_long.status_code == 422 and too_long.json()["field"] == "lang"


def test_the_translations_answer_only_keys_and_browsers_on_the_configured_origins(client):
    key = client.headers.pop("authorization")  # a browser's preflight carries no key
    refused = client.get("/v1/portal/translations", params={"lang": "de"})
    assert refused.status_code == 401
    asked = {"access-control-request-method": "GET", "access-control-request-headers": "authorization"}
    allowed = client.options("/v1/portal/translations", headers={"origin": "https://portal.example.com", **asked})
    assert allowed.headers["access-control-allow-origin"] == "https://portal.example.com"
    other = client.options("/v1/portal/translations", headers={"origin": "https://evil.example", **asked})
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
    client.headers["authorization"] = key
    cross = client.get(
        "/v1/portal/translations", params={"lang": "de"}, headers={"origin": "https://portal.example.com"}
    )
    assert cross.status_code == 200 and cross.headers["access-control-allow-origin"] == "https://portal.example.com"
