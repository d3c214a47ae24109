"""A fake collector at the HTTP level, answering the documented read API shapes (brief: interfaces the stages
share). `FakeCollector.handle` is a plain httpx Request -> Response function for httpx.MockTransport;
`serve()` puts the same function behind a real loopback HTTP server (the dashboard benchmark uses it).

`sample(consultants, days)` sizes the answers like a firm of that size: one breakdown row per project, a
90-day series at the metrics stage's 30 s snapshot cadence downsampled to 5 minutes, hundreds of records.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import orjson

SLIS: list[tuple[str, str, str, float, str]] = [
    ("time_posting_first_pass", "Time posting, first pass", "ratio", 0.98, ">="),
    ("time_posting_eventual", "Time posting, eventual", "ratio", 0.995, ">="),
    ("invoice_readiness_lag", "Invoice readiness lag p95", "business_days", 3.0, "<="),
    ("resource_plan_freshness", "Resource plan freshness", "ratio", 0.95, ">="),
    ("master_data_consistency", "Master data mismatches", "count", 0.0, "<="),
    ("duplicate_submission_rate", "Duplicate submissions", "ratio", 0.001, "<="),
    ("unbilled_wip_at_risk", "Unbilled WIP at risk", "money", 0.0, "<="),
    ("exception_sla_compliance", "Exception SLA compliance", "ratio", 0.95, ">="),
    ("billing_sync_latency", "Billing sync latency p95", "seconds", 900.0, "<="),
    ("rate_card_exposure", "Rate card exposure", "hours", 0.0, "<="),
    ("dead_letter_backlog", "Dead-letter backlog", "count", 0.0, "<="),
    ("flow_silence", "Silent flows", "count", 0.0, "<="),
    ("time_posting_pickup", "Approved time waiting for the connector", "count", 0.0, "<="),
    ("time_posting_rejections", "Entries the ERP rejects for one reason now", "count", 0.0, "<="),
]
FLOWS = [
    "psa-timesheets",
    "psa-to-erp-time",
    "psa-to-erp-invoices",
    "hcm-workers",
    "hcm-to-psa-workers",
    "crm-deals",
    "crm-to-psa-projects",
    "psa-to-erp-projects",
    "psa-to-erp-assignments",
    "psa-rate-cards",
    "exceptions",
]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _sli(name: str, title: str, unit: str, target: float, comparison: str, value: float, status: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if unit == "money":
        details = {"by_currency": {"EUR": value * 0.6, "USD": value * 0.4}}
    return {
        "name": name,
        "title": title,
        "unit": unit,
        "value": value,
        "good": 980.0,
        "total": 1000.0,
        "objective": {"target": target, "comparison": comparison, "window": "30d"},
        "status": status,
        "error_budget_remaining": 0.42 if status != "breach" else 0.0,
        "burn_rates": {"5m": 16.0, "30m": 7.0, "1h": 15.2, "6h": 5.0, "1d": 1.2, "3d": 0.8},
        "details": details,
    }


@dataclass
class FakeCollector:
    slis: list[dict[str, Any]] = field(default_factory=list)
    series_points: int = 48
    breakdown_rows: int = 12
    records: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    silences: list[dict[str, Any]] = field(default_factory=list)
    journeys: dict[str, dict[str, Any]] = field(default_factory=dict)
    quarantine: dict[str, Any] = field(default_factory=lambda: {"counts_by_reason": {}, "items": []})
    ingest: dict[str, Any] | None = None
    unknown_sources: list[dict[str, Any]] = field(default_factory=list)  # GET /api/v1/coverage/sources
    missing: tuple[str, ...] = ()  # path prefixes answered as an unknown route (stage not deployed)
    status_override: int | None = None  # answer every request with this status (401, 500, ...)
    # secret -> (name, scopes), for GET /api/v1/whoami (the console's token sign-in)
    tokens: dict[str, tuple[str, list[str]]] = field(
        default_factory=lambda: {
            "read-secret": ("dashboard", ["read"]),
            "admin-secret": ("ops-admin", ["admin"]),
            "ingest-secret": ("sender", ["ingest"]),
        }
    )
    requests: list[httpx.Request] = field(default_factory=list)
    writes: list[tuple[str, str, Any]] = field(default_factory=list)
    _memo: dict[str, bytes] = field(default_factory=dict, repr=False)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = unquote(request.url.path)
        if self.status_override:
            return httpx.Response(self.status_override, json={"error": "forced by the test", "status": 0})
        if any(path.startswith(p) for p in self.missing):
            return httpx.Response(404, json={"detail": "Not Found"})
        if request.method != "GET":
            return self._write(request, path)
        q = dict(request.url.params)
        now = datetime.now(UTC)
        if path == "/readyz":
            return _json({"status": "ready", "problems": [], "spooled_batches": 0})
        if path == "/api/v1/whoami":
            secret = request.headers.get("authorization", "").removeprefix("Bearer ")
            if secret not in self.tokens:
                return httpx.Response(401, json={"error": "unknown or revoked token", "status": 401})
            name, scopes = self.tokens[secret]
            if "read" not in scopes and "admin" not in scopes:
                return httpx.Response(403, json={"error": f"token {name!r} lacks the 'read' scope", "status": 403})
            return _json({"name": name, "scopes": scopes})
        if path == "/api/v1/slis":
            return _json(
                {"as_of": _iso(now), "from": _iso(now - timedelta(days=30)), "to": _iso(now), "slis": self.slis}
            )
        if path.startswith("/api/v1/slis/"):
            name, _, tail = path[len("/api/v1/slis/") :].partition("/")
            sli = next((s for s in self.slis if s["name"] == name), None)
            if sli is None:
                return httpx.Response(404, json={"error": f"unknown SLI {name!r}", "status": 404})
            memo = self._memo.get(str(request.url))
            if memo is not None and tail in ("series", "breakdown"):
                return _json_bytes(memo)  # a real metrics API reads stored snapshots; this fake should not be the cost
            if tail == "series":
                start = datetime.fromisoformat(q["from"].replace("Z", "+00:00")) if "from" in q else now
                # the metrics stage snapshots every 30 s; a long window is at most series_points points
                wanted = int(q.get("points", "500"))  # the metrics API thins to `points` (default 500)
                count = max(2, min(self.series_points, wanted, int((now - start).total_seconds() // 30)))
                step = (now - start) / count
                base = float(sli["value"] or 0)
                pts = [
                    {
                        "time": _iso(start + i * step),
                        "value": base * (1 + 0.01 * ((i % 7) - 3)),
                        "error_budget_remaining": max(0.0, 0.9 - i / (count * 2)),
                    }
                    for i in range(count)
                ]
                return self._remember(request, {"name": name, "unit": sli["unit"], "points": pts})
            if tail == "breakdown":
                by = q.get("by", "flow")
                keys = FLOWS if by == "flow" else [f"{by}-{i:05d}" for i in range(self.breakdown_rows)]
                rows = [
                    {"key": k, "value": (i % 10) / 10, "good": 10 - (i % 10), "total": 10}
                    for i, k in enumerate(keys[: self.breakdown_rows])
                ]
                if name == "flow_silence" and by == "flow":  # metrics/slis/flows.py: 1 when silent, age in details
                    rows = [
                        {"key": k, "value": float(i == 1), "good": 0.0, "total": 0.0,
                         "status": "breach" if i == 1 else "ok",
                         "details": {"seconds_since_last": 5 * 3600.0 if i == 1 else 159.0 + i,
                                     "cadence_seconds": 3600.0, "never_seen": False, "silent": i == 1}}
                        for i, k in enumerate(keys[: self.breakdown_rows])
                    ]  # fmt: skip
                return self._remember(request, {"name": name, "by": by, "rows": rows})
            if tail == "records":
                limit = int(q.get("limit", "100"))
                return _json({"name": name, "records": self.records[:limit]})
        if path == "/api/v1/probes":
            return _json({"probes": self.probes})
        if path.startswith("/api/v1/probes/") and path.endswith("/findings"):
            probe = path.split("/")[4]
            return _json({"probe": probe, "run_id": "run-1", "observed_at": _iso(now), "findings": self.findings})
        if path == "/api/v1/alerts":
            return _json({"alerts": self.alerts})
        if path == "/api/v1/alerts/history":
            return _json({"history": self.history})
        if path == "/api/v1/silences":
            return _json({"silences": self.silences})
        if path.startswith("/api/v1/records/"):
            key = path[len("/api/v1/records/") :]
            journey = self.journeys.get(key)
            if journey is None:
                empty = {
                    "events": 0,
                    "spans": 0,
                    "first_seen": None,
                    "last_seen": None,
                    "last_event_type": None,
                    "systems": [],
                    "errors": 0,
                }
                return _json({"key": key, "kind": q.get("kind") or None, "found": False, "summary": empty, "items": []})
            return _json(journey)
        if path == "/api/v1/quarantine":
            return _json(self.quarantine)
        if path == "/api/v1/coverage/sources":
            return _json({"from": _iso(now - timedelta(hours=1)), "to": _iso(now), "sources": self.unknown_sources})
        if path == "/api/v1/ingest/health" and self.ingest is not None:
            return _json(self.ingest)
        return httpx.Response(404, json={"detail": "Not Found"})

    def _remember(self, request: httpx.Request, body: Any) -> httpx.Response:
        encoded = orjson.dumps(body)
        self._memo[str(request.url)] = encoded
        return _json_bytes(encoded)

    def _write(self, request: httpx.Request, path: str) -> httpx.Response:
        body = orjson.loads(request.content) if request.content else None
        self.writes.append((request.method, path, body))
        if request.headers.get("authorization") != "Bearer admin-secret":
            return httpx.Response(403, json={"error": "token lacks the 'admin' scope", "status": 403})
        if request.method == "POST" and path == "/api/v1/silences":
            silence = {
                "id": f"s-{len(self.silences) + 1}",
                "state": "active",
                "starts_at": _iso(datetime.now(UTC)),
                **(body or {}),
            }
            self.silences.append(silence)
            return _json({"id": silence["id"]})
        if request.method == "DELETE" and path.startswith("/api/v1/silences/"):
            sid = path.rsplit("/", 1)[1]
            for s in self.silences:
                if s["id"] == sid:
                    s["state"] = "expired"
                    return _json({"id": sid, "state": "expired"})
            return httpx.Response(404, json={"error": f"no silence {sid}", "status": 404})
        if request.method == "POST" and path.endswith("/ack"):
            return _json({"acknowledged": True})
        return httpx.Response(404, json={"detail": "Not Found"})


def _json_bytes(encoded: bytes) -> httpx.Response:
    return httpx.Response(200, content=encoded, headers={"content-type": "application/json"})


def _json(body: Any) -> httpx.Response:
    return httpx.Response(200, content=orjson.dumps(body), headers={"content-type": "application/json"})


def journey(key: str, failed: bool = True, start: datetime | None = None) -> dict[str, Any]:
    """A time entry approved, post requested, and (optionally) failed on a closed period."""
    t0 = start or datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    steps = [("timesheet.approved", "psa", "erp", {}), ("time_entry.post_requested", "psa", "erp", {})]
    if failed:
        steps.append(
            (
                "time_entry.post_failed",
                "erp",
                "psa",
                {"error_code": "PERIOD_CLOSED", "error_category": "closed_period", "retryable": False},
            )
        )
    items: list[dict[str, Any]] = []
    for i, (kind, src, dst, extra) in enumerate(steps):
        at = t0 + timedelta(minutes=5 * i)
        items.append(
            {
                "at": _iso(at),
                "signal": "span",
                "trace_id": "a" * 32,
                "span_id": f"{i:016x}",
                "parent_span_id": "",
                "name": f"{kind} send",
                "kind": "Producer",
                "service": f"{src}-connector",
                "duration_ms": 120.0 + i,
                "status": "Error" if kind.endswith("failed") else "Ok",
                "status_message": "period closed" if kind.endswith("failed") else "",
                "attributes": {},
            }
        )
        items.append(
            {
                "at": _iso(at + timedelta(milliseconds=150)),
                "signal": "event",
                "type": kind,
                "received_type": kind,
                "known_type": True,
                "source": f"/{src}",
                "id": f"ev-{i}",
                "subject": key,
                "source_system": src,
                "target_system": dst,
                "tenant": "acme-de",
                "correlation_id": "corr-1",
                "causation_id": "",
                "trace_id": "a" * 32,
                "parent_span_id": f"{i:016x}",
                "received_at": _iso(at),
                "data": {
                    "entry_id": key,
                    "project_code": "PRJ-0001",
                    "consultant_id": "C000042",
                    "amount": 1200.0,
                    "currency": "EUR",
                    **extra,
                },
            }
        )
    events = [i for i in items if i["signal"] == "event"]
    return {
        "key": key,
        "kind": None,
        "found": True,
        "summary": {
            "events": len(events),
            "spans": len(items) - len(events),
            "first_seen": items[0]["at"],
            "last_seen": items[-1]["at"],
            "last_event_type": events[-1]["type"],
            "systems": ["erp", "psa"],
            "errors": 1 if failed else 0,
        },
        "items": items,
    }


def project_journey(code: str, entries: int) -> dict[str, Any]:
    """A busy project: the journeys of `entries` time entries (six items each), in time order."""
    items: list[dict[str, Any]] = []
    start = datetime(2026, 9, 1, tzinfo=UTC)
    for n in range(max(1, entries)):
        items += journey(f"TE-{n:09d}", failed=n % 20 == 0, start=start + timedelta(hours=n))["items"]
    whole = journey(code, failed=False)
    whole["items"] = items
    whole["summary"].update(events=len(items) // 2, spans=len(items) // 2, last_seen=items[-1]["at"])
    return whole


def sample(consultants: int = 500, days: int = 90, seed: int = 7) -> FakeCollector:
    """Answers shaped and sized like a firm of `consultants` over `days` (50,000 -> ~50k projects)."""
    rng = random.Random(seed)
    statuses = ["ok", "ok", "warning", "breach", "ok", "no_data"]
    slis = [
        _sli(
            n,
            t,
            u,
            tg,
            c,
            (tg or 1.0) * rng.uniform(0.9, 1.2) * (50_000 if u == "money" else 1),
            statuses[i % len(statuses)],
        )
        for i, (n, t, u, tg, c) in enumerate(SLIS)
    ]
    for sli in slis:  # every SLI says what it could not see; one left records out
        sli["coverage"] = {"considered": 1000.0, "included": 1000.0, "left_out": {}, "complete": True}
    readiness = next(s for s in slis if s["name"] == "invoice_readiness_lag")
    readiness["coverage"] = {
        "considered": 1132.0, "included": 1000.0, "complete": False,
        "left_out": {"unknown_billing_type": {"count": 120, "money": {"EUR": 41200.0}},
                     "no_project_named": {"count": 12, "money": {}}},
        "unknown_projects": [{"project": "PRJ-9<b>", "entries": 120, "money": {"EUR": 41200.0}}],
    }  # fmt: skip
    now = datetime.now(UTC)
    records = [
        {
            "key": f"TE-{i:09d}",
            "kind": "entry",
            "status": rng.choice(["approved", "post_failed"]),
            "age_seconds": rng.uniform(3600, days * 86400),
            "amount": round(rng.uniform(100, 3000), 2),
            "currency": rng.choice(["EUR", "USD", "GBP"]),
            "tenant": rng.choice(["acme-de", "acme-us"]),
            "project_code": f"PRJ-{rng.randint(1, consultants):05d}",
            "detail": {"reason": "not posted"},
        }
        for i in range(500)
    ]
    probes = [
        {
            "name": f"{s}-reconcile",
            "system": s,
            "interval_seconds": 300,
            "stale": s == "hcm",
            "last_run": {
                "run_id": f"r-{s}",
                "started_at": _iso(now - timedelta(minutes=3)),
                "outcome": "mismatch" if s == "erp" else "ok",
                "duration_ms": 850.0,
                "findings": 40 if s == "erp" else 0,
                "api_calls": 12,
                "error": "",
            },
            "budget": {"calls_per_hour": 1000, "used_last_hour": 240, "max_concurrency": 4},
        }
        for s in ("erp", "psa", "crm", "hcm")
    ]
    kinds = ["approved_not_posted", "duplicate_posting", "project_mismatch", "worker_not_synced"]
    findings = [
        {
            "kind": kinds[i % 4],
            "object_type": "time_entry",
            "object_id": f"TE-{i:09d}",
            "tenant_id": "acme-de",
            "project_code": f"PRJ-{i % 97:05d}",
            "consultant_id": f"C{i:06d}",
            "age_seconds": 7200.0 + i,
            "amount": 450.0,
            "currency": "EUR",
            "detail": {"erp": None},
        }
        for i in range(min(2000, consultants // 10))
    ]
    alerts = [
        {
            "fingerprint": "fp-1",
            "rule": "TimePostingBurnFast",
            "state": "firing",
            "severity": "page",
            "team": "integrations",
            "labels": {"sli": "time_posting_first_pass", "flow": "psa-to-erp-time"},
            "annotations": {
                "summary": "Time posting failing fast",
                "description": "burn 15x",
                "runbook_url": "https://runbooks.example/time-posting",
            },
            "active_since": _iso(now - timedelta(minutes=42)),
            "value": 15.2,
            "acknowledged_by": None,
        },
        {
            "fingerprint": "fp-2",
            "rule": "DeadLetterBacklog",
            "state": "pending",
            "severity": "ticket",
            "team": "integrations",
            "labels": {"queue": "erp-time"},
            "annotations": {"summary": "DLQ growing"},
            "active_since": _iso(now - timedelta(minutes=3)),
            "value": 12,
            "acknowledged_by": None,
        },
    ]
    history = [
        {"time": _iso(now - timedelta(minutes=i)), "fingerprint": f"fp-{i % 2 + 1}", "rule": alerts[i % 2]["rule"],
         "from_state": ("pending", "firing")[i % 2], "to_state": ("firing", "resolved")[i % 2],
         "severity": alerts[i % 2]["severity"], "labels": alerts[i % 2]["labels"],
         "summary": alerts[i % 2]["annotations"]["summary"], "value": 1.0}
        for i in range(40)
    ]  # fmt: skip
    silences = [
        {
            "id": "s-0",
            "state": "active",
            "matchers": [{"name": "flow", "value": "crm-deals", "is_regex": False}],
            "starts_at": _iso(now - timedelta(hours=1)),
            "ends_at": _iso(now + timedelta(hours=1)),
            "created_by": "ops",
            "comment": "CRM maintenance",
        }
    ]
    reasons = {"missing_field": 7, "unknown_source": 2}
    quarantine = {
        "counts_by_reason": reasons,
        "items": [
            {
                "received_at": _iso(now - timedelta(minutes=i)),
                "signal": "event",
                "token": "psa",
                "reason": "missing_field",
                "field": "data.entry_id",
                "detail": "required",
                "source": "/psa",
                "id": f"bad-{i}",
                "payload": '{"id": "bad"}',
                "payload_truncated": False,
            }
            for i in range(9)
        ],
    }
    minutes = [now.replace(second=0, microsecond=0) - timedelta(minutes=60 - i) for i in range(60)]
    ingest = {
        "as_of": _iso(now),
        "window_minutes": 60,
        "since_start": {
            "received": {"event": 120000.0, "span": 118000.0},
            "accepted": {"event": 119991.0, "span": 118000.0},
            "deduplicated": {"event": 35.0},
            "rejected": {"event": {"missing_field": 9.0}},
            "throttled": {},
            "insert_failures": {},
            "near_miss_spans": {"psa-erp-connector": {"entry_id": 42.0}, "erp-invoicing": {"invoiceId": 3.0}},
        },
        "near_miss_attributes": {"entry_id": "business.entry_id", "invoiceId": "business.invoice_id"},
        "queue_rows": {"events": 120.0, "otel_traces": 80.0, "quarantine": 0.0},
        "queue_max_rows": 200000,
        "spooled_batches": 0,
        "warehouse_up": True,
        "warehouse_error": None,
        "insert_latency_seconds": {"events": {"p50": 0.04, "p95": 0.2, "inserts": 300.0}},
        "events_per_minute": [
            {"minute": _iso(m), "events": 2000 + i, "lag_p50": 1.5, "lag_p95": 4.0} for i, m in enumerate(minutes)
        ],
        "rejections_per_minute": [
            {"minute": _iso(minutes[-1]), "signal": "event", "reason": "missing_field", "count": 9}
        ],
    }
    projects = max(12, consultants)  # 50,000 consultants -> tens of thousands of active projects
    return FakeCollector(
        slis=slis,
        series_points=min(days * 288, 25_920),
        breakdown_rows=projects,
        records=records,
        probes=probes,
        findings=findings,
        alerts=alerts,
        history=history,
        silences=silences,
        journeys={
            "TE-000000001": journey("TE-000000001"),
            "PRJ-00001": project_journey("PRJ-00001", consultants // 50),
        },
        quarantine=quarantine,
        ingest=ingest,
    )


@contextmanager
def serve(fake: FakeCollector, port: int = 0) -> Iterator[str]:
    """The fake behind a real HTTP server on loopback; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn answers

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = httpx.Request(
                self.command,
                f"http://fake{parts.path}",
                params=parse_qsl(parts.query),
                headers=dict(self.headers),
                content=body,
            )
            response = fake.handle(request)
            payload = response.read()
            self.send_response(response.status_code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _any  # noqa: N815

        def log_message(self, *args: Any) -> None:
            return None

    class Server(ThreadingHTTPServer):
        # socketserver's default backlog of 5 drops a page's parallel connects, and the client's TCP retry
        # costs a whole second: the fake must not be what a benchmark measures
        request_queue_size = 128
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
