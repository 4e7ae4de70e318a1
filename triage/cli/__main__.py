"""``python -m triage.cli``: the ``helpdesk`` command (how tests and the bench start servers)."""

from triage.cli import main

main()
