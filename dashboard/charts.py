"""The console's charts as altair (Vega-Lite) specs, shown with `st.altair_chart`: hovering a point or a bar shows
its exact value, formatted as the page's tiles and tables format it.

The weekly report builds its charts with the same library (reports/charts.py). Text from the API (a table's name,
a step of a record's journey) goes into the spec as data, which Vega draws as text, never as markup. Labels are
mid-grey, readable on light and dark themes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import altair as alt

__all__ = ["axis_format", "bars", "line", "waterfall"]

_GRID = "#8a8a8a"
_LINE = "#1e88e5"
_REF = "#e53935"
_GOOD, _BAD = "#43a047", "#e53935"


def _rows(values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"values": values}


def _axis(**extra: Any) -> alt.Axis:
    return alt.Axis(labelColor=_GRID, titleColor=_GRID, gridColor=_GRID, gridOpacity=0.2, **extra)


def axis_format(unit: str | None) -> str:
    """The d3 format of an axis in an SLI unit (after dividing seconds by svg.axis_unit): as the tiles read."""
    return {"ratio": ".1%", "business_days": ",.2f", "money": ",.0f", "seconds": ",.1f", "hours": ",.1f"}.get(
        unit or "", ",~g"
    )


def line(
    times: Sequence[datetime],
    values: Sequence[float | None],
    y_title: str,
    y_label: Callable[[float], str],
    reference: float | None = None,
    reference_label: str = "objective",
    area: bool = False,
    height: int = 260,
    tick_unit: float = 1.0,
    y_format: str = ",~g",
) -> Any:
    """A time series as a stepped line (or area) with a dashed reference line. The y axis counts in `tick_unit`s
    (86400 for seconds shown in days, see svg.axis_unit) and the tooltip shows `y_label` of the exact value."""
    rows = [
        {"time": t.isoformat(), "value": None if v is None else v / tick_unit,
         "shown": "no data" if v is None else y_label(v)}
        for t, v in zip(times, values, strict=True)
    ]  # fmt: skip
    known = [r for r in rows if r["value"] is not None]
    x = alt.X("time:T", title=None, axis=_axis(labelOverlap=True))
    y = alt.Y("value:Q", title=y_title, axis=_axis(tickCount=5, format=y_format), scale=alt.Scale(zero=area))
    tooltip = [alt.Tooltip("time:T", title="time", format="%d %b %H:%M"), alt.Tooltip("shown:N", title=y_title)]
    base = alt.Chart(_rows(rows))
    mark = base.mark_area(interpolate="step-after", line={"color": _LINE}, color=_LINE, opacity=0.35) if area else (
        base.mark_line(interpolate="step-after", color=_LINE, strokeWidth=1.6))  # fmt: skip
    layers: list[Any] = [
        mark.encode(x=x, y=y),
        # the points carry the tooltip; drawn only when few (one snapshot alone is no line), else invisible
        base.mark_point(filled=True, color=_LINE, opacity=1 if len(known) <= 60 else 0, size=40).encode(
            x=x, y=y, tooltip=tooltip
        ),
    ]
    if reference is not None:
        layers.append(
            alt.Chart(_rows([{"ref": reference / tick_unit, "label": f"{reference_label} {y_label(reference)}"}]))
            .mark_rule(color=_REF, strokeDash=[6, 4], strokeWidth=1.5)
            .encode(y="ref:Q", tooltip=alt.Tooltip("label:N", title=reference_label))
        )
    return alt.layer(*layers).properties(height=height)


def bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    x_title: str,
    x_label: Callable[[float], str],
    limits: Sequence[float | None] | None = None,
    colours: Sequence[str] | None = None,
    row: int = 24,
    x_format: str = ",~g",
) -> Any:
    """Horizontal bars in the given order with their value written beside them; `limits` draws a red tick per bar
    (an allowance, a threshold). The tooltip names the bar, its value and its limit."""
    rows = [
        {"label": str(label), "value": v, "shown": "" if v is None else x_label(v),
         "limit": None if not limits else limits[i],
         "limit_shown": "" if not limits or limits[i] is None else x_label(float(limits[i] or 0.0)),
         "colour": colours[i] if colours else _LINE}
        for i, (label, v) in enumerate(zip(labels, values, strict=True))
    ]  # fmt: skip
    order = [str(label) for label in labels]
    y = alt.Y("label:N", sort=order, title=None, axis=_axis(labelLimit=200, grid=False))
    x = alt.X("value:Q", title=x_title, axis=_axis(tickCount=5, format=x_format))
    tooltip = [alt.Tooltip("label:N", title=""), alt.Tooltip("shown:N", title=x_title)]
    if limits:
        tooltip.append(alt.Tooltip("limit_shown:N", title="limit"))
    base = alt.Chart(_rows(rows))
    layers: list[Any] = [
        base.mark_bar(cornerRadius=2).encode(x=x, y=y, color=alt.Color("colour:N", scale=None), tooltip=tooltip),
        base.mark_text(align="left", dx=5, color=_GRID).encode(x=x, y=y, text="shown:N"),
    ]
    if limits:
        layers.append(
            base.transform_filter("datum.limit != null")
            .mark_tick(color=_REF, thickness=2.5, size=row - 4)
            .encode(x="limit:Q", y=y, tooltip=tooltip)
        )
    # a step per bar, not a total height: the container's layout keeps each bar `row` pixels tall
    return alt.layer(*layers).properties(height=alt.Step(row))


def waterfall(rows: Sequence[dict[str, object]], row: int = 22) -> Any:
    """A record's steps top to bottom: a bar from the previous step to this one (the wait, then the work), a
    diamond for a business event and a square for a span, red where it failed; the tooltip says when, how long
    it waited and its status."""
    steps = [
        {"n": f"{i + 1}. {str(r.get('step', ''))[:80]}", "step": str(r.get("step", ""))[:80],
         "start": _iso(r.get("start")), "end": _iso(r.get("end")),
         "at": _iso(r.get("at")), "waited": str(r.get("waited") or ""), "status": str(r.get("status") or ""),
         "shape": "diamond" if r.get("signal") == "event" else "square",
         "colour": _BAD if r.get("status") == "error" else _GOOD}
        for i, r in enumerate(rows)
    ]  # fmt: skip
    # numbered: two steps may share a name, and each keeps its own row in journey order
    order = [str(s["n"]) for s in steps]
    y = alt.Y("n:N", sort=order, title=None, axis=_axis(labelLimit=360, grid=False))
    tooltip = [alt.Tooltip("step:N"), alt.Tooltip("at:T", format="%d %b %H:%M:%S.%L"),
               alt.Tooltip("waited:N"), alt.Tooltip("status:N")]  # fmt: skip
    base = alt.Chart(_rows(steps))
    colour = alt.Color("colour:N", scale=None)
    return alt.layer(
        base.mark_bar(opacity=0.45, cornerRadius=2).encode(
            x=alt.X("start:T", title=None, axis=_axis(orient="top", labelOverlap=True)), x2="end:T", y=y,
            color=colour, tooltip=tooltip,
        ),
        base.mark_point(filled=True, size=70, opacity=1).encode(
            x="at:T", y=y, shape=alt.Shape("shape:N", scale=None), color=colour, tooltip=tooltip
        ),
    ).properties(height=alt.Step(row))  # fmt: skip


def _iso(moment: object) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else None
