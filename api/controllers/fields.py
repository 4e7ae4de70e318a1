"""Triage fields: which ticket labels this deployment predicts (category, priority and assignee by
default, and any it adds)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, put
from litestar.datastructures import State
from litestar.params import Body

from api.auth import actor_of, roles
from models.audit import record_audit
from models.db import session_scope
from models.fields import FieldConfigVersion, active_fields, save_fields

__all__ = ("FieldController",)


class FieldController(Controller):
    path = "/v1/fields"
    tags = ["fields"]
    opt = roles("agent", "analyst")

    @get("/", sync_to_thread=True)
    def index(self, state: State) -> dict[str, Any]:
        """The fields in force, in order: name, import column (``source``), fixed labels or null (learned
        from history), and whether it is built in (a ticket column of its own)."""
        with session_scope(state.serving.sessions) as session:
            return {"fields": [spec.to_dict() for spec in active_fields(session)]}

    @put("/", sync_to_thread=True, opt=roles())
    def replace(
        self,
        data: Annotated[dict[str, Any], Body(description='{"fields": [{"name": "request_type", ...}, ...]}')],
        request: Request,
        state: State,
    ) -> dict[str, Any]:
        """Declare the fields (admin). No migration: the next training learns an added field and drops a
        removed one, and the gate reports either as a label change. A bad declaration (a name that is a
        ticket column, a repeated name, a fixed label set of one) is a 422 naming it; nothing is saved."""
        caller = actor_of(request)
        with session_scope(state.serving.sessions) as session:
            row: FieldConfigVersion = save_fields(session, data, caller.name)
            record_audit(session, caller, "fields.saved", f"fields:{row.id}", fields=[f["name"] for f in row.fields])
            return {"version": row.id, "fields": row.fields}
