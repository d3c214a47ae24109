"""Spans that carry a record key under a near-miss name (entry_id, invoiceId... instead of business.entry_id) are
stored but join no record's journey: the collector counts them per attribute and service, on /metrics and in
GET /api/v1/ingest/health. Sent by the OpenTelemetry SDK's own OTLP/HTTP exporter."""

from __future__ import annotations

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from collector.traces import NEAR_MISS_ATTRIBUTES
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.collector.test_otlp import wait_rows

pytestmark = pytest.mark.integration


def _send(collector: ThreadedCollector, tokens: Tokens, service: str, spans: list[dict[str, str]]) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces", headers=auth(tokens["ingest"]))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.near_miss")
    for attributes in spans:
        with tracer.start_as_current_span("post entry", attributes=attributes):
            pass
    provider.shutdown()


def test_near_miss_key_attributes_are_counted_per_attribute_and_service(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, http: httpx.Client
) -> None:
    _send(collector, tokens, "psa-erp-connector", [
        {"entry_id": "TE-1"},  # the near miss
        {"entry_id": "TE-2", "attempt": "1"},
        {"business.entry_id": "TE-3", "entry_id": "TE-3"},  # joined anyway: not a miss
        {"business.entry_id": "TE-4"},
        {"project_code": "PRJ-1", "consultant_id": "C000001"},  # one span, two misses
    ])  # fmt: skip
    _send(collector, tokens, "erp-invoicing", [{"invoiceId": "INV-9"}, {"http.method": "POST"}])
    assert wait_rows(warehouse, "SELECT count() FROM otel_traces", 7) == 7

    value = collector.service.metrics.registry.get_sample_value
    series = "syncwatch_collector_near_miss_spans_total"
    assert value(series, {"attribute": "entry_id", "service": "psa-erp-connector"}) == 2
    assert value(series, {"attribute": "project_code", "service": "psa-erp-connector"}) == 1
    assert value(series, {"attribute": "consultant_id", "service": "psa-erp-connector"}) == 1
    assert value(series, {"attribute": "invoiceId", "service": "erp-invoicing"}) == 1
    assert value(series, {"attribute": "entry_id", "service": "erp-invoicing"}) is None

    health = http.get(f"{collector.url}/api/v1/ingest/health", headers=auth(tokens["read"])).json()
    assert health["since_start"]["near_miss_spans"] == {
        "psa-erp-connector": {"entry_id": 2.0, "project_code": 1.0, "consultant_id": 1.0},
        "erp-invoicing": {"invoiceId": 1.0},
    }
    assert health["near_miss_attributes"]["invoiceId"] == "business.invoice_id"
    scraped = http.get(f"{collector.url}/metrics", headers=auth(tokens["read"])).text
    assert 'syncwatch_collector_near_miss_spans_total{attribute="invoiceId",service="erp-invoicing"} 1.0' in scraped
    # and the reason it matters: the record is not found by the key the span carries
    journey = http.get(f"{collector.url}/api/v1/records/TE-1", headers=auth(tokens["read"])).json()
    assert journey["found"] is False


def test_every_business_key_attribute_has_its_near_misses() -> None:
    assert NEAR_MISS_ATTRIBUTES["entry_id"] == "business.entry_id"
    assert NEAR_MISS_ATTRIBUTES["businessInvoiceId"] == "business.invoice_id"
    assert NEAR_MISS_ATTRIBUTES["business.projectCode"] == "business.project_code"
    assert "business.entry_id" not in NEAR_MISS_ATTRIBUTES and "messaging.message.id" not in NEAR_MISS_ATTRIBUTES
