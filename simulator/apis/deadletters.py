"""Middleware dead-letter queues: GET /api/v1/queues (depth and oldest age per queue),
GET /api/v1/dead-letters?queue=&status=pending|replayed|all&page=&page_size= (at most 500), and
POST /api/v1/dead-letters/{message_id}/replay (a person's replay, on its own slower rate limit), with X-API-Key.

A replay asked for emits `message.replayed` at once (the stopped replay job of `dead_letter_buildup` does not hold
it back: a person replaying is the fix) and runs what the replay lets happen next, as the replay job would have."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from simulator.apis.context import ApiContext
from simulator.calendar import iso_time

__all__ = ["MAX_PAGE_SIZE", "router"]

MAX_PAGE_SIZE = 500


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()

    def guard(request: Request) -> None:
        ctx.tokens.require_api_key(request)
        ctx.limits.dlq.take()

    @api.get("/api/v1/queues")
    async def queues(request: Request) -> dict[str, Any]:
        guard(request)
        with ctx.sim.lock:
            now = ctx.sim.now
            depth: dict[str, dict[str, Any]] = {}
            for m in ctx.sim.firm.dead_letters.values():
                q = depth.setdefault(m.queue, {"name": m.queue, "depth": 0, "oldest_enqueued_at": None})
                if m.replayed_at is None or m.replayed_at > now:
                    q["depth"] += 1
                    if q["oldest_enqueued_at"] is None or m.created_at < q["_oldest"]:
                        q["_oldest"] = m.created_at
                        q["oldest_enqueued_at"] = iso_time(m.created_at)
        return {"queues": [{k: v for k, v in q.items() if not k.startswith("_")} for q in depth.values()]}

    @api.get("/api/v1/dead-letters")
    async def dead_letters(
        request: Request,
        queue: str | None = None,
        status: str = "pending",
        page: int = 1,
        page_size: int = 100,
    ) -> dict[str, Any]:
        guard(request)
        if not 1 <= page_size <= MAX_PAGE_SIZE or page < 1:
            raise HTTPException(400, {"error": f"page_size must be 1..{MAX_PAGE_SIZE}"})
        if status not in ("pending", "replayed", "all"):
            raise HTTPException(400, {"error": "status must be pending, replayed or all"})
        await ctx.service_time()
        with ctx.sim.lock:
            now = ctx.sim.now
            rows = []
            for m in ctx.sim.firm.dead_letters.values():
                replayed = m.replayed_at is not None and m.replayed_at <= now
                if (
                    (queue and m.queue != queue)
                    or (status == "pending" and replayed)
                    or (status == "replayed" and not replayed)
                ):
                    continue
                rows.append(
                    {
                        "message_id": m.message_id,
                        "queue": m.queue,
                        "original_event_id": m.original_event_id,
                        "reason": m.reason,
                        "attempt_count": m.attempt_count,
                        "object_id": m.object_id,
                        "tenant": m.tenant,
                        "enqueued_at": iso_time(m.created_at),
                        "replayed_at": iso_time(m.replayed_at) if replayed else None,
                        "new_message_id": m.new_message_id if replayed else None,
                    }
                )
        chunk = rows[(page - 1) * page_size : page * page_size]
        return {"total": len(rows), "page": page, "page_size": page_size, "items": chunk}

    @api.post("/api/v1/dead-letters/{message_id}/replay")
    async def replay(request: Request, message_id: str) -> JSONResponse:
        ctx.tokens.require_api_key(request)
        ctx.limits.replay.take()
        await ctx.service_time()
        with ctx.sim.lock:
            sim = ctx.sim
            m = sim.firm.dead_letters.get(message_id)
            if m is None or m.created_at > sim.now:
                raise HTTPException(404, {"error": f"no dead letter {message_id!r}"})
            if m.replayed_at is not None and m.replayed_at <= sim.now:
                raise HTTPException(409, {"error": "already replayed", "message_id": message_id,
                                          "replayed_at": iso_time(sim.stamp(m.replayed_at)),
                                          "new_message_id": m.new_message_id})  # fmt: skip
            if not sim.replay_on_request(message_id):
                raise HTTPException(409, {"error": "this dead letter has no replay pending", "message_id": message_id})
            body = {
                "message_id": message_id,
                "status": "replayed",
                "queue": m.queue,
                "replayed_at": iso_time(sim.stamp(m.replayed_at or sim.now)),
                "new_message_id": m.new_message_id,
            }
            sim.sink.flush()  # the message.replayed event leaves now, not with the next batch (under the lock, as
            # the live runner flushes: the sink's buffer is not shared between threads otherwise)
        return JSONResponse(body, status_code=202)

    return api
