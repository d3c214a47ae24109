"""Small charts drawn as SVG on the server and shown as images.

Why not Altair here: measured in headless Chromium on this project's 2-core hosts, every Vega chart adds
0.4-0.5 s to a page's first render (the library compiles the spec and draws in the browser), while an image adds
almost nothing. Pages keep Vega for the one chart each where hovering matters (the record waterfall, the worst
breakdown rows) and draw the rest here. Labels are mid-grey, readable on light and dark backgrounds; exact
numbers are always in a table or a tile next to the chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

__all__ = ["axis", "axis_unit", "bars", "line", "offset_label", "time_labels", "waterfall", "y_bounds"]

_GRID = "#8a8a8a"
_LINE = "#1e88e5"
_REF = "#e53935"
_FONT = 'font-family="sans-serif" font-size="11" fill="#8a8a8a"'


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values (1, 2, 2.5 or 5 times a power of ten apart) inside [low, high], about `count` steps."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _time_format(span_seconds: float) -> str:
    """The coarsest time format that still tells the ticks of a span apart (no axis of five identical labels)."""
    if span_seconds > 4 * 86400:
        return "%b %d"
    if span_seconds > 86400:
        return "%b %d %H:%M"
    if span_seconds >= 4 * 60:
        return "%H:%M"
    return "%H:%M:%S"


def time_labels(t0: float, span_seconds: float, tz: tzinfo | None, count: int = 5) -> list[str]:
    """Labels for `count` evenly spaced ticks over the span; a label equal to the one before it is left blank."""
    fmt = _time_format(span_seconds)
    out: list[str] = []
    previous = None
    for i in range(count):
        label = datetime.fromtimestamp(t0 + span_seconds * i / (count - 1), tz=tz).strftime(fmt)
        out.append("" if label == previous else label)
        previous = label
    return out


def y_bounds(numbers: Sequence[float], y_range: tuple[float, float] | None = None) -> tuple[float, float]:
    """The y axis's range: the data's with a little room, never below zero for data that is never below zero (an
    axis at -863 events/min or -0.6 days shows a quantity that cannot exist)."""
    if y_range:
        return y_range
    low, high = min(numbers), max(numbers)
    floor = 0.0 if low >= 0 else None
    if high - low < 1e-12:
        low, high = low - (abs(low) * 0.05 or 1.0), high + (abs(high) * 0.05 or 1.0)
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad
    if floor is not None and low < floor:
        low = floor
    return low, high


def line(
    times: Sequence[datetime],
    values: Sequence[float | None],
    y_title: str,
    y_label: Callable[[float], str],
    reference: float | None = None,
    reference_label: str = "objective",
    area: bool = False,
    y_range: tuple[float, float] | None = None,
    width: int = 900,
    height: int = 260,
    tick_unit: float = 1.0,
) -> str:
    """A time series as a stepped line (or area), an optional dashed reference line, labelled axes. Shown
    stretched to its column, so `width` should be about the column's width in pixels to keep it `height` tall.
    `tick_unit`: the size of one unit the labels show (86400 for an axis of seconds labelled in days, see
    `axis_unit`), so ticks fall on round numbers of it."""
    left, right, top, bottom = 70, 16, 14, 38
    plot_w, plot_h = width - left - right, height - top - bottom
    pairs = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    if not pairs:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" {_FONT}>no data</text></svg>')
        return "".join(parts)
    t0, t1 = pairs[0][0].timestamp(), pairs[-1][0].timestamp()
    span_t = max(t1 - t0, 1.0)
    numbers = [v for _, v in pairs] + ([reference] if reference is not None else [])
    low, high = y_bounds(numbers, y_range)

    def x(t: datetime) -> float:
        return left + (t.timestamp() - t0) / span_t * plot_w

    def y(v: float) -> float:
        return top + (1 - (v - low) / (high - low)) * plot_h

    shown = ""
    for tick in (t * tick_unit for t in _ticks(low / tick_unit, high / tick_unit)):
        if y_label(tick) == shown:  # rounded to the same text as the tick below it: one label is enough
            continue
        shown = y_label(tick)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{_GRID}" stroke-opacity="0.25"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" {_FONT}>'
            f"{_esc(y_label(tick))}</text>"
        )
    for i, label in enumerate(time_labels(t0, span_t, pairs[0][0].tzinfo)):
        anchor = "start" if i == 0 else ("end" if i == 4 else "middle")
        parts.append(
            f'<text x="{left + plot_w * i / 4:.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}" '
            f"{_FONT}>{label}</text>"
        )
    parts.append(
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" {_FONT} '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{_esc(y_title)}</text>'
        f'<text x="{left + plot_w}" y="{height - 4}" text-anchor="end" {_FONT}>time (UTC)</text>'
    )
    # a stepped path: a snapshot's value holds until the next one
    path = [f"M{x(pairs[0][0]):.1f},{y(pairs[0][1]):.1f}"]
    for (_, v_prev), (t, v) in zip(pairs, pairs[1:], strict=False):
        path.append(f"H{x(t):.1f}V{y(v):.1f}")
        del v_prev
    stroke = " ".join(path)
    if area:
        parts.append(f'<path d="{stroke} V{y(low):.1f} H{x(pairs[0][0]):.1f} Z" fill="{_LINE}" fill-opacity="0.3"/>')
    parts.append(f'<path d="{stroke}" fill="none" stroke="{_LINE}" stroke-width="2"/>')
    if len(pairs) == 1:  # one snapshot so far (a fresh install): a path of one point draws nothing
        parts.append(f'<circle cx="{x(pairs[0][0]):.1f}" cy="{y(pairs[0][1]):.1f}" r="4" fill="{_LINE}"/>')
    if reference is not None and low <= reference <= high:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(reference):.1f}" y2="{y(reference):.1f}" '
            f'stroke="{_REF}" stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{left + plot_w - 4}" y="{y(reference) - 5:.1f}" text-anchor="end" '
            f'font-family="sans-serif" font-size="11" fill="{_REF}">{_esc(reference_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    x_title: str,
    x_label: Callable[[float], str],
    limits: Sequence[float | None] | None = None,
    colours: Sequence[str] | None = None,
    width: int = 900,
    row: int = 24,
) -> str:
    """Horizontal bars with value labels; `limits` draws a red tick per bar (an allowance, a threshold)."""
    left, right, top, bottom = 170, 70, 8, 30
    height = top + bottom + row * max(1, len(labels))
    plot_w = width - left - right
    numbers = [v for v in values if v is not None] + [v for v in (limits or []) if v is not None]
    high = max(numbers + [0.0]) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    for i, label in enumerate(labels):
        y0 = top + i * row
        v = values[i]
        parts.append(
            f'<text x="{left - 8}" y="{y0 + row * 0.65:.1f}" text-anchor="end" {_FONT}>{_esc(label[:28])}</text>'
        )
        if v is not None:
            w = max(1.0, v / high * plot_w)
            colour = colours[i] if colours else _LINE
            parts.append(
                f'<rect x="{left}" y="{y0 + 4}" width="{w:.1f}" height="{row - 8}" rx="2" fill="{colour}"/>'
                f'<text x="{left + w + 6:.1f}" y="{y0 + row * 0.65:.1f}" {_FONT}>{_esc(x_label(v))}</text>'
            )
        limit = limits[i] if limits else None
        if limit is not None:
            lx = left + limit / high * plot_w
            parts.append(
                f'<line x1="{lx:.1f}" x2="{lx:.1f}" y1="{y0 + 1}" y2="{y0 + row - 1}" stroke="{_REF}" '
                f'stroke-width="2.5"/>'
            )
    parts.append(f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end" {_FONT}>{_esc(x_title)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def axis_unit(unit: str | None, values: Sequence[float | None]) -> float:
    """The size of the unit `axis` labels an SLI unit's values in: 86400 for seconds shown in days, and so on."""
    if unit == "seconds":
        top = max((abs(v) for v in values if v is not None), default=0.0)
        return next((size for size in (86400.0, 3600.0, 60.0) if top >= 2 * size), 1.0)
    return 1.0


def axis(unit: str | None, values: Sequence[float | None]) -> tuple[str, Callable[[float], str]]:
    """(axis title, tick label) for an SLI unit: ratios in percent, seconds in the largest readable unit."""
    if unit == "ratio":
        return "percent", lambda v: f"{v * 100:.1f} %"
    if unit == "seconds":
        size = axis_unit(unit, values)
        name = {86400.0: "days", 3600.0: "hours", 60.0: "minutes"}.get(size, "seconds")
        return name, lambda v: f"{v / size:,.1f}"
    if unit == "business_days":
        return "business days", lambda v: f"{v:,.2f}"
    if unit == "hours":
        return "hours", lambda v: f"{v:,.1f}"
    if unit == "money":
        return "amount", lambda v: f"{v:,.0f}"
    if unit == "count":
        return "count", lambda v: f"{v:,.0f}" if abs(v) >= 10 else f"{v:,.1f}"
    return unit or "value", lambda v: f"{v:,.3g}"


def waterfall(rows: Sequence[dict[str, object]], width: int = 1100, row: int = 22) -> str:
    """A record's steps top to bottom: a bar from the previous step to this one (the wait, then the work), a
    diamond for a business event and a square for a span, red where it failed, with how long it waited."""
    left, right, top, bottom = 360, 90, 26, 34
    height = top + bottom + row * max(1, len(rows))
    plot_w = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    if not rows:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" {_FONT}>no steps</text></svg>')
        return "".join(parts)
    starts = [r["start"] for r in rows if isinstance(r["start"], datetime)]
    ends = [r["end"] for r in rows if isinstance(r["end"], datetime)]
    t0, t1 = min(starts).timestamp(), max(ends).timestamp()
    span_t = max(t1 - t0, 1e-6)

    def x(t: object) -> float:
        return left + ((t.timestamp() if isinstance(t, datetime) else t0) - t0) / span_t * plot_w

    # a short journey (a trace of sub-millisecond spans) is labelled by offsets from its first step: clock times
    # to the millisecond repeated one label five times
    tz = min(starts).tzinfo
    labels = (
        time_labels(t0, span_t, tz)
        if span_t > 120
        else [datetime.fromtimestamp(t0, tz=tz).strftime("%H:%M:%S")]
        + [offset_label(span_t * i / 4, span_t) for i in range(1, 5)]
    )
    for i, label in enumerate(labels):
        anchor = "start" if i == 0 else ("end" if i == 4 else "middle")
        gx = left + plot_w * i / 4
        # time labels above and below: a long journey's axis must be readable without scrolling
        parts.append(
            f'<line x1="{gx:.1f}" x2="{gx:.1f}" y1="{top}" y2="{height - bottom}" stroke="{_GRID}" '
            f'stroke-opacity="0.2"/><text x="{gx:.1f}" y="{height - bottom + 16}" text-anchor="{anchor}" '
            f'{_FONT}>{label}</text><text x="{gx:.1f}" y="{top - 10}" text-anchor="{anchor}" {_FONT}>{label}</text>'
        )
    for i, r in enumerate(rows):
        y0 = top + i * row
        colour = "#e53935" if r.get("status") == "error" else "#43a047"
        bx, ex = x(r["start"]), x(r["end"])
        mx = x(r["at"])
        parts.append(
            f'<text x="{left - 8}" y="{y0 + row * 0.68:.1f}" text-anchor="end" {_FONT}>'
            f"{_esc(str(r.get('step', ''))[:60])}</text>"
            f'<rect x="{bx:.1f}" y="{y0 + 6}" width="{max(ex - bx, 1.5):.1f}" height="{row - 12}" rx="2" '
            f'fill="{colour}" fill-opacity="0.45"/>'
        )
        if r.get("signal") == "event":
            parts.append(
                f'<path d="M{mx:.1f},{y0 + 3} l6,{row / 2 - 3:.1f} l-6,{row / 2 - 3:.1f} '
                f'l-6,-{row / 2 - 3:.1f} z" fill="{colour}"/>'
            )
        else:
            parts.append(f'<rect x="{mx - 5:.1f}" y="{y0 + row / 2 - 5:.1f}" width="10" height="10" fill="{colour}"/>')
        waited = str(r.get("waited") or "")
        if waited and not waited.endswith("ms") and waited != "0.0 s":
            parts.append(f'<text x="{width - right + 6}" y="{y0 + row * 0.68:.1f}" {_FONT}>+{_esc(waited)}</text>')
    parts.append(f'<text x="{width - right + 6}" y="{height - bottom + 16}" {_FONT}>waited</text>')
    parts.append("</svg>")
    return "".join(parts)


def offset_label(seconds: float, span_seconds: float) -> str:
    """'+250 µs', '+1.5 ms', '+12.5 s': an offset in the unit its whole span needs, with enough digits that the
    ticks of that span differ."""
    if span_seconds < 0.002:
        return f"+{seconds * 1e6:,.0f} µs"
    if span_seconds < 2:
        return f"+{seconds * 1e3:,.{1 if span_seconds < 0.02 else 0}f} ms"
    return f"+{seconds:,.{1 if span_seconds < 20 else 0}f} s"
