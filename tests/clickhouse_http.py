"""A test fixture, never a deployment option: ClickHouse's HTTP interface over the real engine (chDB).

The product's server mode (`SYNCWATCH_CLICKHOUSE_URL=http://...`) has no ClickHouse server to talk to on the
development machines. This module serves the part of ClickHouse's HTTP interface that clickhouse-connect uses, in a
process of its own (chDB allows one engine per process), so several collectors and workers can share one
warehouse in a test, and the warehouse can be stopped and started again under them:

    python -m tests.clickhouse_http --port 8123 --path /tmp/warehouse

What it answers, as ClickHouse does:
- `GET /ping` -> `Ok.`
- a query in the `query` URL parameter and/or the body (POST) or in `query` alone (GET); for an INSERT the body
  after the statement is the data, decompressed per `Content-Encoding` (lz4, zstd, gzip, deflate, br);
- `database`, `param_<name>` (bound by the engine itself: `{name:Type}` placeholders), any other URL parameter as a
  query setting (an unknown one fails as ClickHouse fails it: code 115); the transport parameters clickhouse-connect
  sends (`session_id`, `query_id`, `enable_http_compression`, ...) are accepted and ignored;
- results in the format the query names (Native, JSON, TabSeparated...), never compressed (clients read
  `Content-Encoding`);
- errors as HTTP 500 with a `Code: N. DB::Exception: ...` body and `X-ClickHouse-Exception-Code: N`, so
  clickhouse-connect raises what it raises against a real server;
- the `X-ClickHouse-Summary`, `-Query-Id`, `-Format`, `-Timezone` and `-Server-Display-Name` headers.
Queries run one at a time on one chDB connection: sessions share it (no temporary tables per session).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import tempfile
import threading
import uuid
import zlib
from typing import Any

import chdb
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["ClickHouseHttp", "build_app"]

# URL parameters that steer the HTTP exchange rather than the query; ClickHouse itself consumes them.
_TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "quota_key",
        "buffer_size",
        "wait_end_of_query",
        "compress",
        "decompress",
        "enable_http_compression",
        "http_zlib_compression_level",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "client_protocol_version",  # chDB writes Native without it; the client's probe then falls back to 0
        "cancel_http_readonly_queries_on_client_close",
        "user",
        "password",
    }
)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
# INSERT INTO t [(cols)] [SETTINGS ...] FORMAT X, then the data on the following line(s)
_INSERT = re.compile(
    r"^\s*(INSERT\s+INTO\s+.+?)\s+(?:SETTINGS\s+(.+?)\s+)?FORMAT\s+(\w+)[ \t]*\r?\n?", re.IGNORECASE | re.DOTALL
)
_CODE = re.compile(r"Code:\s*(\d+)")


def decompress(data: bytes, encoding: str) -> bytes:
    """A request body per its Content-Encoding, as ClickHouse's HTTP handler reads it."""
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity":
        return data
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(data))
    if encoding == "zstd":
        from clickhouse_connect.driver.compression import _zstd_decompress

        return bytes(_zstd_decompress(data))
    if encoding == "br":
        import brotli  # type: ignore[import-not-found, unused-ignore]

        return bytes(brotli.decompress(data))
    raise ValueError(f"Code: 1. DB::Exception: Unknown Content-Encoding {encoding!r}. (UNSUPPORTED_METHOD)")


class ClickHouseHttp:
    """One chDB connection behind a lock, answering HTTP requests the way ClickHouse's HTTP handler does."""

    def __init__(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        self.path = path
        self._conn = chdb.connect(path)
        self._lock = threading.Lock()
        self._database = "default"
        # settings this process changed from their defaults; restored when a request does not ask for them
        self._defaults: dict[str, str] = {}
        self._applied: dict[str, str] = {}
        self.timezone = self._run_text("SELECT timezone()").strip() or "UTC"
        self.version = self._run_text("SELECT version()").strip()

    def _run_text(self, sql: str) -> str:
        return str(self._conn.query(sql, "TabSeparated").bytes().decode())

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- one request ----------------------------------------------------------------------------------------
    def execute(self, params: dict[str, str], body: bytes) -> tuple[bytes, dict[str, str]]:
        """The answer's body and its ClickHouse headers; raises RuntimeError with the engine's message."""
        query = params.get("query", "")
        database = params.get("database") or "default"
        binds = {k[len("param_") :]: v for k, v in params.items() if k.startswith("param_")}
        settings = {k: v for k, v in params.items() if k not in _TRANSPORT and not k.startswith("param_")}
        data: bytes | None = None
        if query:
            statement = query
            # With the statement in the URL, a body is the INSERT's data, or more of the query text.
            if body:
                if _INSERT.match(query):
                    data = body
                else:
                    statement = query + "\n" + body.decode()
        else:
            statement, data = self._split(body)
        with self._lock:
            self._use(database)
            self._apply(settings)
            insert = _INSERT.match(statement)
            if insert is not None:
                if data is None:
                    data = statement[insert.end() :].encode()
                return self._insert(insert, data, binds)
            found = _TRAILING_FORMAT.search(statement)
            fmt = found.group(1) if found else params.get("default_format", "TabSeparated")
            result = self._conn.query(statement, fmt, params=binds)
            return bytes(result.bytes() or b""), {"X-ClickHouse-Format": fmt, **self._summary(result)}

    @staticmethod
    def _split(body: bytes) -> tuple[str, bytes | None]:
        """The statement and, for an INSERT with its data in the body, the data (which may be binary)."""
        head = body[:65536].decode("utf-8", "replace")
        insert = _INSERT.match(head)
        if insert is None:
            return body.decode(), None
        cut = len(head[: insert.end()].encode("utf-8"))
        return head[: insert.end()], body[cut:]

    def _insert(self, insert: re.Match[str], data: bytes, binds: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        # chDB has no stdin for a query: the data goes through a file, as clickhouse-connect's chDB backend does.
        target, inline_settings, fmt = insert.group(1), insert.group(2), insert.group(3)
        handle = tempfile.NamedTemporaryFile(prefix="ch-http-", suffix=".data", delete=False)  # noqa: SIM115
        try:
            with handle:
                handle.write(data)
            clause = f" SETTINGS {inline_settings}" if inline_settings else ""
            sql = f"{target} FROM INFILE '{handle.name}'{clause} FORMAT {fmt}"
            result = self._conn.query(sql, "TabSeparated", params=binds)
        finally:
            os.unlink(handle.name)
        return b"", self._summary(result, written=True)

    def _use(self, database: str) -> None:
        if database != self._database:
            if not _SETTING_NAME.match(database):
                raise RuntimeError(f"Code: 81. DB::Exception: Database {database} does not exist. (UNKNOWN_DATABASE)")
            self._conn.query(f"USE `{database}`", "TabSeparated")
            self._database = database

    def _apply(self, settings: dict[str, str]) -> None:
        """Per-request settings on the shared connection: set what differs, put back what this request omits."""
        for name in settings:
            if not _SETTING_NAME.match(name):
                raise RuntimeError(f"Code: 115. DB::Exception: Unknown setting '{name[:80]}'. (UNKNOWN_SETTING)")
        wanted = dict(settings)
        for name in list(self._applied):
            if name not in wanted:
                wanted[name] = self._defaults[name]
        for name, value in wanted.items():
            if self._applied.get(name, self._defaults.get(name)) == value:
                continue
            if name not in self._defaults:
                rows = self._conn.query(
                    "SELECT value FROM system.settings WHERE name = {n:String}", "TabSeparated", params={"n": name}
                ).bytes()
                if not rows:
                    raise RuntimeError(f"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)")
                self._defaults[name] = rows.decode().rstrip("\n")
                if self._defaults[name] == value:
                    continue
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            self._conn.query(f"SET {name} = '{escaped}'", "TabSeparated")
            if value == self._defaults[name]:
                self._applied.pop(name, None)
            else:
                self._applied[name] = value

    @staticmethod
    def _summary(result: Any, *, written: bool = False) -> dict[str, str]:
        try:
            rows, size = int(result.rows_read()), int(result.bytes_read())
        except Exception:
            rows, size = 0, 0
        summary = {
            "read_rows": str(rows),
            "read_bytes": str(size),
            "written_rows": str(rows if written else 0),
            "written_bytes": str(size if written else 0),
            "total_rows_to_read": str(rows),
            "result_rows": str(0 if written else rows),
            "result_bytes": str(0 if written else size),
            "elapsed_ns": str(int(float(getattr(result, "elapsed", lambda: 0.0)()) * 1e9)),
        }
        return {"X-ClickHouse-Summary": json.dumps(summary)}


def build_app(engine: ClickHouseHttp) -> Starlette:
    common = {"X-ClickHouse-Server-Display-Name": "chdb-test-server", "X-ClickHouse-Timezone": engine.timezone}

    async def ping(request: Request) -> Response:
        return PlainTextResponse("Ok.\n", headers=common)

    async def query(request: Request) -> Response:
        params = dict(request.query_params)
        query_id = params.get("query_id") or str(uuid.uuid4())
        headers = {**common, "X-ClickHouse-Query-Id": query_id}
        try:
            form = None
            if request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form")):
                form = await request.form()
                params.update({k: str(v) for k, v in form.items() if isinstance(v, str)})
                body = b""
            else:
                body = decompress(await request.body(), request.headers.get("content-encoding", ""))
            answer, extra = await run_in_threadpool(engine.execute, params, body)
        except Exception as exc:
            message = str(exc).strip() or type(exc).__name__
            found = _CODE.search(message)
            code = found.group(1) if found else "1001"  # STD_EXCEPTION: not from the engine
            if not message.startswith("Code:"):
                message = f"Code: {code}. DB::Exception: {message}"
            text = f"{message} (version {engine.version})\n"
            return PlainTextResponse(text, status_code=500, headers={**headers, "X-ClickHouse-Exception-Code": code})
        return Response(answer, headers={**headers, **extra}, media_type="application/octet-stream")

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET", "HEAD"]),
            Route("/", query, methods=["GET", "POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A ClickHouse HTTP interface over chDB, for tests only.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True, help="the chDB warehouse directory")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    engine = ClickHouseHttp(args.path)
    try:
        uvicorn.run(build_app(engine), host=args.host, port=args.port, log_level="warning", workers=1)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
