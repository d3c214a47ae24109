"""An idle collector's log at INFO carries what an operator acts on, not the scheduler's every run."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.collector.test_process import Process, proc  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration
WINDOW_S = 20


def _lines(process: Process) -> list[dict[str, object]]:
    lines = []
    for raw in (process.workdir / "serve.log").read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            lines.append({"level": "?", "logger": "?", "msg": raw})
    return lines


def test_an_idle_collector_writes_a_handful_of_info_lines_a_minute(proc: Process) -> None:  # noqa: F811
    proc.env["SYNCWATCH_LOG_LEVEL"] = "INFO"
    proc.start()
    time.sleep(5)  # start-up lines and the first evaluation's transitions
    before = len(_lines(proc))
    time.sleep(WINDOW_S)
    window = _lines(proc)[before:]
    # The alert dispatch runs every second: apscheduler's two INFO lines per run were 2 a second before.
    assert [line for line in window if str(line["logger"]).startswith("apscheduler")] == []
    per_minute = len(window) * 60 / WINDOW_S
    assert per_minute <= 12, window  # measured idle: 0-6 a minute (alert state transitions at start)


def test_scheduler_runs_show_at_debug(proc: Process) -> None:  # noqa: F811
    proc.env["SYNCWATCH_LOG_LEVEL"] = "DEBUG"
    proc.start()
    time.sleep(5)
    routine = [line for line in _lines(proc) if str(line["logger"]).startswith("apscheduler")]
    assert routine and {line["level"] for line in routine} == {"debug"}
