"""Inbound e-mail: a ticket per incoming mail.

Holds parsing raw messages (``parsing``: text, the reply without its quotes and signature, attachments,
thread ids), telling auto-generated mail from people's (``autoreplies``), threading replies onto tickets, the
IMAP poller, and acknowledgements. Parsing and detection are pure functions over bytes (standard library
``email``); no web framework, no database."""

__all__ = ()
