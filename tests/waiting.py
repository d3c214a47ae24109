"""Waiting for a server that another process is starting: the one loop the tests and the benchmarks share."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

__all__ = ["serving", "wait_http"]


def wait_http(
    url: str,
    process: subprocess.Popen[Any] | None = None,
    *,
    timeout: float = 60.0,
    headers: dict[str, str] | None = None,
    what: str = "the server",
) -> None:
    """Return once GET `url` answers 200. Fails (AssertionError) as soon as `process` exits, with its output when
    it was piped, or when `timeout` seconds pass: a server that never comes up must not cost the whole timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            text = output.decode(errors="replace") if isinstance(output, bytes) else str(output or "")
            raise AssertionError(f"{what} exited with {process.returncode} before answering {url}\n{text[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer {url} within {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def serving(
    args: Sequence[str], ready_url: str, *, what: str, timeout: float = 60.0, **popen: Any
) -> Iterator[subprocess.Popen[Any]]:
    """Start a server process, yield it once `ready_url` answers, and stop it afterwards (killed if it will not
    stop), whatever the test did. `popen` goes to subprocess.Popen (cwd, env, stdout, stderr)."""
    process = subprocess.Popen(list(args), **popen)
    try:
        wait_http(ready_url, process, timeout=timeout, what=what)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
