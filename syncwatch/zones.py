"""One check for the time zones settings and config files name (SLA calendars, mute intervals, the report's
schedule): an IANA name the interpreter's zone database knows, with one message for every place that asks."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["iana_zone"]


def iana_zone(value: str) -> str:
    """value unchanged when it names a known zone; ValueError (for a pydantic validator to report) otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin") from exc
    return value
