"""Shared fixtures. chDB hosts one engine per process, so every in-process test shares one warehouse path and is
isolated by its own database name (conventions.md)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from clickhouse_connect.driver.client import Client

from collector.app import create_app
from syncwatch.settings import Settings
from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect

_WAREHOUSE = Path(os.environ.get("SYNCWATCH_TEST_WAREHOUSE", f"/tmp/syncwatch-test-{os.getpid()}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any, port: int = 0) -> Iterator[str]:
    """Any ASGI app (a simulated system's API, a test receiver) behind a real uvicorn on loopback, in a thread;
    on `port` when given (a system that comes up where a client already looks for it)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port or free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def http_server_running(server: ThreadingHTTPServer) -> Iterator[None]:
    """A stdlib HTTP server (a test's receiver or stand-in provider) serving in a thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "clickhouse_url": f"chdb://{_WAREHOUSE}",
        "database": f"t_{uuid.uuid4().hex[:12]}",
        "var_dir": tmp_path / "var",
        "port": free_port(),
        "batch_max_delay_ms": 20,
        "rate_limit_per_second": 10_000,
        "rate_limit_burst": 10_000,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Client]:
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


class Tokens(dict[str, str]):
    """scope name -> secret: 'ingest', 'read', 'admin', plus 'revoked'."""


@pytest.fixture
def tokens(warehouse: Client) -> Tokens:
    from syncwatch.tokens import revoke_token

    found = Tokens()
    for scope in ("ingest", "read", "admin"):
        found[scope] = create_token(warehouse, f"test-{scope}", [scope])[1]
    found["revoked"] = create_token(warehouse, "test-revoked", ["ingest", "read"])[1]
    revoke_token(warehouse, "test-revoked")
    return found


class ThreadedCollector:
    """The real app behind a real uvicorn on loopback, in this process (so it shares the chDB engine)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{settings.port}"

    def __enter__(self) -> ThreadedCollector:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("collector did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def service(self) -> Any:
        return self.app.state.service


@pytest.fixture
def collector(settings: Settings, tokens: Tokens) -> Iterator[ThreadedCollector]:
    with ThreadedCollector(settings) as running:
        yield running


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client
