"""Helpers shared by the alerts tests: signal rows written into real chDB tables, receivers on loopback."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from clickhouse_connect.driver.client import Client

# The shared interface's columns (metrics stage 0002, probes stage 0003); IF NOT EXISTS keeps theirs when present.
SIGNAL_TABLES = [
    """CREATE TABLE IF NOT EXISTS sli_snapshots (time DateTime64(3,'UTC'), sli LowCardinality(String),
    dimension LowCardinality(String), key String, value Nullable(Float64), good Float64, total Float64,
    objective Nullable(Float64), status LowCardinality(String), budget_remaining Nullable(Float64),
    burn_5m Nullable(Float64), burn_30m Nullable(Float64), burn_1h Nullable(Float64), burn_6h Nullable(Float64),
    burn_1d Nullable(Float64), burn_3d Nullable(Float64), details String) ENGINE = MergeTree ORDER BY (sli, time)""",
    """CREATE TABLE IF NOT EXISTS probe_runs (run_id String, started_at DateTime64(3,'UTC'),
    probe LowCardinality(String), system LowCardinality(String), outcome LowCardinality(String), duration_ms Float64,
    findings UInt32, api_calls UInt32, error String) ENGINE = MergeTree ORDER BY (probe, started_at)""",
    """CREATE TABLE IF NOT EXISTS probe_findings (run_id String, observed_at DateTime64(3,'UTC'),
    probe LowCardinality(String), kind LowCardinality(String), system LowCardinality(String),
    tenant_id LowCardinality(String), object_type LowCardinality(String), object_id String, project_code String,
    consultant_id String, age_seconds Float64, amount Nullable(Decimal(18,4)), currency LowCardinality(String),
    detail String) ENGINE = MergeTree ORDER BY (probe, observed_at)""",
]
BURNS = ("5m", "30m", "1h", "6h", "1d", "3d")


def ensure_signal_tables(client: Client) -> None:
    for sql in SIGNAL_TABLES:
        client.command(sql)


def sli_row(
    time: datetime,
    sli: str,
    value: float | None,
    *,
    dimension: str = "",
    key: str = "",
    good: float = 0.0,
    total: float = 0.0,
    objective: float | None = None,
    status: str = "ok",
    budget: float | None = None,
    burns: dict[str, float] | None = None,
    details: dict[str, Any] | None = None,
) -> list[Any]:
    b = burns or {}
    return [time, sli, dimension, key, value, good, total, objective, status, budget,
            *(b.get(w) for w in BURNS), json.dumps(details or {})]  # fmt: skip


SLI_COLUMNS = ["time", "sli", "dimension", "key", "value", "good", "total", "objective", "status", "budget_remaining",
               "burn_5m", "burn_30m", "burn_1h", "burn_6h", "burn_1d", "burn_3d", "details"]  # fmt: skip


def insert_slis(client: Client, rows: list[list[Any]]) -> None:
    if rows:
        client.insert("sli_snapshots", rows, column_names=SLI_COLUMNS)


def insert_probe_run(
    client: Client,
    time: datetime,
    probe: str,
    system: str,
    outcome: str = "ok",
    findings: list[dict[str, Any]] | None = None,
    error: str = "",
) -> str:
    run_id = uuid.uuid4().hex
    found = findings or []
    client.insert(
        "probe_runs",
        [[run_id, time, probe, system, outcome, 120.0, len(found), 3, error]],
        column_names=[
            "run_id",
            "started_at",
            "probe",
            "system",
            "outcome",
            "duration_ms",
            "findings",
            "api_calls",
            "error",
        ],  # fmt: skip
    )
    if found:
        rows = [
            [run_id, time, probe, f["kind"], system, f.get("tenant_id", "acme-us"), f.get("object_type", "time_entry"),
             f["object_id"], f.get("project_code", ""), f.get("consultant_id", ""), float(f.get("age_seconds", 0)),
             Decimal(str(f["amount"])) if f.get("amount") is not None else None, f.get("currency", "USD"), "{}"]
            for f in found
        ]  # fmt: skip
        client.insert(
            "probe_findings",
            rows,
            column_names=[
                "run_id",
                "observed_at",
                "probe",
                "kind",
                "system",
                "tenant_id",
                "object_type",
                "object_id",
                "project_code",
                "consultant_id",
                "age_seconds",
                "amount",
                "currency",
                "detail",
            ],  # fmt: skip
        )
    return run_id


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    """A real HTTP server on loopback recording every POST; `status` answers (a list is consumed in order)."""

    status: list[int] = field(default_factory=lambda: [200])
    reply: bytes = b"ok"
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                code = outer.status.pop(0) if len(outer.status) > 1 else outer.status[0]
                if code < 300:
                    outer.received.append(Received(self.path, dict(self.headers), json.loads(raw or b"null")))
                self.send_response(code)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(outer.reply if code < 300 else b"failure")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HttpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
