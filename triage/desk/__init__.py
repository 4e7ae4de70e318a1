"""The ticket desk: the suggestion pipeline for a ticket or draft, tickets and their lifecycle (labels,
feedback, resolution), ticket imports, GDPR export and erasure.

May import: ``triage.bundles``, ``triage.knowledge`` and below."""
