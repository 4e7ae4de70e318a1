"""Service levels: the SLA policy (calendar and targets), open tickets by SLA state, and attainment."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, put
from litestar.datastructures import State
from litestar.params import Body, Parameter, QueryParameter

from api.auth import actor_of, roles
from api.schemas import LIMIT, OFFSET
from models.audit import record_audit
from models.db import session_scope
from models.errors import NotFound
from triage.sla.store import active_policy, save_policy
from triage.sla.watch import WATCH_STATES, attainment, list_sla_tickets

__all__ = ("SlaController",)


def _policy_out(version) -> dict[str, Any]:
    return {
        "version": version.id,
        "policy": version.document,
        "actor": version.actor,
        "created_at": version.created_at,
    }


class SlaController(Controller):
    path = "/v1/sla"
    tags = ["sla"]
    opt = roles("agent", "analyst")

    @get("/policy", sync_to_thread=True)
    def policy(self, state: State) -> dict[str, Any]:
        """The SLA policy in force (404 before one is saved)."""
        with session_scope(state.serving.sessions) as session:
            active = active_policy(session)
            if active is None:
                raise NotFound("no SLA policy has been saved yet; PUT /v1/sla/policy saves one", field="policy")
            return _policy_out(active[0])

    @put("/policy", sync_to_thread=True, opt=roles())
    def replace_policy(
        self,
        data: Annotated[dict[str, Any], Body(description="The policy document: calendar, targets, requester groups.")],
        request: Request,
        state: State,
    ) -> dict[str, Any]:
        """Save a new policy version (admin). Open tickets get its targets and due times; tickets without
        a clock get one. A bad document is a 422 naming the field at fault, and nothing is saved."""
        caller = actor_of(request)
        with session_scope(state.serving.sessions) as session:
            version = save_policy(session, data, caller.name)
            record_audit(session, caller, "sla.policy_saved", f"sla_policy:{version.id}")
            return _policy_out(version)

    @get("/tickets", sync_to_thread=True)
    def tickets(
        self,
        state: State,
        sla_state: Annotated[
            str | None,
            QueryParameter(
                name="state",
                required=False,
                pattern="^(" + "|".join(WATCH_STATES) + ")$",
                description="Only open tickets in this SLA state.",
            ),
        ] = None,
        limit: int = LIMIT,
        offset: int = OFFSET,
    ) -> dict[str, Any]:
        """Open tickets with their SLA (due times, state, breach probability, estimate), the soonest
        resolution due first."""
        with session_scope(state.serving.sessions) as session:
            items, total = list_sla_tickets(session, sla_state, limit=limit, offset=offset)
            return {"items": items, "total": total, "limit": limit, "offset": offset}

    @get("/report", sync_to_thread=True)
    def report(
        self, state: State, weeks: int = Parameter(default=12, ge=1, le=104, description="How many weeks.")
    ) -> dict[str, Any]:
        """SLA attainment (met targets over decided tickets) per priority and ISO week of creation."""
        with session_scope(state.serving.sessions) as session:
            return attainment(session, weeks)
