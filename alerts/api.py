"""The alerts read and admin API (contract in the shared interface: /api/v1/alerts, /silences, acks)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from alerts.matchers import Matcher
from syncwatch import params

if TYPE_CHECKING:
    from alerts.component import AlertsComponent
    from alerts.store import Silence

__all__ = ["build_router"]


class MatcherIn(BaseModel):
    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    value: str
    is_regex: bool = False
    is_equal: bool = True


class SilenceIn(BaseModel):
    matchers: list[MatcherIn] = Field(min_length=1)
    starts_at: datetime | None = None
    ends_at: datetime
    created_by: str = Field(min_length=1)
    comment: str = Field(min_length=1)


class AckIn(BaseModel):
    comment: str = ""


def _require(request: Request, scope: str) -> str:
    token = request.app.state.service.auth.require(request, scope)
    return str(getattr(token, "name", token))


def build_router(component: AlertsComponent) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["alerts"])

    def engine() -> Any:
        if component.engine is None:
            raise HTTPException(503, "alerting is starting")
        return component.engine

    @router.get("/alerts", summary="Active alerts: pending, firing, and resolved in the last 15 minutes")
    async def list_alerts(
        request: Request, state: Annotated[str | None, Query(pattern="^(pending|firing|resolved)$")] = None
    ) -> dict[str, Any]:
        _require(request, "read")
        return {"alerts": engine().public_alerts(state)}

    @router.get("/alerts/history", summary="State transitions, newest first")
    async def history(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=10000)] = 100,
        fingerprint: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        _require(request, "read")
        rows = await asyncio.to_thread(component.with_store, lambda s: s.history(limit, fingerprint))
        return {"history": rows}

    @router.get("/alerts/receivers", summary="Each integration's delivery health (a failing notifier shows here)")
    async def receivers(request: Request) -> dict[str, Any]:
        _require(request, "read")
        e = engine()
        return {
            "receivers": [h.public() for h in e.dispatcher.health.values()],
            "evaluation": {
                "interval_seconds": component.settings.alerts_evaluation_interval_seconds,
                "evaluations": e.stats.evaluations,
                "failures": e.stats.failures,
                "last_at": e.stats.last_at.isoformat().replace("+00:00", "Z") if e.stats.last_at else None,
                "last_error": e.stats.last_error,
            },
        }

    @router.get("/alerts/notifications", summary="The delivery log, newest first")
    async def notifications(request: Request, limit: Annotated[int, Query(ge=1, le=10000)] = 100) -> dict[str, Any]:
        _require(request, "read")
        return {"notifications": await asyncio.to_thread(component.with_store, lambda s: s.notifications(limit))}

    @router.get("/alerts/rules", summary="The loaded rules")
    async def rules(request: Request) -> dict[str, Any]:
        _require(request, "read")
        return {
            "source": component.config.source if component.config else None,
            "rules": [r.model_dump(by_alias=True) for r in (component.config.rules if component.config else ())],
        }

    @router.post("/alerts/{fingerprint}/ack", summary="Acknowledge: stops repeats, PagerDuty acknowledges")
    async def ack(request: Request, fingerprint: str, body: AckIn | None = None) -> dict[str, Any]:
        who = _require(request, "admin")
        done = await asyncio.to_thread(engine().acknowledge, fingerprint, who, body.comment if body else "")
        if done is None:
            raise HTTPException(404, f"no pending or firing alert with fingerprint {fingerprint!r}")
        return {"fingerprint": fingerprint, "acknowledged_by": who, "time": done.time.isoformat()}

    @router.get("/silences", summary="Silences, active and recently expired")
    async def silences(request: Request) -> dict[str, Any]:
        _require(request, "read")
        now = datetime.now(UTC)
        found = await asyncio.to_thread(component.with_store, lambda s: s.silences())
        return {"silences": [s.public(now) for s in found]}

    @router.post("/silences", status_code=201, summary="Create a silence (matchers, until ends_at)")
    async def create_silence(request: Request, body: SilenceIn) -> dict[str, Any]:
        _require(request, "admin")
        now = datetime.now(UTC)
        starts = params.bounded(body.starts_at, "starts_at") if body.starts_at else now
        ends = params.bounded(body.ends_at, "ends_at")  # the store's DateTime64 range: 422, not an overflow
        if ends <= starts or ends <= now:
            raise HTTPException(422, "ends_at must be in the future and after starts_at")
        try:
            matchers = [Matcher.make(m.name, m.value, m.is_regex, m.is_equal) for m in body.matchers]
        except Exception as exc:
            raise HTTPException(422, f"bad matcher: {exc}") from exc
        silence: Silence = await asyncio.to_thread(
            component.with_store, lambda s: s.create_silence(matchers, starts, ends, body.created_by, body.comment)
        )
        if component.engine is not None:
            component.engine.add_silence(silence)
        return silence.public(now)

    @router.delete("/silences/{silence_id}", summary="Expire a silence now")
    async def expire_silence(request: Request, silence_id: str) -> dict[str, Any]:
        _require(request, "admin")
        silence: Silence | None = await asyncio.to_thread(component.with_store, lambda s: s.expire_silence(silence_id))
        if silence is None:
            raise HTTPException(404, f"no silence {silence_id!r}")
        if component.engine is not None:
            component.engine.add_silence(silence)
        return silence.public(datetime.now(UTC))

    return router
