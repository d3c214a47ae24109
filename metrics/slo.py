"""SLO configuration: objectives per SLI and flow cadences, loaded from YAML and validated with errors that name
the SLI and the field (metrics/slos.yaml is the default; SYNCWATCH_SLO_FILE points elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from metrics.slis.flows import DEFAULT_CADENCES
from syncwatch.durations import parse_timedelta

__all__ = ["DEFAULT_SLO_FILE", "CALENDAR_MONTH", "Objective", "SloConfig", "SloConfigError", "load_slos"]

DEFAULT_SLO_FILE = Path(__file__).with_name("slos.yaml")
CALENDAR_MONTH = "calendar_month"
DEFAULT_PARTIAL_ABOVE = 0.01


class SloConfigError(ValueError):
    """The SLO file is wrong; the message names the file, the SLI and the field."""


@dataclass(frozen=True, slots=True)
class Objective:
    target: float
    window: timedelta | None  # None: the calendar month to date
    bad: float | None = None

    @property
    def window_label(self) -> str:
        if self.window is None:
            return CALENDAR_MONTH
        days = self.window.total_seconds() / 86400
        return f"{days:g}d" if days >= 1 else f"{self.window.total_seconds() / 3600:g}h"


@dataclass(frozen=True, slots=True)
class SloConfig:
    objectives: dict[str, Objective] = field(default_factory=dict)
    cadences: dict[str, timedelta] = field(default_factory=lambda: dict(DEFAULT_CADENCES))
    # An SLI that had to leave out more than this share of its records (or money) reads `partial`, not `ok`.
    partial_above: float = DEFAULT_PARTIAL_ABOVE


def _window(value: Any, where: str) -> timedelta | None:
    if value == CALENDAR_MONTH:
        return None
    try:
        return parse_timedelta(str(value))
    except ValueError as exc:
        raise SloConfigError(f"{where}: window: {exc} or {CALENDAR_MONTH}") from exc


def load_slos(path: Path | None = None, known: set[str] | None = None) -> SloConfig:
    path = path or DEFAULT_SLO_FILE
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SloConfigError(f"{path}: cannot read SLO file: {exc}") from exc
    if not isinstance(raw, dict):
        raise SloConfigError(f"{path}: expected a mapping with 'slos' and 'flows'")
    unknown_top = set(raw) - {"window", "slos", "flows", "partial_above"}
    if unknown_top:
        raise SloConfigError(
            f"{path}: unknown top-level field(s) {sorted(unknown_top)}; allowed: window, slos, flows, partial_above"
        )
    partial_above = raw.get("partial_above", DEFAULT_PARTIAL_ABOVE)
    if isinstance(partial_above, bool) or not isinstance(partial_above, int | float) or not 0 <= partial_above < 1:
        raise SloConfigError(f"{path}: partial_above: expected a share from 0 to below 1, got {partial_above!r}")
    default_window = _window(raw.get("window", "30d"), f"{path}")
    objectives = {}
    for name, spec in (raw.get("slos") or {}).items():
        where = f"{path}: slos.{name}"
        if known is not None and name not in known:
            raise SloConfigError(f"{where}: unknown SLI; known: {', '.join(sorted(known))}")
        if not isinstance(spec, dict):
            raise SloConfigError(f"{where}: expected a mapping with objective (and optionally bad, window)")
        extra = set(spec) - {"objective", "bad", "window"}
        if extra:
            raise SloConfigError(f"{where}: unknown field(s) {sorted(extra)}; allowed: objective, bad, window")
        values = {}
        for key in ("objective", "bad"):
            if key in spec:
                value = spec[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise SloConfigError(f"{where}.{key}: expected a number, got {value!r}")
                values[key] = float(value)
        if "objective" not in values:
            raise SloConfigError(f"{where}.objective: required")
        window = _window(spec["window"], where) if "window" in spec else default_window
        objectives[name] = Objective(values["objective"], window, values.get("bad"))
    cadences = dict(DEFAULT_CADENCES)
    for flow, value in (raw.get("flows") or {}).items():
        try:
            cadences[str(flow)] = parse_timedelta(str(value))
        except ValueError as exc:
            raise SloConfigError(f"{path}: flows.{flow}: {exc}") from exc
    return SloConfig(objectives, cadences, float(partial_above))
