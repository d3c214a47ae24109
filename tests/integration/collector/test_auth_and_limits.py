"""Tokens and scopes on every API, per-token rate limits, the bounded queue, and the spool when inserts fail."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client

from tests.conftest import ThreadedCollector, Tokens, auth, make_settings
from tests.factories import event

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
ROUTES = [
    ("POST", "/v1/events", "ingest"),
    ("POST", "/v1/traces", "ingest"),
    ("GET", "/api/v1/records/E-1", "read"),
    ("GET", "/api/v1/quarantine", "read"),
    ("GET", "/metrics", "read"),
    ("GET", "/api/v1/admin/tokens", "admin"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_api_needs_a_token_with_its_scope(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client, method: str, path: str, scope: str
) -> None:
    url = collector.url + path
    headers = {"Content-Type": "application/json"} if path == "/v1/traces" else BATCH
    body = b"{}" if path == "/v1/traces" else b"[]"

    def call(extra: dict[str, str]) -> httpx.Response:
        return http.request(method, url, content=body if method == "POST" else None, headers={**headers, **extra})

    assert call({}).status_code == 401
    assert call({"Authorization": "Bearer swt_not-a-real-token"}).status_code == 401
    assert call({"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401
    assert call(auth(tokens["revoked"])).status_code == 401
    wrong = "read" if scope != "read" else "ingest"
    denied = call(auth(tokens[wrong]))
    assert denied.status_code == 403
    assert scope in denied.text
    assert call(auth(tokens[scope])).status_code == 200
    assert call(auth(tokens["admin"])).status_code == 200  # admin implies every scope


def test_admin_api_creates_and_revokes_tokens(collector: ThreadedCollector, tokens: Tokens, http: httpx.Client) -> None:
    admin = auth(tokens["admin"])
    created = http.post(
        f"{collector.url}/api/v1/admin/tokens", json={"name": "psa-connector", "scopes": ["ingest"]}, headers=admin
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    assert http.post(f"{collector.url}/v1/events", content=b"[]", headers={**auth(secret), **BATCH}).status_code == 200
    listed = http.get(f"{collector.url}/api/v1/admin/tokens", headers=admin).json()
    assert "psa-connector" in {t["name"] for t in listed}
    assert secret not in orjson.dumps(listed).decode()
    duplicate = http.post(
        f"{collector.url}/api/v1/admin/tokens", json={"name": "psa-connector", "scopes": ["ingest"]}, headers=admin
    )
    assert duplicate.status_code == 422
    bad_scope = http.post(f"{collector.url}/api/v1/admin/tokens", json={"name": "x", "scopes": ["root"]}, headers=admin)
    assert bad_scope.status_code == 422 and "root" in bad_scope.text
    assert http.delete(f"{collector.url}/api/v1/admin/tokens/psa-connector", headers=admin).status_code == 200
    assert http.post(f"{collector.url}/v1/events", content=b"[]", headers={**auth(secret), **BATCH}).status_code == 401
    assert http.delete(f"{collector.url}/api/v1/admin/tokens/nobody", headers=admin).status_code == 404


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path, warehouse: Client, tokens: Tokens) -> None:
    s = make_settings(tmp_path, database=warehouse.database, rate_limit_per_second=1, rate_limit_burst=3)
    with ThreadedCollector(s) as collector, httpx.Client() as http:
        codes = [
            http.post(f"{collector.url}/v1/events", content=b"[]", headers={**auth(tokens["ingest"]), **BATCH})
            for _ in range(5)
        ]
        assert [c.status_code for c in codes[:3]] == [200, 200, 200]
        assert codes[3].status_code == 429 and int(codes[3].headers["Retry-After"]) >= 1
        # another token has its own budget
        assert http.get(f"{collector.url}/api/v1/quarantine", headers=auth(tokens["read"])).status_code == 200


def test_full_queue_answers_503_and_keeps_nothing(tmp_path: Path, warehouse: Client, tokens: Tokens) -> None:
    s = make_settings(tmp_path, database=warehouse.database, queue_max_rows=5)
    with ThreadedCollector(s) as collector, httpx.Client() as http:
        answer = http.post(
            f"{collector.url}/v1/events",
            content=orjson.dumps([event() for _ in range(6)]),
            headers={**auth(tokens["ingest"]), **BATCH},
        )
        assert answer.status_code == 503 and answer.headers["Retry-After"]
        ok = http.post(
            f"{collector.url}/v1/events",
            content=orjson.dumps([event() for _ in range(5)]),
            headers={**auth(tokens["ingest"]), **BATCH},
        )
        assert ok.status_code == 200
    assert warehouse.query("SELECT count() FROM events").result_rows[0][0] == 5


def test_failed_inserts_are_spooled_acknowledged_and_replayed_once(
    tmp_path: Path, warehouse: Client, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warehouse refuses inserts (as a ClickHouse server that is down does); acknowledged data waits on disk."""
    s = make_settings(tmp_path, database=warehouse.database)
    with ThreadedCollector(s) as collector, httpx.Client() as http:
        writer = collector.service.writers["events"]
        real_insert = writer._insert
        outage = {"on": True}

        def flaky_insert(*args: object, **kwargs: object) -> None:
            if outage["on"]:
                raise ConnectionRefusedError("warehouse down")
            real_insert(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(writer, "_insert", flaky_insert)
        sent = [event() for _ in range(50)]
        for chunk in (sent[:25], sent[25:]):
            answer = http.post(
                f"{collector.url}/v1/events", content=orjson.dumps(chunk), headers={**auth(tokens["ingest"]), **BATCH}
            )
            assert answer.status_code == 200
        assert len(collector.service.spool.pending("events")) >= 1
        assert warehouse.query("SELECT count() FROM events").result_rows[0][0] == 0
        ready = http.get(f"{collector.url}/readyz").json()
        assert ready["spooled_batches"] >= 1
        # a redelivery during the outage is still recognised as a duplicate
        again = http.post(
            f"{collector.url}/v1/events", content=orjson.dumps(sent[:3]), headers={**auth(tokens["ingest"]), **BATCH}
        )
        assert again.json()["duplicates"] == 3
        outage["on"] = False
        deadline = time.monotonic() + 15
        while collector.service.spool.pending("events") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert collector.service.spool.pending("events") == []
    rows = warehouse.query("SELECT count(), uniqExact(source, id) FROM events").result_rows[0]
    assert rows == (50, 50)
