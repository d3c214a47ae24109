"""Middleware dead-letter queues: GET /api/v1/queues (depth and oldest age per queue) and
GET /api/v1/dead-letters?queue=&status=pending|replayed|all&page=&page_size= (at most 500), with X-API-Key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

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

    return api
