"""Retries, Retry-After, deadlines, error translation and OAuth2 token handling, over httpx.MockTransport."""

from __future__ import annotations

import logging

import httpx
import pytest

from probes.auth import OAuth2ClientCredentials
from probes.budget import BudgetLimits
from probes.errors import (
    AuthFailed,
    BadResponse,
    BudgetExhausted,
    DeadlineExceeded,
    HttpStatusError,
    Throttled,
    Unreachable,
)
from probes.secrets import Secret
from probes.transport import retry_after_seconds

from .support import FakeTime, make_client, scope


def sequence(*responses: httpx.Response | Exception) -> tuple[list[httpx.Request], object]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return seen, handler


def test_429_then_ok_waits_exactly_retry_after() -> None:
    seen, handler = sequence(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": 1}))
    client, fake = make_client(handler)  # type: ignore[arg-type]
    s = scope(fake)
    assert client.get_json(s, "/x") == {"ok": 1}
    assert fake.sleeps == [7.0] and len(seen) == 2 and s.total_calls == 2


def test_429_forever_is_throttled_after_the_last_retry() -> None:
    seen, handler = sequence(httpx.Response(429, headers={"Retry-After": "1"}, json={"errors": []}))
    client, fake = make_client(handler, retries=2)  # type: ignore[arg-type]
    with pytest.raises(Throttled, match="after 3 attempts"):
        client.get_json(scope(fake), "/x")
    assert len(seen) == 3 and fake.sleeps == [1.0, 1.0]


def test_retry_after_longer_than_the_deadline_gives_up_at_once() -> None:
    seen, handler = sequence(httpx.Response(503, headers={"Retry-After": "120"}, json={"title": "down"}))
    client, fake = make_client(handler)  # type: ignore[arg-type]
    with pytest.raises(HttpStatusError, match="would pass the deadline") as err:
        client.get_json(scope(fake, 30), "/x")
    assert err.value.status == 503 and fake.sleeps == [] and len(seen) == 1


def test_5xx_backs_off_exponentially_without_retry_after() -> None:
    seen, handler = sequence(httpx.Response(502), httpx.Response(502), httpx.Response(200, json=[]))
    client, fake = make_client(handler)  # type: ignore[arg-type]
    assert client.get_json(scope(fake), "/x") == []
    assert len(fake.sleeps) == 2 and 0 <= fake.sleeps[0] <= 0.5 and 0 <= fake.sleeps[1] <= 1.0


def test_http_date_retry_after() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds("-5") == 0.0


def test_4xx_is_not_retried() -> None:
    seen, handler = sequence(httpx.Response(400, json={"o:errorCode": "INVALID_SEARCH"}))
    client, fake = make_client(handler)  # type: ignore[arg-type]
    with pytest.raises(HttpStatusError, match="INVALID_SEARCH"):
        client.get_json(scope(fake), "/x?q=secret-record-key")
    assert len(seen) == 1


def test_query_strings_stay_out_of_errors() -> None:
    seen, handler = sequence(httpx.Response(404))
    client, fake = make_client(handler)  # type: ignore[arg-type]
    with pytest.raises(HttpStatusError) as err:
        client.get_json(scope(fake), "/x?consultant=C-123")
    assert "C-123" not in str(err.value)


def test_connection_errors_retry_then_unreachable() -> None:
    seen, handler = sequence(httpx.ConnectError("refused"))
    client, fake = make_client(handler, retries=2)  # type: ignore[arg-type]
    with pytest.raises(Unreachable, match="ConnectError"):
        client.get_json(scope(fake), "/x")
    assert len(seen) == 3


def test_read_timeout_at_the_deadline_is_a_timeout() -> None:
    fake = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        fake.now += 100  # the request ran past the probe's deadline
        raise httpx.ReadTimeout("slow", request=request)

    client, _ = make_client(handler, fake=fake)
    with pytest.raises(DeadlineExceeded):
        client.get_json(scope(fake, 60), "/x")


def test_garbage_json_is_a_bad_response() -> None:
    _, handler = sequence(httpx.Response(200, content=b"<html>maintenance</html>"))
    client, fake = make_client(handler)  # type: ignore[arg-type]
    with pytest.raises(BadResponse, match="not JSON"):
        client.get_json(scope(fake), "/x")


def test_salesforce_limit_exceeded_is_throttled_not_auth() -> None:
    _, handler = sequence(httpx.Response(403, json=[{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]))
    client, fake = make_client(handler)  # type: ignore[arg-type]
    with pytest.raises(Throttled, match="REQUEST_LIMIT_EXCEEDED"):
        client.get_json(scope(fake), "/x")


def _oauth_server(ttl: int, expire_after: int | None = None) -> tuple[dict[str, int], object]:
    state = {"tokens": 0, "calls": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            assert b"client_secret=s3cret" in request.content and b"grant_type=client_credentials" in request.content
            state["tokens"] += 1
            return httpx.Response(200, json={"access_token": f"tok{state['tokens']}", "expires_in": ttl})
        state["calls"] += 1
        current = f"Bearer tok{state['tokens']}"
        if request.headers.get("authorization") != current or (expire_after and state["calls"] == expire_after):
            return httpx.Response(401, json={"error": "invalid_token"})
        return httpx.Response(200, json={"ok": True})

    return state, handler


def test_oauth_token_is_cached_and_refreshed_on_expiry() -> None:
    state, handler = _oauth_server(ttl=600)
    fake = FakeTime()
    auth = OAuth2ClientCredentials("/token", "probe", Secret("s3cret", "env:X"), clock=fake.clock)
    client, _ = make_client(handler, auth=auth, fake=fake)  # type: ignore[arg-type]
    for _ in range(5):
        client.get_json(scope(fake), "/data")
    assert state["tokens"] == 1
    fake.now += 599  # inside the early-refresh margin (10% of a 600 s token, at most 60 s)
    client.get_json(scope(fake), "/data")
    assert state["tokens"] == 2 and auth.tokens_fetched == 2


def test_oauth_401_refreshes_once_then_fails() -> None:
    state, handler = _oauth_server(ttl=3600, expire_after=2)
    fake = FakeTime()
    auth = OAuth2ClientCredentials("/token", "probe", Secret("s3cret", "env:X"), clock=fake.clock)
    client, _ = make_client(handler, auth=auth, fake=fake)  # type: ignore[arg-type]
    s = scope(fake)
    client.get_json(s, "/data")
    client.get_json(s, "/data")  # revoked server-side on this call: one refresh, then ok
    assert state["tokens"] == 2

    def always_401(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(401)

    client2, _ = make_client(always_401, auth=OAuth2ClientCredentials("/token", "p", Secret("s3cret", "env:X")))
    with pytest.raises(AuthFailed):
        client2.get_json(scope(FakeTime()), "/data")


def test_secrets_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_client"})

    secret = Secret("very-secret-value", "env:ERP_SECRET")
    client, fake = make_client(handler, auth=OAuth2ClientCredentials("/token", "probe", secret))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HttpStatusError) as err:
        client.get_json(scope(fake), "/x")
    assert "very-secret-value" not in str(err.value) and "very-secret-value" not in caplog.text
    assert "very-secret-value" not in repr(secret) and "very-secret-value" not in f"{secret}"


def test_budget_refuses_before_sending() -> None:
    seen, handler = sequence(httpx.Response(200, json={}))
    client, fake = make_client(handler, limits=BudgetLimits(3, 1, 1e9))  # type: ignore[arg-type]
    s = scope(fake)
    for _ in range(3):
        client.get_json(s, "/x")
    with pytest.raises(BudgetExhausted, match="3 calls an hour"):
        client.get_json(s, "/x")
    assert len(seen) == 3 and client.budget.refused_calls == 1
    fake.now += 3601
    client.get_json(scope(fake), "/x")
    assert len(seen) == 4
