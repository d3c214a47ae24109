"""What the middleware answers to a replay request, as a value (cases/replay.py), over httpx.MockTransport."""

from __future__ import annotations

import httpx

from cases.replay import request_replay
from syncwatch.settings import Settings

SETTINGS = Settings(middleware_url="http://middleware.test/", middleware_api_key="k3y")


def answering(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.headers["x-api-key"] == "k3y"
        assert request.url.raw_path == b"/api/v1/dead-letters/MSG%2F1/replay"  # the id is one path segment
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handler)


def test_accepted_carries_the_answer() -> None:
    done = request_replay(SETTINGS, "MSG/1", answering(202, {"status": "replayed", "new_message_id": "MSG-2"}))
    assert (done.outcome, done.status, done.answer) == ("accepted", 202, {"status": "replayed",
                                                                          "new_message_id": "MSG-2"})  # fmt: skip


def test_refusals_throttling_and_failures() -> None:
    gone = request_replay(SETTINGS, "MSG/1", answering(404, {"error": "no dead letter 'MSG/1'"}))
    assert gone.outcome == "refused" and "no dead letter" in gone.message
    twice = request_replay(SETTINGS, "MSG/1", answering(409, {"error": "already replayed"}))
    assert twice.outcome == "refused" and twice.status == 409
    busy = request_replay(SETTINGS, "MSG/1", answering(429, {"error": "replay rate limited"}, {"Retry-After": "7"}))
    assert (busy.outcome, busy.retry_after) == ("throttled", "7") and "retry in 7 s" in busy.message
    broken = request_replay(SETTINGS, "MSG/1", answering(500, {"error": "boom"}))
    assert broken.outcome == "unreachable" and "HTTP 500" in broken.message


def test_no_connection_and_no_configuration() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    down = request_replay(SETTINGS, "MSG/1", httpx.MockTransport(refuse))
    assert down.outcome == "unreachable" and "connection refused" in down.message
    unset = request_replay(Settings(), "MSG/1")
    assert unset.outcome == "not_configured" and "SYNCWATCH_MIDDLEWARE_URL" in unset.message
