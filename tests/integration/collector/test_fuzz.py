"""Whatever arrives, the collector answers with a 2xx or a 4xx, never a 5xx (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.factories import event
from tests.unit.collector.test_traces_json import request as otlp_json


def dumps(value: Any) -> bytes:
    """stdlib json: it also writes integers past 64 bits and Infinity, which a client may send."""
    return json.dumps(value).encode()


json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
attribute_names = st.sampled_from(
    [
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "data",
        "data_base64",
        "datacontenttype",
        "traceparent",
        "correlationid",
        "Bad Name",
        "x" * 25,
    ]
)


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    base = event(draw(st.sampled_from(["time_entry.posted", "invoice.ready", "worker.changed", "x.y.z"])))
    for _ in range(draw(st.integers(0, 3))):
        name = draw(attribute_names)
        if draw(st.booleans()):
            base.pop(name, None)
        else:
            base[name] = draw(json_values)
    if draw(st.booleans()) and isinstance(base.get("data"), dict) and base["data"]:
        key = draw(st.sampled_from(sorted(base["data"])))
        base["data"][key] = draw(json_values)
    return base


event_bodies = (
    st.binary(max_size=300)
    | st.builds(dumps, json_values)
    | st.builds(dumps, st.lists(mutated_events(), max_size=5))
    | st.builds(dumps, mutated_events())
)
media = st.sampled_from(
    [
        "application/cloudevents-batch+json",
        "application/cloudevents+json",
        "application/json",
        "text/plain",
        "",
        "application/cloudevents-batch+json; charset=utf-8",
    ]
)
ce_headers = st.dictionaries(
    st.sampled_from(["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-BAD"]),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20),
    max_size=5,
)


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=event_bodies, content_type=media, headers=ce_headers)
def test_events_endpoint_never_answers_5xx(
    collector: ThreadedCollector, tokens: Tokens, body: bytes, content_type: str, headers: dict[str, str]
) -> None:
    answer = httpx.post(
        f"{collector.url}/v1/events",
        content=body,
        timeout=30,
        headers={**auth(tokens["ingest"]), "Content-Type": content_type, **headers},
    )
    assert answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/json")


@st.composite
def mutated_otlp(draw: st.DrawFn) -> bytes:
    request = orjson.loads(otlp_json())
    span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(span)))
        span[name] = draw(json_values)
    return dumps(request)


@FUZZ
@given(
    body=st.binary(max_size=300) | mutated_otlp() | st.builds(dumps, json_values),
    content_type=st.sampled_from(["application/x-protobuf", "application/json", "text/plain"]),
)
def test_traces_endpoint_never_answers_5xx(
    collector: ThreadedCollector, tokens: Tokens, body: bytes, content_type: str
) -> None:
    answer = httpx.post(
        f"{collector.url}/v1/traces",
        content=body,
        timeout=30,
        headers={**auth(tokens["ingest"]), "Content-Type": content_type},
    )
    assert answer.status_code < 500, answer.content[:300]
