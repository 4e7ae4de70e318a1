"""The customer-facing texts (portal widget, help pages, demo portal) in the customer's language.

One JSON file per language ships in ``api/translations/`` (``en.json``, ``nl.json``, ``de.json``): a flat
object of ``"key": "text"``; ``{name}`` in a text is filled in when it is shown. A deployment's own folder
(``HELPDESK_TRANSLATIONS_DIR``) holds files of the same form: ``fr.json`` adds French, ``nl.json`` overrides
single Dutch texts, ``de-ch.json`` adds Swiss German on top of German. Any text a language lacks is its
base language's (``de`` for ``de-ch``), else English. Every file is checked when the app starts: a file that
is not a JSON object of non-empty strings, or a text using a ``{name}`` its English text has not, stops the
start with an error naming the file, so a request never meets a broken text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = (
    "DEFAULT_LANGUAGE",
    "SHIPPED_DIR",
    "Catalogue",
    "TranslationsError",
    "accepted_languages",
    "load_catalogue",
    "normalize",
    "read_translations",
)

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"
SHIPPED_DIR = Path(__file__).resolve().parent / "translations"
_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")  # a BCP 47 language tag, lower-cased (de, pt-br, de-ch)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_MAX_CANDIDATES = 16  # languages looked at per request (a header or query can name many)


class TranslationsError(ValueError):
    """A translations file (or folder) that cannot be used; the message names it."""


def normalize(tag: str) -> str:
    """``tag`` as the catalogue spells languages: lower case, ``-`` between subtags (``pt_BR`` -> ``pt-br``)."""
    return tag.strip().lower().replace("_", "-")


def accepted_languages(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header, most preferred first (``*`` and ``q=0`` left out)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:_MAX_CANDIDATES]):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and tag.strip() != "*" and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def read_translations(path: Path) -> dict[str, str]:
    """One translations file: a JSON object of non-empty strings (:class:`TranslationsError` otherwise)."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TranslationsError(f"{path}: cannot be read ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise TranslationsError(f"{path}: is not UTF-8 text") from error
    except json.JSONDecodeError as error:
        raise TranslationsError(
            f"{path}: is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    if not isinstance(content, dict):
        raise TranslationsError(f'{path}: must hold one JSON object of "key": "text" pairs, not {_kind(content)}')
    problems = [
        f'"{key}" must be a string, not {_kind(value)}' if not isinstance(value, str) else f'"{key}" is empty'
        for key, value in content.items()
        if not isinstance(value, str) or not value.strip()
    ]
    if problems:
        raise TranslationsError(f"{path}: {'; '.join(problems)}")
    return content


def _kind(value: object) -> str:
    """A JSON value's kind, as its file says it."""
    names = {dict: "an object", list: "a list", bool: "true or false", type(None): "null", str: "a string"}
    return names.get(type(value), "a number")


def _language_of(path: Path) -> str:
    language = normalize(path.stem)
    if not _TAG.fullmatch(language):
        raise TranslationsError(f"{path}: the file name must be a language code such as fr.json or pt-BR.json")
    return language


def _files(folder: Path) -> list[tuple[str, Path]]:
    return [(_language_of(path), path) for path in sorted(folder.glob("*.json"))]


@dataclass(frozen=True)
class Catalogue:
    """Every language's texts, complete: a text a language lacks is its base language's, else English."""

    texts: Mapping[str, Mapping[str, str]]

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages there are texts for, sorted."""
        return tuple(sorted(self.texts))

    def choose(self, candidates: Iterable[str | None]) -> str:
        """The first of ``candidates`` (language tags, most preferred first) this catalogue has, trying
        each one's base language too (``de-AT`` -> ``de``); English when none fits."""
        for candidate in list(candidates)[:_MAX_CANDIDATES]:
            tag = normalize(candidate or "")
            for language in (tag, tag.split("-")[0]):
                if language in self.texts:
                    return language
        return DEFAULT_LANGUAGE

    def negotiate(self, asked: str | None, accept_language: str | None) -> str:
        """The language to answer a request in: the first of ``asked`` (a ``?lang=`` value, comma-separated
        when it names several), else of its ``Accept-Language`` header, that this catalogue has; else English."""
        return self.choose([*(asked or "").split(",")[:8], *accepted_languages(accept_language)])

    def texts_for(self, language: str) -> dict[str, str]:
        """All texts in ``language`` (English for a language there is none of)."""
        return dict(self.texts.get(language, self.texts[DEFAULT_LANGUAGE]))

    def text(self, language: str, key: str, **values: object) -> str:
        """The text ``key`` in ``language`` with its ``{name}`` placeholders filled in from ``values``."""
        template = self.texts.get(language, self.texts[DEFAULT_LANGUAGE])[key]
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(), template)


def _check(path: Path, own: Mapping[str, str], english: Mapping[str, str]) -> dict[str, str]:
    """``own`` without keys English has not (logged), after checking its placeholders against English's."""
    unknown = sorted(set(own) - set(english))
    if unknown:
        log.warning("%s: unknown keys ignored (no such text): %s", path, ", ".join(unknown))
    wrong = [
        f'"{key}" uses {{{", ".join(sorted(extra))}}}, which its English text does not'
        for key, text in own.items()
        if key in english and (extra := _placeholders(text) - _placeholders(english[key]))
    ]
    if wrong:
        raise TranslationsError(f"{path}: {'; '.join(wrong)}")
    return {key: text for key, text in own.items() if key in english}


def load_catalogue(extra_dir: Path | None = None, *, shipped_dir: Path = SHIPPED_DIR) -> Catalogue:
    """The shipped translations, extended and overridden by the files in ``extra_dir`` (a deployment's
    ``HELPDESK_TRANSLATIONS_DIR``), checked whole: raises :class:`TranslationsError` naming the first
    file that cannot be used."""
    layers: dict[str, list[tuple[Path, dict[str, str]]]] = {}
    for language, path in _files(shipped_dir):
        layers.setdefault(language, []).append((path, read_translations(path)))
    english = layers[DEFAULT_LANGUAGE][0][1]
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise TranslationsError(f"HELPDESK_TRANSLATIONS_DIR: {extra_dir} is not a folder")
        for language, path in _files(extra_dir):
            layers.setdefault(language, []).append((path, read_translations(path)))
    merged: dict[str, dict[str, str]] = {}
    for language, files in layers.items():
        merged[language] = {}
        for path, own in files:
            merged[language].update(_check(path, own, english))
    base = merged[DEFAULT_LANGUAGE]
    texts = {language: {**base, **merged.get(language.split("-")[0], {}), **own} for language, own in merged.items()}
    return Catalogue(texts)
