"""Admin API (scope admin): tokens. The CLI uses it while a running collector holds the embedded warehouse."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from collector.service import Service
from syncwatch.tokens import create_token, list_tokens, revoke_token

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class TokenRequest(BaseModel):
    name: str = Field(description="unique name; shows in logs, metrics and the quarantine")
    scopes: list[str] = Field(description="any of ingest, read, operate, admin")


def _admin(request: Request) -> Service:
    service: Service = request.app.state.service
    service.auth.require(request, "admin")
    assert service.reader is not None
    return service


@router.post("/tokens", status_code=201, summary="Create a token; the secret is in this answer only")
async def create(request: Request, body: TokenRequest) -> dict[str, Any]:
    service = _admin(request)
    try:
        record, secret = await asyncio.to_thread(create_token, service.reader, body.name, body.scopes)  # type: ignore[arg-type]
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    service.tokens.put(record)
    return {**record.public(), "token": secret}


@router.get("/tokens", summary="Tokens without their secrets")
async def index(request: Request) -> list[dict[str, Any]]:
    service = _admin(request)
    return [t.public() for t in await asyncio.to_thread(list_tokens, service.reader)]  # type: ignore[arg-type]


@router.delete("/tokens/{name}", summary="Revoke a token; it stops working at once")
async def revoke(request: Request, name: str) -> dict[str, Any]:
    service = _admin(request)
    try:
        record = await asyncio.to_thread(revoke_token, service.reader, name)  # type: ignore[arg-type]
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc
    service.tokens.put(record)
    return record.public()
