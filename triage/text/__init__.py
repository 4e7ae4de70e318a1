"""Text as the product handles it: ticket text and snippets, personal-data redaction, language detection,
and drafts made ready to search with (redacted, their language, their embedding).

May import: ``triage.ml``, ``models`` and ``triage.errors``."""
