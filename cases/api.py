"""GET /api/v1/exceptions, GET /api/v1/exceptions/{id} (scope read), POST /api/v1/exceptions/{id}/actions and
POST /api/v1/exceptions/actions (one action on many cases) (scope operate; admin can too). The actor in the audit
log is the calling token's name; a bulk action writes one audit entry per case."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cases import replay
from cases.model import STATES, Action, ActionRefused, Case
from cases.store import history, list_cases, load_case

if TYPE_CHECKING:
    from cases.component import CasesComponent

__all__ = ["BULK_MAX", "ActionBody", "BulkBody", "build_router"]

_TEXT = 2000  # a note or reason is text for people; bounded so a body cannot fill the audit log
# The most cases one bulk action changes: a month-end clean-up of one cause is hundreds; a filter matching more is
# more likely a mistake than a plan, and each case is one write and one audit entry.
BULK_MAX = 500


class ActionBody(BaseModel):
    action: Literal["acknowledge", "assign", "start", "wait", "comment", "resolve", "reopen", "request_replay"]
    team: str = Field("", max_length=100, description="assign: the owner team")
    assignee: str = Field("", max_length=200, description="assign: the person")
    reason: str = Field("", max_length=_TEXT, description="wait: why (e.g. waiting on client)")
    code: str = Field("", max_length=100, description="resolve: the resolution code (e.g. fixed_in_erp)")
    note: str = Field("", max_length=_TEXT, description="resolve, comment, reopen: free text")


class BulkFilter(BaseModel):
    """The listing's filters; every one given must match."""

    state: list[str] = Field(default=[], max_length=len(STATES))
    owner: str | None = Field(default=None, max_length=100)
    cause: str | None = Field(default=None, max_length=200)
    tenant: str | None = Field(default=None, max_length=200)
    due_before: datetime | None = Field(
        default=None, description="not closed and due by then (breaching soon or past due)"
    )


class BulkBody(BaseModel):
    action: Literal["acknowledge", "assign", "resolve"]
    team: str = Field("", max_length=100, description="assign: the owner team")
    assignee: str = Field("", max_length=200, description="assign: the person")
    code: str = Field("", max_length=100, description="resolve: the resolution code")
    note: str = Field("", max_length=_TEXT, description="resolve: free text")
    ids: list[str] = Field([], max_length=BULK_MAX, description=f"the cases, at most {BULK_MAX}")
    filter: BulkFilter | None = Field(None, description="or: the cases the listing's filters match")
    dry_run: bool = Field(False, description="answer the count and the ids, change nothing")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _audit_json(entry: Any) -> dict[str, Any]:
    return {"at": _iso(entry.at), "actor": entry.actor, "action": entry.action, "detail": entry.detail,
            "before": entry.before, "after": entry.after}  # fmt: skip


def _states(state: list[str], field: str) -> None:
    unknown = [s for s in state if s not in STATES]
    if unknown:
        raise HTTPException(422, f"{field}: unknown state {unknown[0]!r}; states are {', '.join(STATES)}")


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
        state: list[str] = Query(
            [], description=f"one or more of {', '.join(STATES)}, repeated or comma-separated (default: every state)"
        ),
        owner: str | None = Query(None, max_length=100, description="owner team"),
        cause: str | None = Query(None, max_length=200, description="e.g. erp_rejection:PERIOD_CLOSED, dead_letter"),
        tenant: str | None = Query(None, max_length=200),
        due_before: datetime | None = Query(None, description="not closed and due by then (breaching soon)"),
        overdue: bool = Query(False, description="only cases not closed and past their due time"),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        request.app.state.service.auth.require(request, "read")
        # repeated or comma-separated: clients that send each parameter once (the console) list states in one
        state = [s for value in state for s in value.split(",") if s]
        _states(state, "state")
        now = datetime.now(UTC)
        due = min(due_before or now, now) if overdue else due_before
        page = await asyncio.to_thread(
            component.with_client,
            lambda c: list_cases(
                c,
                now=now,
                states=state,
                owner=owner,
                cause=cause,
                tenant=tenant,
                due_before=due,
                limit=limit,
                offset=offset,
            ),  # fmt: skip
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

    @router.post("/exceptions/actions", summary="One action (acknowledge, assign, resolve) on many cases by ids or "
                 f"filter, at most {BULK_MAX}; dry_run answers the count and ids (scope operate)")  # fmt: skip
    async def bulk(request: Request, body: BulkBody) -> dict[str, Any]:
        token = request.app.state.service.auth.require(request, "operate")
        keeper = component.keeper
        if keeper is None:
            raise HTTPException(503, "the exception queue is starting")
        if bool(body.ids) == (body.filter is not None):
            raise HTTPException(422, "ids, filter: name the cases by ids or by a filter, exactly one of them")
        wanted = Action(body.action, body.team, body.assignee, "", body.code, body.note)
        if body.action == "assign" and not (body.team or body.assignee):
            raise HTTPException(422, "team, assignee: assign needs a team, a person or both")
        if body.action == "resolve" and not body.code.strip():
            raise HTTPException(422, "code: resolve needs a resolution code (e.g. fixed_in_erp)")
        now = datetime.now(UTC)
        f = body.filter or BulkFilter()
        _states(f.state, "filter.state")
        ids = list(dict.fromkeys(body.ids))
        page = await asyncio.to_thread(
            component.with_client,
            lambda c: list_cases(
                c,
                now=now,
                states=f.state,
                owner=f.owner,
                cause=f.cause,
                tenant=f.tenant,
                due_before=f.due_before,
                ids=ids,
                limit=BULK_MAX + 1,
            ),  # fmt: skip
        )
        if page.total > BULK_MAX:
            raise HTTPException(422, f"filter: matches {page.total} cases, more than the {BULK_MAX} one bulk action "
                                "may change; narrow it (owner, cause, tenant, state) or act in parts")  # fmt: skip
        found = [c.case_id for c in page.cases]
        unknown = [i for i in ids if i not in set(found)]
        answer: dict[str, Any] = {"action": body.action, "dry_run": body.dry_run, "count": len(found), "ids": found,
                                  "unknown": unknown}  # fmt: skip
        if body.dry_run:
            return answer
        applied: list[str] = []
        refused: list[dict[str, str]] = []
        for cid in found:
            try:
                await asyncio.to_thread(keeper.act, cid, wanted, token.name, now)
                applied.append(cid)
            except KeyError:  # gone since the listing (a rebuilt queue)
                unknown.append(cid)
            except ActionRefused as exc:  # e.g. resolving a closed case: the others still go ahead
                refused.append({"case_id": cid, "error": str(exc)})
        return {**answer, "applied": applied, "refused": refused}

    @router.post("/exceptions/{case_id}/actions", summary="Act on a case: acknowledge, assign, start, wait, "
                 "comment, resolve, reopen, request_replay (scope operate)")  # fmt: skip
    async def action(request: Request, case_id: str, body: ActionBody) -> Any:
        token = request.app.state.service.auth.require(request, "operate")
        keeper = component.keeper
        if keeper is None:
            raise HTTPException(503, "the exception queue is starting")
        if body.action == replay.ACTION:
            return await _request_replay(case_id, token.name)
        wanted = Action(body.action, body.team, body.assignee, body.reason, body.code, body.note)
        try:
            case, entry = await asyncio.to_thread(keeper.act, case_id, wanted, token.name)
        except KeyError as exc:
            raise HTTPException(404, f"no exception case {case_id!r}") from exc
        except ActionRefused as exc:
            raise HTTPException(409, str(exc)) from exc
        now = datetime.now(UTC)
        return {**_view(case, now), "audit": _audit_json(entry)}

    async def _request_replay(case_id: str, actor: str) -> Any:
        """Ask the middleware to replay a dead letter's message; the answer is audited whatever it is. The case
        closes when the replayed message arrives (message.replayed), not here."""
        case = await asyncio.to_thread(component.with_client, lambda c: load_case(c, case_id))
        if case is None:
            raise HTTPException(404, f"no exception case {case_id!r}")
        if case.kind != "dead_letter":
            raise HTTPException(409, f"request_replay: only a dead letter is replayed; case {case_id} is a {case.kind}")
        if case.closed:
            raise HTTPException(409, f"request_replay: case {case_id} is {case.state}; reopen it first")
        settings = component.settings
        asked = await asyncio.to_thread(replay.request_replay, settings, case.business_key, component.transport)
        now = datetime.now(UTC)
        entry = await asyncio.to_thread(component.with_client, lambda c: replay.record(c, case, asked, actor, now))
        body = {**_view(case, now), "audit": _audit_json(entry), "replay": asked.as_json()}
        status = {"accepted": 200, "throttled": 429, "not_configured": 503, "refused": 409}.get(asked.outcome, 502)
        if status == 200:
            return body
        headers = {"Retry-After": asked.retry_after} if asked.retry_after else None
        return JSONResponse({"error": f"request_replay: {asked.message}", **body}, status_code=status, headers=headers)

    return router
