"""Where generated traffic goes: to a collector over HTTP (CloudEvents batches and OTLP spans), to an NDJSON
file, or nowhere (a dry run that still serialises, to measure generation alone).

Errors, drawn as a tree:

    SendError            the collector refused in a way retrying cannot fix
    +-- AuthError        401 or 403: wrong or missing ingest token

429 and 503 are not errors: the sender waits Retry-After seconds and re-sends the same batch (the collector
de-duplicates by source and id, so a re-send is always safe). Connection failures back off and retry.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from simulator.engine import SpanRecord

__all__ = ["AuthError", "FileSink", "HttpSink", "MemorySink", "NullSink", "SendError", "SendStats", "to_readable_spans"]

log = logging.getLogger(__name__)
BATCH_EVENTS = 1000
BATCH_SPANS = 1000
_KINDS = (SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER)
_SCOPE = InstrumentationScope("syncwatch.simulator", "0.1.0")
_RESOURCES: dict[str, Resource] = {}
_FLAGS = TraceFlags(1)
_ERROR = Status(StatusCode.ERROR)


class SendError(Exception):
    pass


class AuthError(SendError):
    pass


@dataclass
class SendStats:
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    spans: int = 0
    span_batches_failed: int = 0
    throttled: int = 0  # 429/503 answers waited out
    retries: int = 0
    rejection_reasons: Counter[str] = field(default_factory=Counter)


class _FixedResource(Resource):
    """A Resource whose hash is computed once: the SDK's encoder hashes the resource of every span it groups."""

    def __init__(self, attributes: dict[str, str]) -> None:
        super().__init__(attributes)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or super().__eq__(other)


def _resource(service: str) -> Resource:
    res = _RESOURCES.get(service)
    if res is None:
        res = _RESOURCES[service] = _FixedResource({"service.name": service, "service.namespace": "acme-estate",
                                              "deployment.environment": "simulation"})  # fmt: skip
    return res


def to_readable_spans(records: list[SpanRecord]) -> list[ReadableSpan]:
    spans = []
    for trace_id, span_id, parent_id, name, kind, start_ns, end_ns, attrs, service, error in records:
        parent = SpanContext(trace_id, parent_id, False, _FLAGS) if parent_id else None
        spans.append(ReadableSpan(
            name=name, context=SpanContext(trace_id, span_id, False, _FLAGS), parent=parent,
            resource=_resource(service), attributes=attrs, kind=_KINDS[kind], start_time=start_ns, end_time=end_ns,
            status=_ERROR if error else None, instrumentation_scope=_SCOPE,
        ))  # fmt: skip
    return spans


class MemorySink:
    """Keeps everything, for tests."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.spans: list[SpanRecord] = []

    def event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def span(self, span: SpanRecord) -> None:
        self.spans.append(span)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class NullSink:
    """Serialises and encodes exactly as the HTTP sink would, then drops: generation cost, measured alone."""

    def __init__(self, encode_spans_too: bool = True) -> None:
        self._events: list[dict[str, Any]] = []
        self._spans: list[SpanRecord] = []
        self.encode_spans_too = encode_spans_too
        self.stats = SendStats()
        self.bytes = 0

    def event(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        if len(self._events) >= BATCH_EVENTS:
            self._flush_events()

    def span(self, span: SpanRecord) -> None:
        self._spans.append(span)
        if len(self._spans) >= BATCH_SPANS:
            self._flush_spans()

    def _flush_events(self) -> None:
        if self._events:
            self.bytes += len(orjson.dumps(self._events))
            self.stats.events += len(self._events)
            self._events = []

    def _flush_spans(self) -> None:
        if self._spans:
            if self.encode_spans_too:
                self.bytes += len(encode_spans(to_readable_spans(self._spans)).SerializePartialToString())
            self.stats.spans += len(self._spans)
            self._spans = []

    def flush(self) -> None:
        self._flush_events()
        self._flush_spans()

    def close(self) -> None:
        self.flush()


class FileSink(NullSink):
    """Events as NDJSON (one structured CloudEvent per line); spans are encoded but not kept."""

    def __init__(self, path: Path, encode_spans_too: bool = False) -> None:
        super().__init__(encode_spans_too)
        self._fh: IO[bytes] = path.open("wb")

    def _flush_events(self) -> None:
        if self._events:
            self._fh.write(b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in self._events))
            self.stats.events += len(self._events)
            self._events = []

    def close(self) -> None:
        self.flush()
        self._fh.close()


class HttpSink(NullSink):
    """Batches events (1,000) and spans (1,000) and sends them from a few threads with their own connections.

    The queue is bounded, so a slow collector slows generation instead of filling memory.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        concurrency: int = 4,
        spans: bool = True,
        transport: httpx.BaseTransport | None = None,
        max_wait_s: float = 300.0,
        timeout_s: float = 60.0,
    ) -> None:
        super().__init__(encode_spans_too=spans)
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_wait_s = max_wait_s
        self._transport = transport
        self._timeout = timeout_s
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=concurrency * 4)
        self._lock = threading.Lock()
        self.error: SendError | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"sim-send-{i}", daemon=True) for i in range(concurrency)
        ]
        for th in self._threads:
            th.start()

    # generation side --------------------------------------------------------------------------------------
    def _put(self, item: tuple[str, Any]) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _flush_events(self) -> None:
        if self._events:
            batch, self._events = self._events, []
            self._put(("events", (len(batch), orjson.dumps(batch))))

    def _flush_spans(self) -> None:
        if self._spans:
            batch, self._spans = self._spans, []
            if self.encode_spans_too:
                self._put(("spans", batch))

    def close(self) -> None:
        self.flush()
        for _ in self._threads:
            self._queue.put(None)
        for th in self._threads:
            th.join()
        if self.error is not None:
            raise self.error

    # sending side -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/cloudevents-batch+json"}
        client = httpx.Client(transport=self._transport, timeout=self._timeout, headers=headers)
        exporter = OTLPSpanExporter(
            endpoint=f"{self.base_url}/v1/traces",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self._timeout,
        )
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if self.error is not None:
                    continue  # drain: the run is failing
                kind, payload = item
                try:
                    if kind == "events":
                        self._send_events(client, *payload)
                    else:
                        self._send_spans(exporter, payload)
                except SendError as exc:
                    self.error = exc
        finally:
            client.close()
            exporter.shutdown()

    def _send_events(self, client: httpx.Client, count: int, body: bytes) -> None:
        url = f"{self.base_url}/v1/events"
        deadline = time.monotonic() + self.max_wait_s
        delay = 0.5
        while True:
            try:
                response = client.post(url, content=body)
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise SendError(f"collector unreachable at {url}: {exc}") from exc
                self._count(retries=1)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            status = response.status_code
            if status in (429, 503):
                wait = retry_after_seconds(response.headers.get("Retry-After"), default=1.0)
                if time.monotonic() + wait > deadline:
                    raise SendError(f"collector kept answering {status} for {self.max_wait_s:.0f} s")
                self._count(throttled=1)
                time.sleep(wait)
                continue
            if status in (401, 403):
                raise AuthError(f"collector refused the ingest token ({status}): pass --token or set SYNCWATCH_TOKEN")
            if status == 200:
                self._count(events=count, accepted=count)
                return
            if status in (207, 422):
                self._count_results(count, response)
                return
            if status >= 500 and time.monotonic() < deadline:
                self._count(retries=1)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            raise SendError(f"collector answered {status}: {response.text[:300]}")

    def _count_results(self, count: int, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        accepted = int(body.get("accepted", 0))
        duplicates = int(body.get("duplicates", 0))
        rejected = int(body.get("rejected", count - accepted - duplicates))
        with self._lock:
            self.stats.events += count
            self.stats.accepted += accepted
            self.stats.duplicates += duplicates
            self.stats.rejected += rejected
            for result in body.get("results", [])[:50]:
                if result.get("status") == "rejected":
                    self.stats.rejection_reasons[f"{result.get('reason')}:{result.get('field')}"] += 1
        if rejected:
            log.warning("collector rejected %d of %d events", rejected, count)

    def _send_spans(self, exporter: OTLPSpanExporter, records: list[SpanRecord]) -> None:
        spans = to_readable_spans(records)
        for attempt in range(5):
            # The SDK exporter itself waits out 429/503 with Retry-After within its timeout; a batch that still
            # fails is tried again a few times before it is counted as lost.
            if exporter.export(spans) == SpanExportResult.SUCCESS:
                self._count(spans=len(spans))
                return
            time.sleep(min(2.0 * (attempt + 1), 10.0))
        self._count(span_batches_failed=1)

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)


def retry_after_seconds(value: str | None, default: float) -> float:
    """Retry-After as delta-seconds (HTTP dates are rare from collectors and fall back to the default)."""
    if not value:
        return default
    try:
        return max(0.0, min(float(value), 120.0))
    except ValueError:
        return default
