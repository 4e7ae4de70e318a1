"""A ticket or portal draft made ready to search with: its text redacted as the indexes were built, its
language, and its embedding."""

from __future__ import annotations

import numpy as np

from triage.errors import InvalidQuery
from triage.ml.encoder import Encoder
from triage.stages import UNTIMED, Stages
from triage.text.language import detect_language
from triage.text.redaction import DEFAULT_REDACTOR, Redactor
from triage.text.texts import ticket_text

__all__ = ("encode_draft", "prepare_draft")


def prepare_draft(
    subject: str | None, body: str | None, redactor: Redactor | None = None, stages: Stages = UNTIMED
) -> tuple[str, str | None]:
    """A ticket or portal draft's text with personal data redacted (as the indexes were built) and its
    detected language; 422 (naming ``subject``) when it has no text."""
    text = ticket_text(subject, body)
    if not text:
        raise InvalidQuery("give a subject or a body", field="subject")
    with stages("redaction"):
        redacted = (redactor or DEFAULT_REDACTOR)(text)
    with stages("language detection"):
        return redacted, detect_language(text)


def encode_draft(
    encoder: Encoder, subject: str | None, body: str | None, redactor: Redactor | None = None
) -> tuple[str, np.ndarray, str | None]:
    """:func:`prepare_draft` and the redacted text's embedding."""
    redacted, language = prepare_draft(subject, body, redactor)
    return redacted, encoder.encode_batch([redacted])[0], language
