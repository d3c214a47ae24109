"""The httpx instrumentation's attribute names differ by OTEL_SEMCONV_STABILITY_OPT_IN; the monitor reads both,
from live spans (each mode in its own process: the instrumentation reads the variable once) and from the
warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from probes.tracing import SERVICE_NAME, probe_calls_since

pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from probes.budget import BudgetLimits, Deadline, SystemBudget
from probes.tracing import http_method, http_status, instrument
from probes.transport import CallScope, SystemClient
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
http = httpx.Client(base_url="http://t", transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})))
instrument(http, "erp", provider)
client = SystemClient("erp", http, SystemBudget("erp", BudgetLimits(10, 1, 1e9)))
client.get_json(CallScope(Deadline(5)), "/ok")
span = exporter.get_finished_spans()[0]
a = span.attributes
print(json.dumps({"keys": sorted(a), "status": http_status(a), "method": http_method(a)}))
"""


@pytest.mark.parametrize(("opt_in", "key"), [("", "http.status_code"), ("http", "http.response.status_code")])
def test_live_spans_under_both_conventions(opt_in: str, key: str) -> None:
    env = {**os.environ, "OTEL_SEMCONV_STABILITY_OPT_IN": opt_in}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert key in seen["keys"] and "syncwatch.system" in seen["keys"]
    assert seen["status"] == 200 and seen["method"] == "GET"


def test_warehouse_calls_read_under_both_spellings(warehouse: Client) -> None:
    now = datetime.now(UTC)
    cols = ["Timestamp", "TraceId", "SpanId", "SpanName", "ServiceName", "SpanAttributes"]
    rows = [
        [now, "t1", "s1", "GET", SERVICE_NAME, {"syncwatch.system": "erp", "http.status_code": "200"}],
        [now, "t1", "s2", "GET", SERVICE_NAME, {"syncwatch.system": "erp", "http.response.status_code": "429"}],
        [now, "t1", "s3", "GET", SERVICE_NAME, {"syncwatch.system": "crm", "error.type": "ConnectError"}],
        [
            now - timedelta(hours=2),
            "t0",
            "s0",
            "GET",
            SERVICE_NAME,
            {"syncwatch.system": "erp", "http.status_code": "200"},
        ],
        [now, "t9", "s9", "GET", "someone-else", {"syncwatch.system": "erp", "http.status_code": "200"}],
    ]
    warehouse.insert("otel_traces", rows, column_names=cols)
    seen = probe_calls_since(warehouse, now - timedelta(hours=1))
    assert seen["erp"]["status"] == {"2xx": 1, "4xx": 1} and len(seen["erp"]["times"]) == 2
    assert seen["crm"]["status"] == {"error": 1}
