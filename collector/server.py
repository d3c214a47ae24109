"""The collector's HTTP server: uvicorn, plus the connection limits uvicorn does not have.

uvicorn never times out reading a request: a client that sends its headers or its body a byte at a time, or opens a
connection and sends nothing, holds it for ever. Its `limit_concurrency` answers 503 without Retry-After, so clients
retry at once. `GuardedProtocol` adds, per connection:

    headers  must be complete within header_timeout_seconds of the connection or of the request's first byte
             (408 and close; a connection that sent nothing is closed without an answer)
    body     must be complete within body_timeout_seconds of the headers (408 and close; the handler reading it
             sees a client disconnect)
    cap      beyond max_connections, requests are answered 503 with Retry-After and their connection closed
    idle     keep-alive connections close after keep_alive_timeout_seconds without a request (uvicorn's own timer)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from syncwatch.settings import Settings

__all__ = ["GuardedProtocol", "server_config"]

log = logging.getLogger("syncwatch.collector.server")

RETRY_AFTER_S = 1


def server_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """How `syncwatch serve` and the tests run the collector: the same limits in both."""
    protocol = type(
        "CollectorProtocol",
        (GuardedProtocol,),
        {"header_timeout": settings.header_timeout_seconds, "body_timeout": settings.body_timeout_seconds},
    )
    values: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": protocol,
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "log_config": None,
        "access_log": False,
    }
    values.update(overrides)
    return uvicorn.Config(app, **values)


def _answer(status: bytes, message: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 " + status, b"content-type: text/plain; charset=utf-8", *extra]
    head += [b"content-length: " + str(len(message)).encode(), b"connection: close"]
    return b"\r\n".join(head) + b"\r\n\r\n" + message


_TIMEOUT_408 = _answer(b"408 Request Timeout", b"request not received in time")


async def _unavailable(scope: Any, receive: Any, send: Any) -> None:
    body = b"too many connections; retry later"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read deadlines; `server_config` sets the two timeouts."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._began = False  # a byte of the current request has arrived

    def _arm(self, seconds: float, stage: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, stage)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._began = True
        if self._deadline is None:  # a keep-alive connection's next request; the first is timed from connect
            self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, "body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._began = False

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # uvicorn's limit_concurrency picked its own 503 app, which sends no Retry-After
        super()._start_asgi_task(cycle, _unavailable if app is service_unavailable else app)

    def _expired(self, stage: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        current = cycle is not None and not cycle.response_complete
        if stage == "body" and current:
            if not cycle.response_started:
                self.transport.write(_TIMEOUT_408)
            # the handler still waiting on the body gets http.disconnect instead, and its answer is dropped
            cycle.disconnected = True
            cycle.message_event.set()
        elif stage == "headers" and self._began and not current:
            # not while an earlier request's answer may still be written (pipelining): only close then
            self.transport.write(_TIMEOUT_408)
        # a body still trickling in after its request was answered (a 401 before reading it) is closed silently
        peer = self.client[0] if self.client else "?"
        log.info("closed a connection from %s: its request %s did not arrive in time", peer, stage)
        self.transport.close()
