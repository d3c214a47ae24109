"""Small inline SVG charts for the report, drawn from numbers only (no text from events goes into them).

Vector in the PDF, sharp at any zoom. The console draws its own SVG (dashboard/svg.py); one chart library for both
is a later step (docs/report.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

__all__ = ["sparkline"]

_COLOURS = {"good": "#2e7d32", "bad": "#c62828", "flat": "#546e7a"}


def sparkline(values: Sequence[float | None], better: str = "higher", width: int = 132, height: int = 30) -> Markup:
    """A line through the weeks' values (gaps where a week had no data), its last point marked and coloured by
    whether the last move was good news."""
    points = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    label = "trend over the last weeks: " + ", ".join("no data" if v is None else f"{v:g}" for v in values)
    if not points:
        return Markup(f'<svg class="spark" width="{width}" height="{height}" role="img"><title>{label}</title></svg>')
    low, high = min(v for _, v in points), max(v for _, v in points)
    span = high - low or 1.0
    pad = 3.0
    step = (width - 2 * pad) / max(1, len(values) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        y = height - pad - (v - low) / span * (height - 2 * pad) if high != low else height / 2
        return pad + i * step, y

    segments: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(xy(i, float(v)))
    lines = "".join(
        '<polyline fill="none" stroke="#607d8b" stroke-width="1.4" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
        + '"/>'
        for seg in segments
        if len(seg) > 1
    )
    last_i, last_v = points[-1]
    move = last_v - points[-2][1] if len(points) > 1 else 0.0
    tone = "flat" if abs(move) < 1e-12 else "good" if (move > 0) == (better == "higher") else "bad"
    x, y = xy(last_i, last_v)
    dot = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{_COLOURS[tone]}"/>'
    return Markup(
        f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{label}</title>{lines}{dot}</svg>'
    )
