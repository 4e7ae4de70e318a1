from __future__ import annotations

import pytest

from triage.text.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I forgot my VPN password and cannot log in", "en"),
        ("Ik ben mijn wachtwoord vergeten en kan niet inloggen", "nl"),
        ("Wo finde ich meine Rechnung für die letzte Bestellung?", "de"),
        ("Je n'arrive pas à imprimer depuis ce matin", "fr"),
    ],
)
def test_detects_the_language_of_helpdesk_texts(text, language):
    assert detect_language(text) == language


def test_too_short_or_unsure_gives_the_default():
    assert detect_language("vpn") is None
    assert detect_language("vpn", default="en") == "en"
