"""What the scale-out tests send and read: a warehouse's settings and tokens, OTLP spans, counts by id."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from clickhouse_connect.driver.client import Client

from syncwatch.settings import Settings
from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import Tokens, auth, make_settings


def server_settings(tmp_path: Path, url: str, database: str | None = None, **overrides: Any) -> Settings:
    """A collector's settings on the server warehouse at `url`, its own var dir (spool) under tmp_path."""
    return make_settings(
        tmp_path / uuid.uuid4().hex[:8],
        clickhouse_url=url,
        database=database or f"t_{uuid.uuid4().hex[:12]}",
        **overrides,
    )


def migrated(settings: Settings) -> tuple[Client, Tokens]:
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    tokens = Tokens()
    for scope in ("ingest", "read", "admin"):
        tokens[scope] = create_token(client, f"test-{scope}", [scope])[1]
    return client, tokens


def spans(trace: str, entry: str, when: datetime, count: int = 2) -> dict[str, Any]:
    """OTLP/JSON: `count` spans of one trace about one time entry (business.entry_id)."""
    start = int(when.timestamp() * 1e9)
    items = [
        {
            "traceId": trace,
            "spanId": f"{i + 1:016x}",
            "name": "post time entry",
            "kind": 3,
            "startTimeUnixNano": str(start + i * 1_000_000),
            "endTimeUnixNano": str(start + i * 1_000_000 + 500_000),
            "attributes": [{"key": "business.entry_id", "value": {"stringValue": entry}}],
        }
        for i in range(count)
    ]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "middleware"}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": items}]}]}


def post_events(url: str, token: str, events: list[dict[str, Any]]) -> httpx.Response:
    headers = {**auth(token), "Content-Type": "application/cloudevents-batch+json"}
    return httpx.post(f"{url}/v1/events", json=events, headers=headers, timeout=60)


def post_spans(url: str, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/v1/traces", json=body, headers=auth(token), timeout=60)


def ids_stored(client: Client) -> dict[str, int]:
    """Event id -> how many rows a reader sees for it (FINAL, as the read API reads)."""
    rows = client.query("SELECT id, count() FROM events FINAL GROUP BY id").result_rows
    return {str(i): int(n) for i, n in rows}


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
