"""The SLO file: defaults load, and every mistake is refused with the file, SLI and field in the message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from metrics.evaluate import status_of
from metrics.slis import NAMES
from metrics.slo import SloConfigError, load_slos


def test_the_packaged_file_covers_every_sli() -> None:
    config = load_slos(known=set(NAMES))
    assert set(config.objectives) == set(NAMES)
    assert config.objectives["time_posting_first_pass"].target == 0.97
    assert config.objectives["time_posting_first_pass"].bad == 0.95
    assert config.objectives["time_posting_first_pass"].window == timedelta(days=30)
    assert config.cadences["psa-to-erp-time"] == timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slos:\n  nope: {objective: 1}\n", "slos.nope: unknown SLI"),
        ("slos:\n  flow_silence: {bad: 1}\n", "slos.flow_silence.objective: required"),
        ("slos:\n  flow_silence: {objective: high}\n", "slos.flow_silence.objective: expected a number"),
        ("slos:\n  flow_silence: {objective: 0, window: forever}\n", "slos.flow_silence: window: not a duration"),
        ("slos:\n  flow_silence: {objective: 0, colour: red}\n", "unknown field(s) ['colour']"),
        ("flows:\n  psa-to-erp-time: often\n", "flows.psa-to-erp-time: not a duration"),
        ("windows: 30d\n", "unknown top-level field(s) ['windows']"),
        ("- a list\n", "expected a mapping"),
        ("slos: {flow_silence: [\n", "cannot read SLO file"),
    ],
)
def test_mistakes_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text(text)
    with pytest.raises(SloConfigError) as raised:
        load_slos(path, known=set(NAMES))
    assert message in str(raised.value)
    assert str(path) in str(raised.value)


def test_calendar_month_windows(tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text("window: calendar_month\nslos:\n  time_posting_eventual: {objective: 0.99}\n")
    objective = load_slos(path).objectives["time_posting_eventual"]
    assert objective.window is None and objective.window_label == "calendar_month"


@pytest.mark.parametrize(
    ("value", "comparison", "target", "bad", "expected"),
    [
        (0.99, ">=", 0.98, 0.95, "ok"),
        (0.96, ">=", 0.98, 0.95, "warning"),
        (0.90, ">=", 0.98, 0.95, "breach"),
        (0.90, ">=", 0.98, None, "breach"),
        (0.0, "<=", 0.0, 0.001, "ok"),
        (0.0005, "<=", 0.0, 0.001, "warning"),
        (0.01, "<=", 0.0, 0.001, "breach"),
        (None, "<=", 0.0, None, "no_data"),
    ],
)
def test_status(value: float | None, comparison: str, target: float, bad: float | None, expected: str) -> None:
    assert status_of(value, comparison, target, bad) == expected
