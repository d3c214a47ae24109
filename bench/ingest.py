"""Ingest benchmark: CloudEvents batches and OTLP protobuf spans over HTTP into embedded chDB.

Starts `syncwatch serve` in its own process on a fresh warehouse, sends pre-built bodies from several concurrent
clients, then compares with ClickHouse's own JSONEachRow insert of the same rows in the same run.

    make bench                     # or: .venv/bin/python bench/ingest.py --events 300000 --spans 150000
    .venv/bin/python bench/ingest.py --parse-only   # the workers' parse cost in this process, µs per item
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
console = Console()


def event_batches(total: int, size: int, seed: int = 7) -> list[bytes]:
    """Realistic posting events: one per approved time line, spread over the last 30 days."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    batches = []
    for b in range(0, total, size):
        batch = []
        for i in range(b, min(b + size, total)):
            when = now - timedelta(seconds=rng.randrange(30 * 86400))
            batch.append(
                {
                    "specversion": "1.0",
                    "id": f"evt-{i}",
                    "source": f"/psa/kantata/entity-{i % 4}",
                    "type": "com.kantata.psa.time_entry.posted.v1",
                    "subject": f"E-{i}",
                    "time": when.isoformat().replace("+00:00", "Z"),
                    "correlationid": f"corr-{i // 8}",
                    "traceparent": f"00-{i:032x}-{i + 1:016x}-01",
                    "tenantid": f"entity-{i % 4}",
                    "sourcesystem": "psa",
                    "targetsystem": "erp",
                    "data": {
                        "entry_id": f"E-{i}",
                        "consultant_id": f"C-{i % 5000}",
                        "project_code": f"P-{i % 3000}",
                        "work_date": when.date().isoformat(),
                        "hours": rng.choice([4, 6, 7.5, 8]),
                        "amount": round(rng.uniform(400, 2000), 2),
                        "currency": rng.choice(["USD", "EUR", "GBP"]),
                        "attempt": 1,
                        "idempotency_key": f"idem-{i}",
                        "erp_document_id": f"JE-{i}",
                    },
                }
            )
        batches.append(orjson.dumps(batch))
    return batches


def span_requests(total: int, size: int) -> list[bytes]:
    """OTLP protobuf requests as the SDK exporter builds them: one resource, one scope, `size` spans."""
    now = time.time_ns()
    requests = []
    for b in range(0, total, size):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", "psa-erp-connector"
        ss = rs.scope_spans.add()
        ss.scope.name = "syncwatch.bench"
        for i in range(b, min(b + size, total)):
            span = ss.spans.add()
            span.trace_id = (i + 1).to_bytes(16, "big")
            span.span_id = (i + 1).to_bytes(8, "big")
            span.name = "post time entry"
            span.kind = 3
            span.start_time_unix_nano = now - 60_000_000_000 + i
            span.end_time_unix_nano = now - 60_000_000_000 + i + 25_000_000
            for key, value in (
                ("business.entry_id", f"E-{i}"),
                ("http.request.method", "POST"),
                ("http.response.status_code", "200"),
            ):
                attr = span.attributes.add()
                attr.key, attr.value.string_value = key, value
        requests.append(request.SerializeToString())
    return requests


async def send(
    url: str, token: str, bodies: list[bytes], content_type: str, clients: int, label: str
) -> tuple[float, int]:
    """Send every body (retrying 429/503 after Retry-After); return elapsed seconds and acknowledged requests."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    acked = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(label, total=len(bodies))

        async def worker() -> None:
            nonlocal acked
            async with httpx.AsyncClient(timeout=120) as http:
                while not queue.empty():
                    body = queue.get_nowait()
                    while True:
                        answer = await http.post(
                            url,
                            content=body,
                            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                        )
                        if answer.status_code in (429, 503):
                            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                            continue
                        answer.raise_for_status()
                        acked += 1
                        progress.advance(task)
                        break

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - started, acked


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def query_in_fresh_process(workdir: Path, env: dict[str, str], code: str) -> object:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# The engine's own rate, twice: into a bare copy of each table (the raw limit), and into the product's whole
# schema in a fresh database, where the same materialized views fire (business state, record index) as on ingest.
ENGINE_CODE = """
import json, time
from syncwatch.settings import Settings
from syncwatch.warehouse import apply_migrations, connect
settings = Settings()
c = connect(settings)
full = connect(settings, database="bench_engine_schema")
apply_migrations(full, settings.retention_days)
stored = {t: c.query(f"SELECT count(), uniqExact({k}) FROM {t}").result_rows[0] for t, k in
          (("events", "source, id"), ("otel_traces", "TraceId, SpanId"))}
out = {"stored": stored}
for table in ("events", "otel_traces"):
    blob = c.raw_query(f"SELECT * FROM {table} FORMAT JSONEachRow")
    c.command(f"CREATE TABLE engine_copy_{table} AS {table}")
    started = time.perf_counter()
    c.raw_insert(f"engine_copy_{table}", insert_block=blob, fmt="JSONEachRow")
    out[table] = time.perf_counter() - started
    started = time.perf_counter()
    full.raw_insert(table, insert_block=blob, fmt="JSONEachRow")
    out[table + "_schema"] = time.perf_counter() - started
print(json.dumps(out))
"""


def parse_cost(events: list[bytes], spans: list[bytes], rounds: int = 7) -> dict[str, float]:
    """Best of `rounds`, CPU µs per item, of parse_events / parse_spans on these bodies, as a parse worker runs
    them: the Python share of ingest, without HTTP, the engine or the load generator. CPU time, not wall time,
    because the host is shared: another process taking the core would otherwise count as parse time."""
    from collector.events import EventRules
    from collector.parsing import parse_events, parse_spans
    from syncwatch.settings import Settings

    settings = Settings()
    rules = EventRules(
        settings.type_aliases, settings.max_future_skew_seconds, settings.accepted_age_days, settings.max_json_depth
    )
    now_ns = time.time_ns()
    window = (now_ns - settings.accepted_age_days * 86_400 * 10**9, now_ns + settings.max_future_skew_seconds * 10**9)
    events_n = sum(len(orjson.loads(body)) for body in events)
    best_events = best_spans = float("inf")
    spans_n = 0
    for _ in range(rounds):
        started = time.process_time()
        for body in events:
            parsed = parse_events(body, True, None, rules, now_ns // 1000, "bench")
            assert not parsed.rejected and parsed.body_error is None, parsed.rejected[:1] or parsed.body_error
        best_events = min(best_events, time.process_time() - started)
        started = time.process_time()
        spans_n = sum(len(parse_spans(body, False, window).rows) for body in spans)
        best_spans = min(best_spans, time.process_time() - started)
    return {
        "parse_us_per_event": round(best_events / max(events_n, 1) * 1e6, 2),
        "parse_us_per_span": round(best_spans / max(spans_n, 1) * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--spans", type=int, default=150_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results/ingest.jsonl")
    parser.add_argument(
        "--parse-only",
        action="store_true",
        help="time parse_events/parse_spans in this process on --events/--spans items (e.g. 20000) and stop",
    )
    args = parser.parse_args()

    console.print(f"building {args.events:,} events and {args.spans:,} spans in batches of {args.batch:,} ...")
    events = event_batches(args.events, args.batch)
    spans = span_requests(args.spans, args.batch)
    if args.parse_only:
        console.print(parse_cost(events, spans))
        return

    workdir = Path(tempfile.mkdtemp(prefix="syncwatch-bench-"))
    port = 20000 + os.getpid() % 20000
    env = {
        **os.environ,
        "SYNCWATCH_PORT": str(port),
        "SYNCWATCH_CLICKHOUSE_URL": "chdb://./var/warehouse",
        "SYNCWATCH_RATE_LIMIT_PER_SECOND": "1000000",
        "SYNCWATCH_RATE_LIMIT_BURST": "1000000",
        "SYNCWATCH_LOG_LEVEL": "WARNING",
    }
    token = subprocess.run(
        [SYNCWATCH, "token", "create", "--name", "bench", "--scope", "ingest"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    server = subprocess.Popen([SYNCWATCH, "serve"], cwd=workdir, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        event_s, event_acks = asyncio.run(
            send(f"{url}/v1/events", token, events, "application/cloudevents-batch+json", args.clients, "events")
        )
        span_s, span_acks = asyncio.run(
            send(f"{url}/v1/traces", token, spans, "application/x-protobuf", args.clients, "spans")
        )
        rss = peak_rss_mib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    engine = query_in_fresh_process(workdir, env, ENGINE_CODE)
    shutil.rmtree(workdir, ignore_errors=True)  # ~400 MB of warehouse per run
    assert isinstance(engine, dict)
    stored_events, unique_events = engine["stored"]["events"]
    stored_spans, unique_spans = engine["stored"]["otel_traces"]
    acked_events = sum(len(orjson.loads(b)) for b in events[:event_acks])
    acked_spans = args.spans if span_acks == len(spans) else -1
    figures = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "events": args.events,
        "spans": args.spans,
        "batch": args.batch,
        "clients": args.clients,
        "events_per_s": round(args.events / event_s),
        "spans_per_s": round(args.spans / span_s),
        "engine_events_per_s": round(stored_events / engine["events"]),
        "engine_spans_per_s": round(stored_spans / engine["otel_traces"]),
        "engine_schema_events_per_s": round(stored_events / engine["events_schema"]),
        "engine_schema_spans_per_s": round(stored_spans / engine["otel_traces_schema"]),
        "peak_rss_mib": round(rss, 1),
        "events_lost": acked_events - unique_events,
        "events_duplicated": stored_events - unique_events,
        "spans_lost": acked_spans - unique_spans,
        "spans_duplicated": stored_spans - unique_spans,
    }
    figures["events_ratio_to_engine"] = round(figures["events_per_s"] / figures["engine_events_per_s"], 3)
    figures["spans_ratio_to_engine"] = round(figures["spans_per_s"] / figures["engine_spans_per_s"], 3)
    figures["events_ratio_to_engine_schema"] = round(figures["events_per_s"] / figures["engine_schema_events_per_s"], 3)
    figures["spans_ratio_to_engine_schema"] = round(figures["spans_per_s"] / figures["engine_schema_spans_per_s"], 3)

    table = Table("figure", "value", title="SyncWatch ingest benchmark (embedded chDB, this machine)")
    for key, value in figures.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    if args.record:
        results = ROOT / "bench" / "results"
        results.mkdir(exist_ok=True)
        with open(results / "ingest.jsonl", "a") as handle:
            handle.write(json.dumps(figures) + "\n")
    lost = (
        figures["events_lost"] or figures["events_duplicated"] or figures["spans_lost"] or figures["spans_duplicated"]
    )
    if lost:
        console.print("[bold red]zero-loss check failed[/]")
        sys.exit(1)


if __name__ == "__main__":
    main()
