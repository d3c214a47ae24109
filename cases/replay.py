"""Asking the middleware to replay a dead-lettered message (`request_replay` on a dead_letter case).

The middleware's API is SYNCWATCH_MIDDLEWARE_URL with SYNCWATCH_MIDDLEWARE_API_KEY (sent as X-API-Key):
`POST /api/v1/dead-letters/{message_id}/replay`. A refusal is a normal outcome here, so the call answers a value:

    Replay
     +-- accepted       2xx: the middleware replays it; `message.replayed` then arrives like any event and the
     |                  maintenance job auto-resolves the case
     +-- refused        404 (no such message), 409 (already replayed), other 4xx: asking again will not help
     +-- throttled      429 or 503, with Retry-After when given: the middleware's own replay rate limit
     +-- unreachable    connection refused, DNS, timeout, a 5xx
     +-- not_configured no SYNCWATCH_MIDDLEWARE_URL

httpx errors are translated in exactly one place (`request_replay`). The case's audit log records the request and
the answer (`record`), whatever it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson
from clickhouse_connect.driver.client import Client

from cases.model import AuditEntry, Case
from cases.store import append_audit
from syncwatch.settings import Settings

__all__ = ["ACTION", "Replay", "record", "request_replay"]

ACTION = "request_replay"
_ANSWER_TEXT = 500  # of the middleware's answer kept in the audit log

Outcome = Literal["accepted", "refused", "throttled", "unreachable", "not_configured"]


@dataclass(frozen=True, slots=True)
class Replay:
    outcome: Outcome
    message: str
    status: int | None = None
    retry_after: str | None = None
    answer: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "message": self.message, "status": self.status,
                "retry_after": self.retry_after, "answer": self.answer}  # fmt: skip


def request_replay(settings: Settings, message_id: str, transport: httpx.BaseTransport | None = None) -> Replay:
    if not settings.middleware_url:
        return Replay("not_configured", "no middleware API is configured (SYNCWATCH_MIDDLEWARE_URL)")
    base = settings.middleware_url.rstrip("/")
    url = f"{base}/api/v1/dead-letters/{quote(message_id, safe='')}/replay"
    headers = {"X-API-Key": settings.middleware_api_key, "User-Agent": "syncwatch-exceptions"}
    try:
        with httpx.Client(timeout=settings.middleware_timeout_seconds, transport=transport) as client:
            response = client.post(url, headers=headers)
    except httpx.TimeoutException:
        return Replay("unreachable", f"the middleware at {base} did not answer within "
                      f"{settings.middleware_timeout_seconds:g} s")  # fmt: skip
    except httpx.HTTPError as exc:
        return Replay("unreachable", f"the middleware at {base} is unreachable ({str(exc) or type(exc).__name__})")
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    answer = body if isinstance(body, dict) else None
    said = str((answer or {}).get("error") or response.text[:_ANSWER_TEXT] or response.reason_phrase)
    status = response.status_code
    if status < 300:
        return Replay("accepted", f"the middleware replays it (HTTP {status})", status, None, answer)
    if status in (429, 503):
        retry = response.headers.get("retry-after")
        hint = f"; retry in {retry} s" if retry else ""
        return Replay("throttled", f"the middleware is busy (HTTP {status}): {said}{hint}", status, retry, answer)
    if status >= 500:
        return Replay("unreachable", f"the middleware failed (HTTP {status}): {said}", status, None, answer)
    return Replay("refused", f"the middleware refused (HTTP {status}): {said}", status, None, answer)


def record(client: Client, case: Case, replay: Replay, actor: str, now: datetime) -> AuditEntry:
    """Append the request and its answer to the case's audit log. The case itself is unchanged (it closes when the
    replayed message arrives), so this appends beside the keeper without deciding on a case version."""
    detail = {"message_id": case.business_key, "outcome": replay.outcome, "status": replay.status,
              "answer": replay.message[:_ANSWER_TEXT]}  # fmt: skip
    if replay.answer and replay.answer.get("new_message_id"):
        detail["new_message_id"] = str(replay.answer["new_message_id"])[:200]
    entry = AuditEntry(case.case_id, now, actor, ACTION, detail, {}, {})
    append_audit(client, [entry])
    return entry
