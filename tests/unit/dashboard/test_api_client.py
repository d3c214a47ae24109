"""The API client turns every HTTP answer and transport failure into an outcome value (never an exception)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dashboard.api import ApiClient, Failed, Ok, Request, Unavailable, read_token
from syncwatch.settings import Settings


def client(handler: object, admin: str = "") -> ApiClient:
    return ApiClient("http://collector:4318/", "read-secret", admin, 2.0, httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_ok_sends_the_read_token_and_decodes_json() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"slis": []})

    outcome = client(handler).get(Request.of("/api/v1/slis", window="30d", empty="", none=None))
    assert isinstance(outcome, Ok) and outcome.data == {"slis": []}
    assert seen[0].headers["authorization"] == "Bearer read-secret"
    assert dict(seen[0].url.params) == {"window": "30d"}  # empty and None parameters are left out


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"error": "unknown or revoked token"}, "unauthorized"),
        (403, {"error": "token 'x' lacks the 'read' scope"}, "forbidden"),
        (404, {"error": "unknown SLI 'nope'", "status": 404}, "not_found"),
        (422, {"error": "invalid request", "problems": []}, "invalid"),
        (429, {"error": "rate limit"}, "throttled"),
        (503, {"error": "queue full"}, "throttled"),
        (500, {"error": "boom"}, "server"),
    ],
)
def test_http_errors_become_failed_values(status: int, body: dict[str, object], kind: str) -> None:
    outcome = client(lambda r: httpx.Response(status, json=body, headers={"retry-after": "3"})).get(
        Request.of("/api/v1/x")
    )
    assert isinstance(outcome, Failed) and outcome.kind == kind and outcome.status == status
    assert str(body["error"]) in outcome.message
    if kind == "throttled":
        assert outcome.retry_after == "3" and "retry in 3 s" in outcome.message


def test_an_unknown_route_means_the_stage_is_not_deployed() -> None:
    outcome = client(lambda r: httpx.Response(404, json={"detail": "Not Found"})).get(Request.of("/api/v1/probes"))
    assert isinstance(outcome, Unavailable) and "/api/v1/probes" in outcome.message


def test_connection_refused_and_timeouts_are_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    refused = client(refuse).get(Request.of("/api/v1/slis"))
    timed_out = client(slow).get(Request.of("/api/v1/slis"))
    assert isinstance(refused, Failed) and refused.kind == "unreachable" and "connection refused" in refused.message
    assert isinstance(timed_out, Failed) and timed_out.kind == "unreachable" and "within 2 s" in timed_out.message


def test_a_body_that_is_not_json_is_a_server_failure() -> None:
    outcome = client(lambda r: httpx.Response(200, text="<html>proxy</html>")).get(Request.of("/api/v1/slis"))
    assert isinstance(outcome, Failed) and outcome.kind == "server"


def test_get_many_asks_in_parallel_and_keeps_each_answer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"path": request.url.path})

    wanted = [Request.of(f"/api/v1/slis/s{i}/series") for i in range(10)]
    answers = client(handler).get_many([*wanted, wanted[0]])
    assert len(answers) == 10
    assert all(isinstance(o, Ok) and o.data["path"] == r.path for r, o in answers.items())


def test_writes_use_the_admin_token_and_encode_times() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "s-1"})

    api = client(handler, admin="admin-secret")
    outcome = api.create_silence([{"name": "flow", "value": "x", "is_regex": False}],
                                 datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "dana", "ERP window")  # fmt: skip
    assert isinstance(outcome, Ok)
    assert seen[0].headers["authorization"] == "Bearer admin-secret"
    assert b'"ends_at":"2026-11-26T12:00:00Z"' in seen[0].content.replace(b" ", b"")
    api.expire_silence("a/b")
    assert seen[1].method == "DELETE" and seen[1].url.raw_path.endswith(b"/api/v1/silences/a%2Fb")


def test_identity_names_the_collector_but_never_the_secret() -> None:
    api = client(lambda r: httpx.Response(200, json={}))
    assert api.identity.startswith("http://collector:4318#") and "read-secret" not in api.identity


def test_the_token_comes_from_the_variable_or_the_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("from-file\n")
    assert read_token(Settings(dashboard_token="direct", dashboard_token_file=path)) == "direct"
    assert read_token(Settings(dashboard_token="", dashboard_token_file=path)) == "from-file"
    assert read_token(Settings(dashboard_token="", dashboard_token_file=tmp_path / "missing")) == ""
