"""The knowledge base as the portal and agents search it: hybrid KB search (dense and BM25 over article
sections), the serving KB index kept current from the database, the "nothing fits" model (learned from
portal outcomes, or calibrated on the KB itself before there are any) and the self-service portal
(suggestions while a customer types, and what they did with them).

May import: ``triage.ml``, ``triage.text``, ``kb`` and ``models``."""
