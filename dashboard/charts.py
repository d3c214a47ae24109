"""Altair charts with units on their axes. Colours come from the theme (Streamlit themes Altair), except for
status colours, which are mid-tone so they read on light and dark backgrounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import altair as alt
import pandas as pd

from dashboard.format import parse_time

__all__ = [
    "breakdown_chart",
    "budget_chart",
    "burn_chart",
    "per_minute_chart",
    "scaled_unit",
    "series_chart",
    "waterfall_chart",
]

_STATUS_SCALE = alt.Scale(domain=["ok", "error"], range=["#43a047", "#e53935"])
# Google SRE workbook multi-window alerting thresholds on a 30-day budget (page 14.4x, page 6x, ticket 1x).
BURN_THRESHOLDS: Mapping[str, float] = {"5m": 14.4, "1h": 14.4, "30m": 6.0, "6h": 6.0, "1d": 1.0, "3d": 1.0}


def scaled_unit(unit: str | None, values: Sequence[float | None]) -> tuple[float, str, str]:
    """(divisor, axis title, d3 format) so axes read '2.5 h' rather than '9000 s', and ratios as percent."""
    if unit == "ratio":
        return 1.0, "percent", ".1%"
    if unit == "seconds":
        top = max((abs(v) for v in values if v is not None), default=0.0)
        if top >= 2 * 86400:
            return 86400.0, "days", ",.1f"
        if top >= 2 * 3600:
            return 3600.0, "hours", ",.1f"
        if top >= 120:
            return 60.0, "minutes", ",.1f"
        return 1.0, "seconds", ",.1f"
    if unit == "business_days":
        return 1.0, "business days", ",.2f"
    if unit == "hours":
        return 1.0, "hours", ",.1f"
    if unit == "money":
        return 1.0, "amount", ",.0f"
    return 1.0, unit or "value", ",.0f" if unit == "count" else ",.3~g"


def series_chart(
    points: Sequence[Mapping[str, Any]],
    unit: str | None,
    objective: Mapping[str, Any] | None,
    height: int = 260,
) -> alt.Chart | alt.LayerChart:
    raw = [p.get("value") for p in points]
    divisor, title, fmt = scaled_unit(unit, [v if isinstance(v, int | float) else None for v in raw])
    frame = pd.DataFrame(
        {
            "time": [parse_time(p.get("time")) for p in points],
            "value": [v / divisor if isinstance(v, int | float) else None for v in raw],
        }
    )
    line = (
        alt.Chart(frame)
        .mark_line(point=len(frame) < 60, interpolate="step-after")
        .encode(
            x=alt.X("time:T", title="time (UTC)"),
            y=alt.Y("value:Q", title=title, axis=alt.Axis(format=fmt)),
            tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("value:Q", title=title, format=fmt)],
        )
    )
    target = (objective or {}).get("target")
    if isinstance(target, int | float):
        rule = (
            alt.Chart(pd.DataFrame({"objective": [target / divisor]}))
            .mark_rule(strokeDash=[6, 4], color="#e53935")
            .encode(y="objective:Q", tooltip=[alt.Tooltip("objective:Q", format=fmt)])
        )
        return cast(alt.LayerChart, (line + rule).properties(height=height))
    return cast(alt.Chart, line.properties(height=height))


def budget_chart(points: Sequence[Mapping[str, Any]], height: int = 160) -> alt.Chart:
    frame = pd.DataFrame(
        {
            "time": [parse_time(p.get("time")) for p in points],
            "budget": [p.get("error_budget_remaining") for p in points],
        }
    )
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_area(opacity=0.45, line=True, interpolate="step-after")
        .encode(
            x=alt.X("time:T", title="time (UTC)"),
            y=alt.Y("budget:Q", title="error budget left", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("budget:Q", format=".1%")],
        )
        .properties(height=height)
    )
    return chart


def burn_chart(burn_rates: Mapping[str, Any], height: int = 200) -> alt.LayerChart:
    windows = ["5m", "30m", "1h", "6h", "1d", "3d"]
    frame = pd.DataFrame(
        {
            "window": windows,
            "burn": [burn_rates.get(w) if isinstance(burn_rates.get(w), int | float) else None for w in windows],
            "threshold": [BURN_THRESHOLDS[w] for w in windows],
        }
    )
    frame["over"] = [
        "over threshold" if b is not None and b >= t else "under"
        for b, t in zip(frame["burn"], frame["threshold"], strict=True)
    ]
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("window:N", sort=windows, title="window"),
            y=alt.Y("burn:Q", title="burn rate (× budget pace)"),
            color=alt.Color(
                "over:N", scale=alt.Scale(domain=["under", "over threshold"], range=["#43a047", "#e53935"]), title=""
            ),
            tooltip=["window", alt.Tooltip("burn:Q", format=".2f"), alt.Tooltip("threshold:Q", title="alert at")],
        )
    )
    ticks = (
        alt.Chart(frame)
        .mark_tick(color="#8a8a8a", thickness=2, size=30)
        .encode(x=alt.X("window:N", sort=windows), y="threshold:Q")
    )
    layered: alt.LayerChart = (bars + ticks).properties(height=height)
    return layered


def breakdown_chart(rows: Sequence[Mapping[str, Any]], unit: str | None, by: str, top: int = 25) -> alt.Chart:
    values = [r.get("value") if isinstance(r.get("value"), int | float) else None for r in rows[:top]]
    divisor, title, fmt = scaled_unit(unit, values)
    frame = pd.DataFrame(
        {
            by: [str(r.get("key")) for r in rows[:top]],
            "value": [v / divisor if v is not None else None for v in values],
            "good": [r.get("good") for r in rows[:top]],
            "total": [r.get("total") for r in rows[:top]],
        }
    )
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y(f"{by}:N", sort=None, title=by.replace("_", " ")),
            x=alt.X("value:Q", title=title, axis=alt.Axis(format=fmt)),
            tooltip=[by, alt.Tooltip("value:Q", title=title, format=fmt), "good:Q", "total:Q"],
        )
        .properties(height=max(120, 22 * len(frame)))
    )
    return chart


def waterfall_chart(rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """Steps top to bottom in time order; a bar from the previous step to this one (the wait, then the work),
    a diamond for a business event and a square for a span; red where it failed."""
    frame = pd.DataFrame(list(rows))
    order = list(frame["step"])
    base = alt.Chart(frame).encode(
        y=alt.Y("step:N", sort=order, title=None, axis=alt.Axis(labelLimit=420, labelOverlap=False)),
        color=alt.Color("status:N", scale=_STATUS_SCALE, title="status"),
        tooltip=[
            alt.Tooltip("what:N", title="what"),
            alt.Tooltip("system:N", title="system / service"),
            alt.Tooltip("at:T", title="at (UTC)", format="%Y-%m-%d %H:%M:%S.%L"),
            alt.Tooltip("waited:N", title="waited before"),
            alt.Tooltip("duration_ms:Q", title="took (ms)", format=",.1f"),
            alt.Tooltip("detail:N"),
        ],
    )
    bars = base.mark_bar(height=10, opacity=0.55, cornerRadius=2).encode(
        x=alt.X("start:T", title="time (UTC)"), x2="end:T"
    )
    marks = base.mark_point(filled=True, size=90).encode(
        x="at:T",
        shape=alt.Shape("signal:N", scale=alt.Scale(domain=["event", "span"], range=["diamond", "square"]),
                        title="item"),
    )  # fmt: skip
    layered: alt.LayerChart = (bars + marks).properties(height=max(120, 22 * len(frame)))
    return layered


def per_minute_chart(rows: Sequence[Mapping[str, Any]], field: str, title: str, colour: str | None = None) -> alt.Chart:
    frame = pd.DataFrame({"minute": [parse_time(r.get("minute")) for r in rows], field: [r.get(field) for r in rows]})
    mark = alt.Chart(frame).mark_bar(color=colour) if colour else alt.Chart(frame).mark_bar()
    chart: alt.Chart = mark.encode(
        x=alt.X("minute:T", title="minute (UTC)"),
        y=alt.Y(f"{field}:Q", title=title),
        tooltip=[alt.Tooltip("minute:T", format="%H:%M"), alt.Tooltip(f"{field}:Q", title=title, format=",.2f")],
    ).properties(height=200)
    return chart
