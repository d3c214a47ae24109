"""The CLI's client of a running collector, over httpx.MockTransport: one error field, one translation point."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from syncwatch.cli_shared import (
    CollectorClient,
    CollectorRefused,
    CollectorUnreachable,
    LocalCollector,
    local_collector,
)
from syncwatch.settings import Settings


def client(handler: httpx.MockTransport | None = None, **kwargs: object) -> CollectorClient:
    return CollectorClient("http://collector.test:4318/", "swt_secret", transport=handler, **kwargs)  # type: ignore[arg-type]


def test_a_call_sends_the_token_and_returns_the_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"tokens": [{"name": "psa"}]})

    with client(httpx.MockTransport(handler)) as c:
        answer = c.call("POST", "/api/v1/admin/tokens", {"name": "psa", "scopes": ["ingest"]})
    assert answer == {"tokens": [{"name": "psa"}]}
    (request,) = seen
    assert str(request.url) == "http://collector.test:4318/api/v1/admin/tokens"
    assert request.headers["Authorization"] == "Bearer swt_secret"
    assert json.loads(request.content) == {"name": "psa", "scopes": ["ingest"]}


def test_an_error_answer_carries_the_collectors_error_field() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": "unknown probe 'nope'", "status": 404})

    with pytest.raises(CollectorRefused) as raised, client(httpx.MockTransport(handler)) as c:
        c.call("POST", "/api/v1/probes/nope/run")
    assert raised.value.status == 404
    assert raised.value.message == "unknown probe 'nope'"
    assert str(raised.value) == "HTTP 404: unknown probe 'nope'"


def test_an_error_that_is_not_the_collectors_shows_its_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with pytest.raises(CollectorRefused) as raised, client(httpx.MockTransport(handler)) as c:
        c.call("GET", "/api/v1/alerts")
    assert raised.value.status == 502 and raised.value.message == "<html>Bad Gateway</html>"


def test_no_answer_is_unreachable_and_names_the_collector() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(CollectorUnreachable) as raised, client(httpx.MockTransport(handler)) as c:
        c.call("GET", "/api/v1/alerts")
    assert "http://collector.test:4318 did not answer" in str(raised.value)
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_a_per_call_timeout_reaches_the_request() -> None:
    timeouts: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(204)

    with client(httpx.MockTransport(handler), timeout=5) as c:
        assert c.call("POST", "/api/v1/probes/x/run", timeout=900) is None
        c.call("GET", "/api/v1/probes")
    assert [t["read"] for t in timeouts] == [900, 5]  # type: ignore[index]


def test_the_local_collector_is_the_one_whose_process_is_alive(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    assert local_collector(settings) is None
    path = settings.local_admin_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": "http://127.0.0.1:4318", "admin_token": "swt_a", "pid": os.getpid()}))
    assert local_collector(settings) == LocalCollector("http://127.0.0.1:4318", "swt_a", os.getpid())
    path.write_text(json.dumps({"url": "http://127.0.0.1:4318", "admin_token": "swt_a", "pid": 2**22 + 1}))
    assert local_collector(settings) is None
    path.write_text("{not json")
    assert local_collector(settings) is None
