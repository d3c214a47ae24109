"""GET /api/v1/exceptions, GET /api/v1/exceptions/{id} (scope read), POST /api/v1/exceptions/{id}/actions (scope
operate; admin can too). The actor in the audit log is the calling token's name."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from cases.model import STATES, Action, ActionRefused, Case
from cases.store import history, list_cases, load_case

if TYPE_CHECKING:
    from cases.component import CasesComponent

__all__ = ["ActionBody", "build_router"]

_TEXT = 2000  # a note or reason is text for people; bounded so a body cannot fill the audit log


class ActionBody(BaseModel):
    action: Literal["acknowledge", "assign", "start", "wait", "comment", "resolve", "reopen"]
    team: str = Field("", max_length=100, description="assign: the owner team")
    assignee: str = Field("", max_length=200, description="assign: the person")
    reason: str = Field("", max_length=_TEXT, description="wait: why (e.g. waiting on client)")
    code: str = Field("", max_length=100, description="resolve: the resolution code (e.g. fixed_in_erp)")
    note: str = Field("", max_length=_TEXT, description="resolve, comment, reopen: free text")


def _view(case: Case, now: datetime) -> dict[str, Any]:
    out = case.as_json()
    age = max(0.0, (now - case.opened_at).total_seconds())
    out["age_seconds"] = age
    out["overdue"] = not case.closed and now > case.due_at
    out["money_x_age"] = sum(case.money.values()) * age
    out["journey"] = f"/api/v1/records/{quote(case.business_key, safe='')}"
    return out


def build_router(component: CasesComponent, lifespan: Any = None) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["exceptions"], lifespan=lifespan)

    @router.get("/exceptions", summary="The exception queue: cases by money at stake x age, filtered, in pages")
    async def queue(
        request: Request,
        state: list[str] = Query([], description=f"one or more of {', '.join(STATES)} (default: every state)"),
        owner: str | None = Query(None, max_length=100, description="owner team"),
        cause: str | None = Query(None, max_length=200, description="e.g. erp_rejection:PERIOD_CLOSED, dead_letter"),
        tenant: str | None = Query(None, max_length=200),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        request.app.state.service.auth.require(request, "read")
        unknown = [s for s in state if s not in STATES]
        if unknown:
            raise HTTPException(422, f"state: unknown state {unknown[0]!r}; states are {', '.join(STATES)}")
        now = datetime.now(UTC)
        page = await asyncio.to_thread(
            component.with_client,
            lambda c: list_cases(
                c, now=now, states=state, owner=owner, cause=cause, tenant=tenant, limit=limit, offset=offset
            ),
        )
        return {
            "as_of": now.isoformat().replace("+00:00", "Z"),
            "cases": [_view(c, now) for c in page.cases],
            "total": page.total,
            "limit": limit,
            "offset": offset,
            "next_offset": page.next_offset,
        }

    @router.get("/exceptions/{case_id}", summary="One case with its full history (the audit log)")
    async def one(request: Request, case_id: str) -> dict[str, Any]:
        request.app.state.service.auth.require(request, "read")
        now = datetime.now(UTC)
        case, log = await asyncio.to_thread(
            component.with_client, lambda c: (load_case(c, case_id), history(c, case_id))
        )
        if case is None:
            raise HTTPException(404, f"no exception case {case_id!r}")
        return {**_view(case, now), "history": log}

    @router.post("/exceptions/{case_id}/actions", summary="Act on a case: acknowledge, assign, start, wait, "
                 "comment, resolve, reopen (scope operate)")  # fmt: skip
    async def action(request: Request, case_id: str, body: ActionBody) -> dict[str, Any]:
        token = request.app.state.service.auth.require(request, "operate")
        keeper = component.keeper
        if keeper is None:
            raise HTTPException(503, "the exception queue is starting")
        wanted = Action(body.action, body.team, body.assignee, body.reason, body.code, body.note)
        try:
            case, entry = await asyncio.to_thread(keeper.act, case_id, wanted, token.name)
        except KeyError as exc:
            raise HTTPException(404, f"no exception case {case_id!r}") from exc
        except ActionRefused as exc:
            raise HTTPException(409, str(exc)) from exc
        now = datetime.now(UTC)
        return {
            **_view(case, now),
            "audit": {
                "at": entry.at.isoformat().replace("+00:00", "Z"),
                "actor": entry.actor,
                "action": entry.action,
                "detail": entry.detail,
                "before": entry.before,
                "after": entry.after,
            },
        }

    return router
