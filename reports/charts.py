"""The report's charts: Vega-Lite specs built with altair, rendered to SVG offline with vl-convert and inlined in the
HTML, so the PDF carries them as vector with their labels as text.

Charts are drawn from numbers and week labels only (no text from events goes into them). The console builds its
interactive charts with the same library (dashboard/charts.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import vl_convert
from markupsafe import Markup

__all__ = ["FONT", "sparkline", "sparkline_spec", "svg", "trend", "trend_spec"]

FONT = "DejaVu Sans"  # the report's own font: the PDF embeds one family for text and charts alike
_COLOURS = {"good": "#2e7d32", "bad": "#c62828", "flat": "#546e7a"}
_LINE, _OBJECTIVE = "#37474f", "#c62828"
_SERIES = ["#37474f", "#1e88e5", "#8e24aa", "#00897b"]  # several lines of one chart: currencies, p95 and half
# Axis formats (d3-format) per report unit: the axis reads as the headline does.
_FORMATS = {"ratio": ".0%", "business_days": ".1f", "money": "~s", "entries": ",d", "hours": ",.0f"}


def _spec(chart: Any) -> dict[str, Any]:
    spec: dict[str, Any] = chart.configure(font=FONT, background="white").configure_view(stroke=None).to_dict()
    return spec


def _rows(values: list[dict[str, Any]]) -> dict[str, Any]:
    """Inline data, as Vega-Lite's `data.values`: the spec carries its numbers, nothing is fetched."""
    return {"values": values}


def sparkline_spec(
    values: Sequence[float | None], better: str = "higher", width: int = 100, height: int = 26
) -> dict[str, Any]:
    """A line through the weeks' values (gaps where a week had no data), its last point marked and coloured by
    whether the last move was good news. No axes: the card beside it prints the figure."""
    rows = [{"i": i, "v": None if v is None else float(v)} for i, v in enumerate(values)]
    known = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    move = known[-1][1] - known[-2][1] if len(known) > 1 else 0.0
    tone = "flat" if abs(move) < 1e-12 else "good" if (move > 0) == (better == "higher") else "bad"
    x = alt.X("i:Q", axis=None, scale=alt.Scale(domain=[0, max(1, len(values) - 1)]))
    y = alt.Y("v:Q", axis=None, scale=alt.Scale(zero=False))
    last = [{"i": i, "v": v} for i, v in known[-1:]]
    line = alt.Chart(_rows(rows)).mark_line(color="#607d8b", strokeWidth=1.4).encode(x=x, y=y)
    dot = alt.Chart(_rows(last)).mark_circle(size=28, color=_COLOURS[tone], opacity=1).encode(x=x, y=y)
    return _spec((line + dot).properties(width=width, height=height, padding=2))


def trend_spec(
    weeks: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    unit: str,
    objective: Mapping[str, Any] | None = None,
    width: int = 230,
    height: int = 110,
) -> dict[str, Any]:
    """One line per series (a currency, or the figure itself under '') over the weeks, with the objective as a
    dashed red line when the figure is judged against one."""
    rows = [
        {"week": week[-3:], "series": name, "value": None if v is None else float(v)}
        for name, values in series.items()
        for week, v in zip(weeks, values, strict=True)
    ]
    order = [week[-3:] for week in weeks]
    x = alt.X("week:O", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelFontSize=7, labelColor="#546e7a"))
    y_axis = alt.Axis(format=_FORMATS.get(unit, "~g"), labelFontSize=7, tickCount=4, labelColor="#546e7a",
                      grid=True, gridColor="#eceff1", domain=False)  # fmt: skip
    y = alt.Y("value:Q", title=None, axis=y_axis, scale=alt.Scale(zero=unit in ("money", "entries")))
    colour: Any = alt.value(_LINE)
    if len(series) > 1:
        legend = alt.Legend(orient="top", direction="horizontal", labelFontSize=7, symbolType="stroke", symbolSize=80)
        colour = alt.Color("series:N", title=None, legend=legend, scale=alt.Scale(range=_SERIES))
    layers: list[Any] = [
        alt.Chart(_rows(rows)).mark_line(point=alt.OverlayMarkDef(size=14), strokeWidth=1.6)
        .encode(x=x, y=y, color=colour)
    ]  # fmt: skip
    target = (objective or {}).get("target")
    if isinstance(target, int | float):
        layers.append(
            alt.Chart(_rows([{"target": float(target)}]))
            .mark_rule(color=_OBJECTIVE, strokeDash=[4, 3], strokeWidth=1)
            .encode(y="target:Q")
        )
    return _spec(alt.layer(*layers).properties(width=width, height=height, padding=4))


_HEAD = re.compile(r"^<svg ")


def svg(spec: Mapping[str, Any], title: str, css_class: str) -> Markup:
    """A spec as inline SVG, titled for screen readers and PDF readers; text stays text (vl-convert draws labels
    as <text>, which WeasyPrint lays out with the page's fonts)."""
    drawn = vl_convert.vegalite_to_svg(dict(spec))
    label = Markup.escape(title)
    return Markup(_HEAD.sub(f'<svg class="{css_class}" role="img" aria-label="{label}" ', drawn, count=1))


def sparkline(values: Sequence[float | None], better: str = "higher", width: int = 100) -> Markup:
    said = "trend over the last weeks: " + ", ".join("no data" if v is None else f"{v:g}" for v in values)
    return svg(sparkline_spec(values, better, width), said, "spark")


def trend(
    weeks: Sequence[str], series: Mapping[str, Sequence[float | None]], unit: str, objective: Mapping[str, Any] | None
) -> Markup:
    return svg(trend_spec(weeks, series, unit, objective), f"the last {len(weeks)} weeks", "trend-chart")
