"""Agent assist: recommended replies that cite their sources, the assistant beside a ticket, macros,
duplicate candidates and merges, incident spikes.

May import: ``triage.desk`` and below."""
