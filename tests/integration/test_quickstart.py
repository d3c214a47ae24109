"""docs/quickstart.md run as a script, as a newcomer runs it: its shell blocks against a running collector.

Sections 2 to 5 run against one `syncwatch serve` with the demo tokens `make run` would have written (`make run`
itself and the fault switches, which need its live simulator, are covered by their own tests); section 6 runs on
its own, from a directory with nothing in it, as "only the collector". The collector's address is the test's free
port instead of 4318, and the backfill is smaller; nothing else in the text is changed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.collector.test_process import SYNCWATCH, Process

pytestmark = pytest.mark.integration

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _sections() -> dict[str, list[str]]:
    """The shell blocks of each numbered section, by the section's number."""
    text = QUICKSTART.read_text()
    parts = re.split(r"^## (\d+)\. .*$", text, flags=re.MULTILINE)
    return {number: _BLOCK.findall(body) for number, body in zip(parts[1::2], parts[2::2], strict=True)}


def _script(blocks: list[str], port: int) -> str:
    body = "\n".join(blocks).replace("http://127.0.0.1:4318", f"http://127.0.0.1:{port}")
    body = body.replace(".venv/bin/syncwatch", SYNCWATCH)
    return "set -euo pipefail\n" + body


def _run(script: str, proc: Process, timeout: float = 600) -> str:
    """The script in its own process group, which is stopped afterwards with whatever it started in the
    background (section 6's `serve &`): a non-interactive shell keeps its jobs in its group."""
    shell = subprocess.Popen(["bash", "-c", script], cwd=proc.workdir, env=proc.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, process_group=0)  # fmt: skip
    try:
        out, err = shell.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(shell.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        shell.wait(timeout=60)
    assert shell.returncode == 0, f"quickstart failed:\n{out[-3000:]}\n{err[-3000:]}"
    return out + err  # progress and summaries go to stderr


def test_the_quickstart_sections_run_against_a_collector(tmp_path: Path) -> None:
    sections = _sections()
    assert sorted(sections) == ["1", "2", "3", "4", "5", "6"]
    proc = Process(tmp_path)
    proc.start()
    try:
        # What `make run` leaves for sections 2 onwards: var/demo-tokens.env with an ingest and a read token.
        ingest = proc.cli("token", "create", "--name", "demo-ingest", "--scope", "ingest").stdout.strip()
        read = proc.cli("token", "create", "--name", "demo-read", "--scope", "read").stdout.strip()
        (tmp_path / "var" / "demo-tokens.env").write_text(
            f"SYNCWATCH_INGEST_TOKEN={ingest}\nSYNCWATCH_READ_TOKEN={read}\n"
        )
        blocks = [b for n in ("2", "3", "4", "5") for b in sections[n] if "simulate fault" not in b]
        out = _run(_script(blocks, proc.port), proc)
    finally:
        proc.stop()
    # Section 3: every SLI answered, with a status. Section 5: the span joined entry E-1's journey.
    assert out.count('"status":') >= 14
    assert '"post time entry"' in out
    assert re.search(r'"spans": 1\b', out), out[-2000:]
    assert "psa-connector" in out  # section 4's token list


def test_only_the_collector_section_runs_from_an_empty_directory(tmp_path: Path) -> None:
    proc = Process(tmp_path)
    blocks = _sections()["6"]
    script = _script(blocks, proc.port).replace("--consultants 500 --days 30", "--consultants 20 --days 2")
    # The backfill's collector is the one the section started, on the test's port.
    script = script.replace('--token "$token"', f'--token "$token" --base-url {proc.url}')
    out = _run(script + "\nkill %1\nwait\n", proc)
    assert re.search(r"[\d,]+ events", out), out[-2000:]
    assert "rejected 0" in out
