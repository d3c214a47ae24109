"""Record-lookup benchmark: GET /api/v1/records/{key} (the API's lookup function) against the engine's floor, the
same key's rows read from record_keys alone, side by side in the same run on the same warehouse.

    make bench-lookup    # or: .venv/bin/python bench/lookup.py --spans 5000000 20000000

Each warehouse is built with the product's schema (every migration) through its base tables, so every view fires as
on ingest: `--spans` spans, 5 a trace over 30 days, one time entry per trace. The first span of a trace carries the
entry, its project (1,000 projects) and consultant (5,000 consultants); the others are found through their trace.
Each entry has one `time_entry.posted` event in that trace. Rows are made inside the engine (INSERT ... SELECT), a
million spans per insert in time order, so parts and partitions look like a collector's. Warehouses are kept under
`--workdir`, one database per size, and reused by later runs.

Measured warm (one pass first, then `--runs` passes over the same keys): entries (small records), missing keys, and
the first page of a project (thousands of items) at `--page` items.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector import read  # noqa: E402
from syncwatch.settings import Settings  # noqa: E402
from syncwatch.warehouse import apply_migrations, connect  # noqa: E402

START = "2026-10-01 00:00:00"
DAYS = 30
SPANS_PER_TRACE = 5
CHUNK = 1_000_000  # spans per INSERT
PROJECTS, CONSULTANTS = 1000, 5000
FLOOR_SQL = """
SELECT signal, kind, time, event_type, event_source, event_id, service_name, span_name, trace_id, span_id
FROM record_keys WHERE key = {key:String}
"""

# Span j of trace t: services and names of a time entry's hop from the PSA to the ERP.
_SPANS = """
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
                         ResourceAttributes, SpanAttributes, Duration, StatusCode)
SELECT toDateTime64({start:String}, 9, 'UTC') + toIntervalNanosecond(t * {step_ns:UInt64} + j * 40000000) AS ts,
       lower(hex(reinterpretAsFixedString(cityHash64(t, 'trace')))) || lower(hex(reinterpretAsFixedString(t)))
         AS trace_id,
       lower(hex(reinterpretAsFixedString(cityHash64(t, j)))) AS span_id,
       if(j = 0, '', lower(hex(reinterpretAsFixedString(cityHash64(t, 0))))) AS parent,
       ['post time entry', 'mulesoft route', 'netsuite journal insert', 'erp validate', 'erp commit'][j + 1],
       ['Producer', 'Internal', 'Client', 'Server', 'Internal'][j + 1],
       ['psa-erp-connector', 'mulesoft', 'netsuite', 'erp', 'erp'][j + 1],
       map('service.name', ['psa-erp-connector', 'mulesoft', 'netsuite', 'erp', 'erp'][j + 1]),
       if(j = 0, map('business.entry_id', 'TE-' || leftPad(toString(t), 9, '0'),
                     'business.project_code', 'P-' || leftPad(toString(t % {projects:UInt32}), 5, '0'),
                     'business.consultant_id', 'C-' || leftPad(toString(t % {consultants:UInt32}), 5, '0')),
             map('erp.operation', 'journal')),
       20000000 + (t % 7) * 1000000, if(t % 97 = 0 AND j = 4, 'Error', 'Ok')
FROM (SELECT number DIV 5 AS t, number % 5 AS j FROM numbers({first:UInt64}, {count:UInt64}))
"""
_EVENTS = """
INSERT INTO events (received_at, time, source, id, specversion, type, canonical_type, known_type, tenant_id,
                    source_system, target_system, correlation_id, trace_id, parent_span_id, entry_id, project_code,
                    consultant_id, hours, currency, data, token_name)
SELECT toDateTime64(ts + 1, 3, 'UTC'), ts, 'psa-erp-connector', 'ev-' || toString(t), '1.0',
       'time_entry.posted', 'time_entry.posted', true, 'acme', 'psa', 'erp', 'corr-' || toString(t),
       lower(hex(reinterpretAsFixedString(cityHash64(t, 'trace')))) || lower(hex(reinterpretAsFixedString(t))),
       lower(hex(reinterpretAsFixedString(cityHash64(t, 0)))), entry, project, consultant, 8, 'EUR',
       '{"entry_id":"' || entry || '","project_code":"' || project || '","consultant_id":"' || consultant
         || '","erp_document_id":"JE-' || toString(t) || '"}', 'bench'
FROM (SELECT number AS t,
             toDateTime64({start:String}, 6, 'UTC') + toIntervalMicrosecond(t * {step_us:UInt64} + 200000) AS ts,
             'TE-' || leftPad(toString(t), 9, '0') AS entry,
             'P-' || leftPad(toString(t % {projects:UInt32}), 5, '0') AS project,
             'C-' || leftPad(toString(t % {consultants:UInt32}), 5, '0') AS consultant
      FROM numbers({first:UInt64}, {count:UInt64}))
"""


def build(client: Any, spans: int) -> None:
    """Fill an empty database (skipped when it already holds the spans)."""
    if client.query("SELECT count() FROM otel_traces").result_rows[0][0] == spans:
        return
    traces = spans // SPANS_PER_TRACE
    step_ns = DAYS * 86400 * 10**9 // traces
    began = time.perf_counter()
    for first in range(0, spans, CHUNK):
        count = min(CHUNK, spans - first)
        common = {"start": START, "projects": PROJECTS, "consultants": CONSULTANTS}
        client.command(_SPANS, parameters={**common, "step_ns": step_ns, "first": first, "count": count})
        client.command(
            _EVENTS,
            parameters={**common, "step_us": step_ns // 1000, "first": first // 5, "count": count // 5},
        )
        print(f"  {first + count:,} spans in {time.perf_counter() - began:.0f} s", flush=True)


def timed(fn: Callable[[str], Any], keys: list[str], runs: int) -> list[float]:
    for key in keys:  # warm
        fn(key)
    times = []
    for _ in range(runs):
        for key in keys:
            t0 = time.perf_counter()
            fn(key)
            times.append((time.perf_counter() - t0) * 1000)
    return times


def pct(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100)[int(q) - 1] if len(times) > 1 else times[0]


def measure(client: Any, spans: int, keys: int, runs: int, page: int) -> list[dict[str, Any]]:
    service = SimpleNamespace(reader=client)
    rng = random.Random(42)
    traces = spans // SPANS_PER_TRACE
    entries = [f"TE-{rng.randrange(traces):09d}" for _ in range(keys)]
    missing = [f"TE-{traces + rng.randrange(10**6):09d}" for _ in range(keys)]
    projects = [f"P-{rng.randrange(PROJECTS):05d}" for _ in range(max(3, keys // 10))]

    def lookup(limit: int) -> Callable[[str], Any]:
        return lambda key: read._journey(service, key, "", limit)  # type: ignore[arg-type]

    def floor(key: str) -> Any:
        return client.query(FLOOR_SQL, parameters={"key": key}).result_rows

    found = lookup(1000)(entries[0])
    assert found["found"] and found["summary"]["spans"] == SPANS_PER_TRACE, found["summary"]
    rows = []
    for name, sample, fn in (
        ("entry", entries, lookup(1000)),
        ("missing", missing, lookup(1000)),
        (f"project, first {page}", projects, lookup(page)),
    ):
        api, base = timed(fn, sample, runs), timed(floor, sample, runs)
        rows.append(
            {
                "spans": spans,
                "case": name,
                "p50": statistics.median(api),
                "p95": pct(api, 95),
                "floor_p50": statistics.median(base),
                "floor_p95": pct(base, 95),
                "ratio": statistics.median(api) / statistics.median(base),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, nargs="+", default=[5_000_000, 20_000_000])
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench" / "lookup")
    parser.add_argument("--keys", type=int, default=40, help="entries (and missing keys) looked up per pass")
    parser.add_argument("--runs", type=int, default=5, help="timed passes over the keys")
    parser.add_argument("--page", type=int, default=100, help="items per page for the project's first page")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings(clickhouse_url=f"chdb://{args.workdir.resolve() / 'warehouse'}")
    results = []
    for spans in args.spans:
        client = connect(settings, database=f"lookup_{spans}")
        apply_migrations(client, 4000)
        print(f"{spans:,} spans: building if needed", flush=True)
        build(client, spans)
        parts = client.query(
            "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'otel_traces' AND active"
        ).result_rows[0][0]
        print(f"  otel_traces: {parts} active parts", flush=True)
        results += measure(client, spans, args.keys, args.runs, args.page)
    print(f"\n{'spans':>12} {'case':<22} {'p50 ms':>8} {'p95 ms':>8} {'floor p50':>10} {'floor p95':>10} {'ratio':>6}")
    for r in results:
        print(
            f"{r['spans']:>12,} {r['case']:<22} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['floor_p50']:>10.1f} "
            f"{r['floor_p95']:>10.1f} {r['ratio']:>6.1f}"
        )


if __name__ == "__main__":
    main()
