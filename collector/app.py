"""create_app(settings): the collector's FastAPI application. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from cases import CasesComponent
from collector import admin, ingest, read, read_ingest
from collector.service import Service
from reports.component import ReportsComponent
from syncwatch import __version__
from syncwatch.roles import Role, components, runs_ingest
from syncwatch.settings import Settings
from syncwatch.warehouse import pending_migrations

__all__ = ["create_app"]

log = logging.getLogger("syncwatch.collector")


class Problem(BaseModel):
    field: str = Field(description="where: query.<name>, path.<name>, body.<field>")
    detail: str


class InvalidRequest(BaseModel):
    """The 422 body of every route (FastAPI's own HTTPValidationError shape is not what the collector sends)."""

    error: str
    problems: list[Problem] = Field(default_factory=list)
    status: int


_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": InvalidRequest, "description": "a parameter or the body is invalid; problems name it"}
}


def create_app(settings: Settings, registry: CollectorRegistry | None = None, role: Role = "all") -> FastAPI:
    """The collector for `role` (syncwatch/roles.py): all-in-one, ingest and the read API only, or the worker."""
    service = Service(settings, registry, role)
    service.components = components(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="SyncWatch collector",
        version=__version__,
        summary="Ingests OTLP traces and CloudEvents business audit events; answers where a record went.",
        lifespan=lifespan,
        responses=_INVALID,
    )
    app.state.service = service
    if runs_ingest(role):
        app.include_router(ingest.router)
        app.include_router(read.router)
        app.include_router(read_ingest.router)
        app.include_router(admin.router)
    for component in service.components:
        app.include_router(component.router)
    # the weekly report: read from the metrics stage, made, archived and delivered on a schedule (reports/)
    app.include_router(ReportsComponent(settings).router)
    app.include_router(CasesComponent(settings).router)  # the exception queue; its job starts with the app (cases/)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        endpoint = _endpoint(request)
        service.metrics.responses.labels(endpoint, str(exc.status_code)).inc()
        if exc.status_code == 429:
            service.metrics.throttled.labels("rate_limit").inc()
        return Response(
            orjson.dumps({"error": exc.detail, "status": exc.status_code}),
            status_code=exc.status_code,
            media_type="application/json",
            headers=exc.headers,
        )

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # Normal on the internet (a cancelled upload, a read deadline in collector/server.py): one line, no trace.
        peer = request.client.host if request.client else "?"
        log.info("client %s went away during %s %s", peer, request.method, _endpoint(request))
        return Response(status_code=499)  # nobody reads it; recorded as nginx records a client that left

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "detail": e["msg"]} for e in exc.errors()]
        # the parameter's name and the reason in `error` too: clients (the console, the CLI) show only that field
        named = "; ".join(f"{p['field'].split('.', 1)[-1]}: {p['detail']}" for p in problems[:3])
        return Response(
            orjson.dumps({"error": f"invalid request: {named}", "problems": problems, "status": 422}),
            status_code=422,
            media_type="application/json",
        )

    @app.middleware("http")
    async def count_responses(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if response.status_code < 400:
            service.metrics.responses.labels(_endpoint(request), str(response.status_code)).inc()
        return response

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Warehouse reachable and migrations applied")
    async def readyz() -> Response:
        problems = []
        if service.reader is None or not service.migrations_applied:
            problems.append("starting")
        else:
            try:
                pending = await asyncio.to_thread(pending_migrations, service.reader)
                if pending:
                    problems.append(f"{len(pending)} migration(s) pending")
            except Exception as exc:
                problems.append(f"warehouse unreachable: {str(exc).splitlines()[0][:200]}")
        spooled = len(service.spool.pending())
        waited = service.spool.oldest_age_seconds()
        if waited > settings.spool_max_age_seconds:
            problems.append(f"spool backlog: {spooled} batch(es) waiting, the oldest for {waited:.0f} s")
        body = {"status": "ready" if not problems else "not ready", "problems": problems, "spooled_batches": spooled}
        return Response(orjson.dumps(body), status_code=200 if not problems else 503, media_type="application/json")

    @app.get("/metrics", tags=["operations"], summary="Prometheus exposition of the collector's own metrics")
    async def metrics(request: Request) -> Response:
        if not settings.metrics_public:
            service.auth.require(request, "read")
        return Response(generate_latest(service.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _endpoint(request: Request) -> str:
    """A bounded label: the route template, never the concrete path with record ids in it."""
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")
