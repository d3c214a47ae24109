"""The HTTP sink against a tiny in-test collector: bearer auth, batch content type, Retry-After honoured,
spans through the real OTLP exporter carrying the ids the events' traceparents name."""

from __future__ import annotations

import time

import orjson
import pytest
from fastapi import FastAPI, Request, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sim_integration_support import START, serve

from simulator.calendar import DAY
from simulator.emit import AuthError, HttpSink
from simulator.simulation import Simulation

pytestmark = pytest.mark.integration


def receiver(throttle_first: int = 1, token: str = "t0k"):
    app = FastAPI()
    got = {"events": [], "spans": [], "throttled": 0, "content_types": set(), "times": []}

    @app.post("/v1/events")
    async def events(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {token}":
            return Response(status_code=401)
        if got["throttled"] < throttle_first:
            got["throttled"] += 1
            got["times"].append(time.monotonic())
            return Response(status_code=429, headers={"Retry-After": "1"})
        got["times"].append(time.monotonic())
        got["content_types"].add(request.headers["content-type"])
        batch = orjson.loads(await request.body())
        got["events"] += batch
        return Response(orjson.dumps({"accepted": len(batch), "duplicates": 0, "rejected": 0}), status_code=200)

    @app.post("/v1/traces")
    async def traces(request: Request) -> Response:
        msg = ExportTraceServiceRequest()
        msg.ParseFromString(await request.body())
        for rs in msg.resource_spans:
            for ss in rs.scope_spans:
                got["spans"] += [(s.trace_id.hex(), s.span_id.hex()) for s in ss.spans]
        return Response(ExportTraceServiceRequest().SerializeToString(), media_type="application/x-protobuf")

    return app, got


def test_events_and_spans_arrive_linked_after_a_429() -> None:
    app, got = receiver()
    with serve(app) as base:
        sink = HttpSink(base, "t0k", concurrency=1)
        sim = Simulation(60, 1, START, sink)
        sim.begin()
        sim.run_until(START + 10 * DAY)
        sink.close()
    assert got["throttled"] == 1
    assert got["times"][1] - got["times"][0] >= 0.9  # waited Retry-After before re-sending
    assert len(got["events"]) == sim.events_emitted == sink.stats.accepted
    assert got["content_types"] == {"application/cloudevents-batch+json"}
    spans = set(got["spans"])
    for ev in got["events"]:
        _, trace, span, _ = ev["traceparent"].split("-")
        assert (trace, span) in spans


def test_wrong_token_stops_the_run() -> None:
    app, _ = receiver(throttle_first=0)
    with serve(app) as base:
        sink = HttpSink(base, "wrong", concurrency=1, spans=False)
        sim = Simulation(60, 1, START, sink, spans=False)
        sim.begin()
        with pytest.raises(AuthError):
            sim.run_until(START + 10 * DAY)
            sink.close()
