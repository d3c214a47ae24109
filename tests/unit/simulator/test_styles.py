"""Integration styles: parsed with clear errors, and each changes exactly what it says in the event stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from simulator.runner import backfill
from simulator.styles import IntegrationStyle, parse_styles

END = datetime(2026, 11, 20, tzinfo=UTC).timestamp()


class _Collect:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def span(self, span: Any) -> None:
        pass


def test_parse_styles() -> None:
    assert parse_styles(None) == IntegrationStyle()
    style = parse_styles(["outcome_only", "late_master_data", "missing_project_events=0.2"])
    assert style == IntegrationStyle(outcome_only=True, late_master_data_days=3.0, missing_project_share=0.2)
    with pytest.raises(ValueError, match="unknown style 'outcomes'; known: outcome_only"):
        parse_styles(["outcomes"])
    with pytest.raises(ValueError, match="at most 1"):
        parse_styles(["missing_project_events=2"])
    with pytest.raises(ValueError, match="takes no value"):
        parse_styles(["missing_extensions=1"])


def _run(*styles: str) -> tuple[Any, list[dict[str, Any]]]:
    sink = _Collect()
    sim = backfill(40, 12, 3, sink, end=END, spans=False, style=parse_styles(list(styles)))
    return sim, sink.events


def test_each_style_changes_what_it_says_and_nothing_else() -> None:
    _, plain = _run()
    _, outcomes = _run("outcome_only")
    kinds = lambda events: {e["type"] for e in events}  # noqa: E731
    assert "time_entry.post_requested" in kinds(plain)
    assert "time_entry.post_requested" not in kinds(outcomes)
    assert len(outcomes) == len(plain) - sum(1 for e in plain if e["type"] == "time_entry.post_requested")

    _, bare = _run("missing_extensions")
    assert len(bare) == len(plain)
    assert all(("sourcesystem" in e) == e["source"].startswith("/middleware/") for e in bare)

    sim, missing = _run("missing_project_events=0.3")
    psa_projects = lambda events: {e["data"]["project_code"] for e in events  # noqa: E731
                                   if e["source"].startswith("/psa/") and ".project." in e["type"]}  # fmt: skip
    lost = psa_projects(plain) - psa_projects(missing)
    assert lost and all(sim.style.project_never_announced(code) for code in lost)
    assert set(sim.psa_announced) == psa_projects(missing)
