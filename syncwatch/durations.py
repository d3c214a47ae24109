"""Durations, one grammar for every stage: Prometheus-style ("15s", "5m", "1h30m", "3d", "2w", "500ms") to seconds
and back. Alert rules, SLO files, API query parameters (syncwatch.params) and the CLI all read them here."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration", "parse_timedelta"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration; a bare number is seconds. Raises ValueError with the offending text."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"negative duration: {text!r}")
        return float(text)
    s = str(text).strip()
    if not s:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h30m, 3d)")
    return total


def parse_timedelta(text: str | int | float) -> timedelta:
    """parse_duration as a timedelta; ValueError as there, and for a duration no timedelta holds."""
    seconds = parse_duration(text)
    try:
        return timedelta(seconds=seconds)
    except OverflowError as exc:
        raise ValueError(f"duration too long: {text!r}") from exc


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration for a whole number of seconds (0 -> "0s")."""
    rest = int(round(seconds))
    if rest == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out)
