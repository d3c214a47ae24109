"""What every `syncwatch` command shares: the client of a running collector, failing with one message, and
listings printed as tables that cut no value or as JSON (`--json`).

Errors:
    CollectorError              a call to the running collector did not succeed
      +-- CollectorUnreachable  no answer: connection refused, timeout, broken connection
      +-- CollectorRefused      an HTTP status >= 400; `message` is the answer's "error" field

httpx errors are translated in one place, `CollectorClient.call`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import httpx
import orjson
import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from syncwatch.settings import Settings

__all__ = [
    "CollectorClient",
    "CollectorError",
    "CollectorRefused",
    "CollectorUnreachable",
    "JsonOpt",
    "LocalCollector",
    "call_or_fail",
    "fail",
    "local_collector",
    "print_json",
    "print_table",
    "quiet_engine_output",
    "table",
]

errors = Console(stderr=True)
_UNBOUNDED = 100_000  # columns: a piped table is as wide as its widest row

JsonOpt = Annotated[bool, typer.Option("--json", help="print every field as JSON instead of a table")]


class CollectorError(RuntimeError):
    """A call to the running collector did not succeed; str() is a sentence for the user."""


class CollectorUnreachable(CollectorError):
    """The collector did not answer."""


class CollectorRefused(CollectorError):
    """The collector answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LocalCollector:
    """The collector running on this machine, as its local admin file records it."""

    url: str
    admin_token: str
    pid: int


def local_collector(settings: Settings) -> LocalCollector | None:
    """The collector whose local admin file is in this directory and whose process is alive, else None."""
    path = settings.local_admin_file
    try:
        info = orjson.loads(path.read_bytes())
        found = LocalCollector(url=str(info["url"]), admin_token=str(info["admin_token"]), pid=int(info["pid"]))
        os.kill(found.pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found


class CollectorClient:
    """Calls the collector's API with a bearer token; inject `transport` to test without a network."""

    def __init__(
        self, base_url: str, token: str, *, timeout: float = 30, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    @classmethod
    def local(cls, found: LocalCollector, **kwargs: Any) -> CollectorClient:
        return cls(found.url, found.admin_token, **kwargs)

    def call(self, method: str, path: str, body: Any = None, *, timeout: float | None = None) -> Any:
        """The decoded JSON answer. Raises CollectorUnreachable or CollectorRefused (see the module docstring)."""
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(method, path, json=body, **extra)
        except httpx.HTTPError as exc:
            raise CollectorUnreachable(f"the collector at {self.base_url} did not answer: {exc}") from exc
        if response.status_code >= 400:
            raise CollectorRefused(response.status_code, _error_field(response))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CollectorRefused(response.status_code, f"the answer is not JSON: {response.text[:200]}") from exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CollectorClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _error_field(response: httpx.Response) -> str:
    """The collector answers every error as {"error": "...", "status": N}; a proxy in front may not."""
    try:
        answer = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return str(answer["error"])
    return response.text.strip()


def fail(message: str) -> NoReturn:
    # soft_wrap: one line however long, so a terminal wraps it and a log or grep sees it whole
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def call_or_fail(client: CollectorClient, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
    try:
        return client.call(method, path, body, **kwargs)
    except CollectorError as exc:
        fail(str(exc))


def table(*headers: str, fixed: tuple[str, ...] = ()) -> Table:
    """Columns named in `fixed` hold short values (times, counts, states) and never break; the others wrap, and a
    word longer than its column folds onto the next line rather than being cut with an ellipsis."""
    out = Table()
    for header in headers:
        out.add_column(header, overflow="fold", no_wrap=header in fixed)
    return out


def print_table(rows: Table) -> None:
    """At a terminal, fit its width; piped or redirected, print every row at its full width, on one line, for grep."""
    console = Console()  # built per call, so COLUMNS (scripts, tests) is read when the table is printed
    if not console.is_terminal:
        natural = Measurement.get(console, console.options.update_width(_UNBOUNDED), rows).maximum
        console = Console(width=max(console.width, natural))
    console.print(rows)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


@contextmanager
def quiet_engine_output() -> Iterator[None]:
    """chDB's C++ engine writes its exception to file descriptor 2 before Python sees it (for a locked warehouse:
    "Code: 76. DB::Exception: Cannot lock file ..."), ahead of the sentence the CLI prints. Hold what is written
    there while the warehouse opens; replay it only if opening succeeded, since a failure is reported by the
    exception. For commands only: it swaps a process-wide descriptor, so no other thread may be writing."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if ok:
                held.seek(0)
                text = held.read()
                if text:
                    os.write(2, text)
