"""The server-drawn charts (dashboard/svg.py, the flow map): axes in the data's own range and unit, time labels
that differ, short journeys labelled by offsets, hop labels above every arrow."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dashboard import svg
from dashboard.flows import HOPS, HopHealth, flow_map_svg

T0 = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


def _tick_texts(drawn: str) -> list[str]:
    return re.findall(r'text-anchor="end" font-family="sans-serif" font-size="11" fill="#8a8a8a">([^<]*)</text>', drawn)


def test_an_axis_never_goes_below_zero_for_data_that_never_does() -> None:
    assert svg.y_bounds([0.0, 863.0]) == (0.0, 863.0 + 863.0 * 0.08)
    assert svg.y_bounds([0.0, 0.0])[0] == 0.0  # a flat zero line
    assert svg.y_bounds([-5.0, 5.0])[0] < -5.0  # a quantity that can be negative keeps its room
    times = [T0 + timedelta(minutes=i) for i in range(10)]
    drawn = svg.line(times, [0, 863, 0, 10, 500, 0, 0, 1, 2, 0], "events / minute", lambda v: f"{v:,.0f}")
    assert not any(t.startswith("-") for t in _tick_texts(drawn)), _tick_texts(drawn)
    lag_days = [0.0, 0.2 * 86400, 3 * 86400]
    title, label = svg.axis("seconds", lag_days)
    drawn = svg.line(times[:3], lag_days, f"lag p95 ({title})", label)
    assert title == "days" and "lag p95 (days)" in drawn
    assert not any(t.startswith("-") for t in _tick_texts(drawn))


def test_y_labels_are_round_and_not_repeated() -> None:
    times = [T0 + timedelta(minutes=i) for i in range(4)]
    drawn = svg.line(times, [0.0, 1.0, 3.0, 2.0], "events / minute", lambda v: f"{v:,.0f}")
    ticks = _tick_texts(drawn)
    assert len(ticks) == len(set(ticks)) and "0" in ticks and "3" in ticks


def test_time_labels_tell_the_ticks_apart() -> None:
    for span in (90, 20 * 60, 6 * 3600, 2 * 86400, 30 * 86400):
        labels = [lbl for lbl in svg.time_labels(T0.timestamp(), span, UTC) if lbl]
        assert len(labels) == len(set(labels)) >= 4, (span, labels)
    assert svg.time_labels(T0.timestamp(), 90, UTC)[:2] == ["20:00:00", "20:00:22"]
    # 36 h in five ticks: dates repeat, so each keeps its hour
    assert svg.time_labels(T0.timestamp(), 36 * 3600, UTC)[1] == "Dec 08 05:00"


def test_a_sub_millisecond_waterfall_is_labelled_by_offsets_that_differ() -> None:
    start = T0
    rows = [
        {"step": "1. span", "at": start, "start": start, "end": start + timedelta(microseconds=300), "signal": "span"},
        {"step": "2. span", "at": start + timedelta(microseconds=400), "start": start + timedelta(microseconds=300),
         "end": start + timedelta(microseconds=800), "signal": "span"},
    ]  # fmt: skip
    drawn = svg.waterfall(rows)
    labels = re.findall(r"<text x=\"[\d.]+\" y=\"\d+\" text-anchor=\"(?:start|middle|end)\"[^>]*>([^<]*)</text>", drawn)
    bottom = labels[0::2]
    assert bottom == ["20:00:00", "+200 µs", "+400 µs", "+600 µs", "+800 µs"]
    assert svg.offset_label(0.5, 2.0) == "+0.5 s" and svg.offset_label(0.0125, 0.05) == "+12 ms"


def test_hop_labels_are_drawn_over_every_arrow() -> None:
    drawn = flow_map_svg([HopHealth(hop, "ok", ()) for hop in HOPS])
    last_arrow = drawn.rindex("marker-end=")
    for hop in HOPS:
        assert drawn.index(f"● {hop.label}") > last_arrow, hop.label


def test_a_single_snapshot_is_drawn_as_a_point() -> None:
    drawn = svg.line([T0], [0.9486], "percent", lambda v: f"{v * 100:.1f} %", 0.97)
    assert "<circle" in drawn and "objective" in drawn


def test_ticks_are_round_in_the_unit_the_axis_shows() -> None:
    lags = [0.0, 7.4 * 86400]
    title, label = svg.axis("seconds", lags)
    drawn = svg.line([T0, T0 + timedelta(minutes=1)], lags, title, label, tick_unit=svg.axis_unit("seconds", lags))
    ticks = _tick_texts(drawn)
    assert ticks[:4] == ["0.0", "2.0", "4.0", "6.0"], ticks  # days, not 2.3, 4.6, 6.9
    assert svg.axis_unit("seconds", [90.0]) == 1.0 and svg.axis_unit("seconds", [3 * 3600.0]) == 3600.0
