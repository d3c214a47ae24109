"""Connection limits with real sockets against the collector as `syncwatch serve` runs it: slow headers and slow
bodies get 408 and are closed, idle connections are closed, connections past the cap get 503 with Retry-After,
too many 401s from one address get 429, and a client that leaves mid-upload costs one log line, no traceback."""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncwatch.settings import Settings
from tests.conftest import Tokens, make_settings
from tests.integration.collector.running import running

HEADER_S, BODY_S, IDLE_S = 1.0, 1.5, 1.0
SLACK_S = 1.5  # the loop's timer and two cores shared with the test


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        header_timeout_seconds=HEADER_S,
        body_timeout_seconds=BODY_S,
        keep_alive_timeout_seconds=IDLE_S,
        unauthenticated_per_second=0.2,
        unauthenticated_burst=5,
    )


@pytest.fixture
def url(settings: Settings, tokens: Tokens) -> Iterator[str]:
    with running(settings) as base:
        yield base


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.setblocking(False)
    return sock


def drip(socks: list[socket.socket], chunk: bytes, until: float, every: float = 0.25) -> dict[int, tuple[bytes, float]]:
    """Send `chunk` on every open socket each `every` seconds; what each received and when the server closed it."""
    received = {id(s): b"" for s in socks}
    closed: dict[int, tuple[bytes, float]] = {}
    start = time.monotonic()
    next_send = start
    while len(closed) < len(socks) and time.monotonic() < until:
        now = time.monotonic()
        if chunk and now >= next_send:
            for s in socks:
                if id(s) not in closed:
                    try:
                        s.send(chunk)
                    except OSError:
                        pass
            next_send = now + every
        poller = select.poll()  # not select.select: a test process may hold descriptors past 1024
        by_fd = {s.fileno(): s for s in socks if id(s) not in closed}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(50):
            s = by_fd[fd]
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                received[id(s)] += data
            else:
                closed[id(s)] = (received[id(s)], time.monotonic() - start)
    return closed


def test_slow_headers_get_408_and_are_closed(url: str) -> None:
    socks = [connect(url) for _ in range(20)]
    for s in socks:
        s.send(b"POST /v1/traces HTTP/1.1\r\nHost: collector\r\n")
    closed = drip(socks, b"X-Slow: 1\r\n", until=time.monotonic() + HEADER_S + SLACK_S + 2)
    assert len(closed) == 20
    for data, after in closed.values():
        assert data.startswith(b"HTTP/1.1 408 "), data[:80]
        assert after <= HEADER_S + SLACK_S
    for s in socks:
        s.close()


def test_slow_bodies_get_408_and_are_closed(url: str, tokens: Tokens, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    head = (
        "POST /v1/traces HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {tokens['ingest']}\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    socks = [connect(url) for _ in range(20)]
    for s in socks:
        s.send(head)
    closed = drip(socks, b"          ", until=time.monotonic() + BODY_S + SLACK_S + 2)
    assert len(closed) == 20
    for data, after in closed.values():
        assert data.startswith(b"HTTP/1.1 408 "), data[:80]
        assert after <= BODY_S + SLACK_S
    for s in socks:
        s.close()
    time.sleep(0.3)  # the handlers that were reading see the disconnect and log
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_idle_connections_are_closed(url: str) -> None:
    socks = [connect(url) for _ in range(100)]  # never send a byte
    closed = drip(socks, b"", until=time.monotonic() + HEADER_S + SLACK_S + 2)
    assert len(closed) == 100
    assert all(data == b"" and after <= HEADER_S + SLACK_S for data, after in closed.values())
    for s in socks:
        s.close()

    keep_alive = connect(url)
    keep_alive.send(b"GET /healthz HTTP/1.1\r\nHost: collector\r\n\r\n")
    [(data, after)] = drip([keep_alive], b"", until=time.monotonic() + IDLE_S + SLACK_S + 2).values()
    assert data.startswith(b"HTTP/1.1 200 ") and b'"ok"' in data  # answered, then closed once idle
    assert IDLE_S - 0.2 <= after <= IDLE_S + SLACK_S
    keep_alive.close()


def test_a_client_leaving_mid_upload_costs_one_line(url: str, tokens: Tokens, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(5):
        s = connect(url)
        s.send(
            b"POST /v1/traces HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n"
            + f"Authorization: Bearer {tokens['ingest']}\r\n\r\n".encode()
            + b'{"resourceSpans": ['
        )
        time.sleep(0.2)
        s.close()
    deadline = time.monotonic() + 5
    while len([r for r in caplog.records if "went away" in r.getMessage()]) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(lines) == 5 and all(len(r.getMessage()) < 120 and not r.exc_info for r in lines)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_connections_past_the_cap_get_503_with_retry_after(settings: Settings) -> None:
    capped = settings.model_copy(update={"max_connections": 10, "header_timeout_seconds": 30.0})
    with running(capped) as base:
        held = [connect(base) for _ in range(12)]
        time.sleep(0.2)
        refused = httpx.get(f"{base}/healthz", timeout=10)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        for s in held:
            s.close()
        deadline = time.monotonic() + 5
        while (answer := httpx.get(f"{base}/healthz", timeout=10)).status_code != 200:
            assert time.monotonic() < deadline, answer.status_code
            time.sleep(0.05)


def test_repeated_401s_from_one_address_get_429(url: str, tokens: Tokens) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        guess = {"Authorization": "Bearer guess"}
        codes = [http.get("/api/v1/quarantine", headers=guess).status_code for _ in range(8)]
        assert codes == [401] * 5 + [429] * 3
        throttled = http.get("/api/v1/quarantine")
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
        # a valid token from the same address is not refused for its neighbours' guesses
        assert http.get("/api/v1/quarantine", headers={"Authorization": f"Bearer {tokens['read']}"}).status_code == 200


def test_a_body_trickling_after_its_answer_is_cut_without_a_second_answer(url: str) -> None:
    s = connect(url)  # no token: answered 401 before the body is read
    s.send(b"POST /v1/traces HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    [(data, after)] = drip([s], b"          ", until=time.monotonic() + BODY_S + SLACK_S + 2).values()
    assert data.startswith(b"HTTP/1.1 401 ") and data.count(b"HTTP/1.1 ") == 1
    assert after <= BODY_S + SLACK_S
    s.close()
