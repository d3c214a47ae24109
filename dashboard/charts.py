"""The Altair chart kept where hovering matters (the record waterfall: what, when, how long, why it failed), and
the burn-rate thresholds. Other charts are server-drawn SVG (dashboard/svg.py): a Vega chart costs ~0.5 s of a
page's first render. Status colours are mid-tone so they read on light and dark backgrounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

__all__ = ["BURN_THRESHOLDS", "waterfall_chart"]

_STATUS_SCALE = alt.Scale(domain=["ok", "error"], range=["#43a047", "#e53935"])
# Google SRE workbook multi-window alerting thresholds on a 30-day budget (page 14.4x, page 6x, ticket 1x).
BURN_THRESHOLDS: Mapping[str, float] = {"5m": 14.4, "1h": 14.4, "30m": 6.0, "6h": 6.0, "1d": 1.0, "3d": 1.0}


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
