"""Service levels: business calendars (working hours, public holidays), SLA policies and their targets,
each ticket's SLA clock (due times, pauses, first response, resolution), the breach-risk estimate from
similar resolved tickets, and the open tickets' watch (at risk, breached, events).

May import: ``triage.ml``, ``kb`` and ``models`` (the desk calls it on ticket events; it never calls the
desk)."""
