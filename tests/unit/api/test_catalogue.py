"""The translation catalogue: the shipped files, a deployment's folder over them, fallbacks, and bad files
refused when the app starts (never at request time)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from api.i18n import SHIPPED_DIR, Catalogue, TranslationsError, accepted_languages, load_catalogue, read_translations
from models.settings import Settings


def _write(folder: Path, name: str, content: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False), "utf-8")
    return path


def test_the_shipped_languages_translate_every_english_text_with_the_same_placeholders():
    english = read_translations(SHIPPED_DIR / "en.json")
    catalogue = load_catalogue()
    assert catalogue.languages == ("de", "en", "nl")
    for language in ("nl", "de"):
        own = read_translations(SHIPPED_DIR / f"{language}.json")
        assert set(own) == set(english), language
        for key, text in own.items():
            assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", english[key])), key
            assert text != english[key] or key == "widget.region", (language, key)  # really translated
    meta = catalogue.text("de", "help.meta", revision=3, updated="2024-05-01")
    assert meta == "Version 3, aktualisiert am 2024-05-01"
    assert catalogue.text("nl", "widget.helpful_label", title="VPN") == "Probleem opgelost: VPN"


def test_a_deployment_adds_a_language_overrides_single_texts_and_missing_ones_fall_back(tmp_path, caplog):
    own = tmp_path / "translations"
    _write(own, "fr.json", {"widget.heading": "Ces articles répondent peut-être à votre question"})
    _write(own, "nl.json", {"widget.heading": "Misschien helpt een van deze artikelen", "widget.typo": "x"})
    _write(own, "de-CH.json", {"portal.send": "An den Support schicken"})
    _write(own, "en.json", {"sent.title": "Thanks!"})
    (own / "notes.txt").write_text("not a translations file")
    with caplog.at_level(logging.WARNING, logger="api.i18n"):
        catalogue = load_catalogue(own)
    assert catalogue.languages == ("de", "de-ch", "en", "fr", "nl")
    fr, nl, swiss = (catalogue.texts_for(language) for language in ("fr", "nl", "de-ch"))
    assert fr["widget.heading"].startswith("Ces articles") and fr["widget.helpful"] == "This solved it"
    assert nl["widget.heading"] == "Misschien helpt een van deze artikelen"  # overridden
    assert nl["widget.helpful"] == "Probleem opgelost"  # shipped Dutch
    assert swiss["portal.send"] == "An den Support schicken" and swiss["portal.subject"] == "Betreff"  # then German
    assert catalogue.text("en", "sent.title") == "Thanks!" and fr["sent.title"] == "Thanks!"  # English overridden too
    assert set(fr) == set(nl) == set(read_translations(SHIPPED_DIR / "en.json"))  # "widget.typo" dropped
    assert "nl.json: unknown keys ignored (no such text): widget.typo" in caplog.text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "nl.json",
            '{"widget.heading": "Deze artikelen",}',
            r"nl\.json: is not valid JSON \(line 1, column 37: Expecting",
        ),
        ("nl.json", b"\xff\xfe{}", r"nl\.json: is not UTF-8 text"),
        ("nl.json", ["widget.heading"], r'nl\.json: must hold one JSON object of "key": "text" pairs, not a list'),
        ("fr.json", {"widget.heading": 3, "widget.helpful": {"x": "y"}}, r'"widget\.heading" must be a string, not '),
        ("fr.json", {"widget.helpful": ["Oui"]}, r'fr\.json: "widget\.helpful" must be a string, not a list'),
        ("fr.json", {"widget.helpful": None}, r'fr\.json: "widget\.helpful" must be a string, not null'),
        ("fr.json", {"widget.helpful": "  "}, r'fr\.json: "widget\.helpful" is empty'),
        ("fr.json", {"help.meta": "Révision {rev}"}, r'fr\.json: "help\.meta" uses \{rev\}, which its English'),
        ("french.json", {"widget.helpful": "Oui"}, r"french\.json: the file name must be a language code"),
    ],
)
def test_a_bad_file_is_refused_at_start_up_with_its_name(tmp_path, name, content, message):
    folder = tmp_path / "translations"
    if isinstance(content, bytes):
        folder.mkdir()
        path = folder / name
        path.write_bytes(content)
    else:
        path = _write(folder, name, content)
    with pytest.raises(TranslationsError, match=message) as raised:
        load_catalogue(folder)
    assert str(raised.value).startswith(str(path))  # the whole path: which file to fix


def test_a_missing_folder_and_a_bad_file_stop_the_app_factory(tmp_path):
    from api.app import create_app

    env = {"HELPDESK_VAR_DIR": str(tmp_path), "HELPDESK_TRANSLATIONS_DIR": str(tmp_path / "nowhere")}
    settings = Settings.from_env(env)
    assert settings.api.translations_dir == tmp_path / "nowhere"
    assert Settings.from_env({"HELPDESK_TRANSLATIONS_DIR": " "}).api.translations_dir is None
    with pytest.raises(TranslationsError, match="HELPDESK_TRANSLATIONS_DIR: .*nowhere is not a folder"):
        create_app(settings)
    bad = _write(tmp_path / "nowhere", "de.json", '{"widget.heading": "Diese Artikel"')
    with pytest.raises(TranslationsError, match=f"^{re.escape(str(bad))}: is not valid JSON"):
        create_app(settings)


def test_the_language_chosen_is_the_first_one_there_are_texts_for():
    catalogue = Catalogue({"en": {"k": "en"}, "de": {"k": "de"}, "nl": {"k": "nl"}, "pt-br": {"k": "pt"}})
    assert catalogue.choose(["fr", "de-AT", "nl"]) == "de"  # de-AT is read as de
    assert catalogue.choose(["pt_BR"]) == "pt-br" and catalogue.choose(["pt-PT"]) == "en"
    assert catalogue.choose([None, "", "NL"]) == "nl" and catalogue.choose(["fr"]) == "en"
    assert catalogue.negotiate("fr,nl", "de") == "nl"  # ?lang= before Accept-Language
    assert catalogue.negotiate("fr", "fr-FR, de;q=0.8, nl;q=0.9") == "nl"
    assert catalogue.negotiate(None, None) == "en" and catalogue.negotiate("<script>", "x" * 5000) == "en"


def test_accept_language_is_read_by_quality_then_order():
    assert accepted_languages("de-CH, fr;q=0.9, en;q=0.8, *;q=0.5") == ["de-CH", "fr", "en"]
    assert accepted_languages("en;q=0.5, nl") == ["nl", "en"]
    assert accepted_languages("nl;q=0, de;q=abc, fr") == ["fr"]  # q=0 means "not this"; a bad q counts as 0
    assert accepted_languages("") == accepted_languages(None) == []
