"""Units and currencies, the flow map's colours, and the reading of a record's journey, on fixed inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.flows import HOPS, flow_map_svg, hop_health, silent_flows
from dashboard.format import (
    Change,
    budget,
    change,
    duration,
    money,
    money_at_risk,
    money_by_currency,
    objective_text,
    overall_finding,
    short_error,
    value,
    worst_status,
)
from dashboard.journey import guess_kind, systems, verdict, waterfall_rows
from tests.unit.dashboard.fake_api import journey

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("x", "unit", "shown"),
    [
        (0.98765, "ratio", "98.77 %"),
        (45.2, "seconds", "45.2 s"),
        (3 * 3600 + 125, "seconds", "3 h 2 min"),
        (2 * 86400 + 7200, "seconds", "2 d 2 h"),
        (0.25, "seconds", "250 ms"),
        (2.5, "business_days", "2.50 bus. days"),
        (1234.5, "hours", "1,234.5 h"),
        (12345, "count", "12,345"),
        (None, "ratio", "—"),
        (float("nan"), "count", "—"),
    ],
)
def test_values_in_their_units(x: float | None, unit: str, shown: str) -> None:
    assert value(x, unit) == shown


def test_money_is_shown_per_currency_largest_first() -> None:
    details = {"by_currency": {"EUR": 1200.0, "USD": 35000.5, "bogus": 3}}
    assert money_by_currency(details) == {"EUR": 1200.0, "USD": 35000.5}
    assert value(36200.5, "money", details) == "35,000 USD · 1,200 EUR"
    assert money(12.5, "gbp") == "12.50 GBP"
    assert value(None, "money", {}) == "—"


def test_objectives_and_statuses() -> None:
    assert objective_text({"target": 0.98, "comparison": ">=", "window": "30d"}, "ratio") == "≥ 98.00 % over 30d"
    assert objective_text(None, "ratio") == "no objective"
    assert worst_status(["ok", "warning", None]) == "warning"
    assert worst_status(["ok", "no_data"]) == "ok"
    assert worst_status([None, "no_data"]) == "no_data"
    assert worst_status(["ok", "breach", "warning"]) == "breach"
    assert duration(-90) == "-1 min 30 s"


def test_hops_take_the_worst_status_of_their_slis_and_silence_is_a_breach() -> None:
    slis = {
        "time_posting_first_pass": {"status": "ok"},
        "time_posting_eventual": {"status": "warning"},
        "resource_plan_freshness": {"status": "ok"},
        "invoice_readiness_lag": {"status": "ok"},
    }
    silent = silent_flows([{"key": "hcm-to-psa-workers", "good": 0, "total": 1}, {"key": "crm-deals", "good": 1,
                           "total": 1}])  # fmt: skip
    assert silent == {"hcm-to-psa-workers"}
    health = {h.hop.label: h for h in hop_health(slis, silent)}
    assert health["approved time"].status == "warning"
    assert (
        health["workers, leave"].status == "breach" and "hcm-to-psa-workers: silent" in health["workers, leave"].reasons
    )
    assert health["invoices"].status == "ok"
    assert health["projects"].status == "no_data"
    svg = flow_map_svg(list(health.values()))
    assert svg.count("marker-end=") == len(HOPS) and "HCM → PSA: workers, leave (hcm-to-psa-workers: silent)" in svg
    assert 'stroke="#c62828" stroke-width="4" marker-end="url(#arrow-breach)"' in svg


def test_a_failed_posting_is_where_the_record_stopped() -> None:
    result = verdict(journey("TE-1"), NOW)
    assert result.state == "failed" and result.last_event == "time_entry.post_failed"
    assert "PERIOD_CLOSED (closed_period), not retryable" in result.headline
    assert any("period closed" in r for r in result.reasons)  # the failed span says it too


def test_a_record_that_is_waiting_names_the_next_step_and_how_long() -> None:
    result = verdict(journey("TE-1", failed=False), NOW)
    assert result.state == "waiting" and result.expected_next == "time_entry.posted"
    assert result.stalled_for_seconds is not None and result.stalled_for_seconds > 3600


def test_a_failure_later_healed_is_history() -> None:
    story = journey("TE-1")
    t = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    story["items"].append({"at": t.isoformat().replace("+00:00", "Z"), "signal": "event", "type": "time_entry.posted",
                           "data": {}, "source_system": "erp"})  # fmt: skip
    story["items"].append({"at": (t + timedelta(hours=1)).isoformat().replace("+00:00", "Z"), "signal": "event",
                           "type": "invoice.posted", "data": {}, "source_system": "erp"})  # fmt: skip
    result = verdict(story, NOW)
    assert result.state == "complete" and result.reasons == ()


def test_unknown_keys_and_waterfall_rows() -> None:
    assert verdict({"found": False, "items": []}, NOW).state == "not_found"
    rows = waterfall_rows(journey("TE-1"))
    assert len(rows) == 6 and all(r["end"] > r["start"] for r in rows)
    assert [r["status"] for r in rows if r["signal"] == "event"] == ["ok", "ok", "error"]
    # each bar starts where the previous step ended: the wait between steps is visible
    assert rows[2]["start"] == rows[1]["end"] and rows[2]["waited"] == "5 min 0 s"
    assert rows[0]["step"].strip().startswith("1. ")


@pytest.mark.parametrize(
    ("key", "kind"),
    [("TE-00000001", "entry"), ("TS-00000042", "timesheet"), ("INV-1", "invoice"), ("PRJ-00012", "project"),
     ("C000123", "consultant"), ("ASG-0000001", "assignment"), ("006000000000123", "deal"), ("a" * 32, "trace"),
     ("corr-7", "")],
)  # fmt: skip
def test_guessing_the_kind_of_a_pasted_key(key: str, kind: str) -> None:
    assert guess_kind(key) == kind


def test_thinning_keeps_the_spike_and_the_dip() -> None:
    from dashboard.format import thin

    points = [{"time": i, "value": 0.99} for i in range(10_000)]
    points[1234]["value"], points[8765]["value"] = 0.5, 1.0
    points[5000]["value"] = None
    thinned = thin(points, 200)
    assert len(thinned) <= 200
    assert {p["value"] for p in thinned} >= {0.5, 1.0}
    assert [p["time"] for p in thinned] == sorted(p["time"] for p in thinned)
    assert thin(points[:50], 200) == points[:50]


def test_thinning_for_a_sparkline_keeps_the_shape_and_the_last_point() -> None:
    from dashboard.format import thin

    points = [{"time": i, "value": float(i)} for i in range(2880)]
    thinned = thin(points, 96, keep="last")
    assert len(thinned) == 96 and thinned[-1] == points[-1]
    assert [p["value"] for p in thinned] == sorted(p["value"] for p in thinned)


def test_silent_flows_follow_the_row_status_when_the_api_gives_one() -> None:
    rows = [
        {"key": "psa-to-erp-time", "good": 1, "total": 1, "status": "breach"},
        {"key": "crm-deals", "good": 0, "total": 1, "status": "ok"},
    ]
    assert silent_flows(rows) == {"psa-to-erp-time"}


def test_svg_line_has_axes_in_the_unit_and_the_objective() -> None:
    from dashboard import svg

    times = [NOW + timedelta(minutes=5 * i) for i in range(50)]
    values: list[float | None] = [0.97 + 0.001 * i for i in range(50)]
    values[10] = None  # a gap is skipped, not drawn as zero
    title, label = svg.axis("ratio", values)
    drawn = svg.line(times, values, title, label, 0.98)
    assert drawn.startswith("<svg") and drawn.endswith("</svg>")
    assert "percent" in drawn and "98.0 %" in drawn and 'stroke-dasharray="6 4"' in drawn and "objective" in drawn
    assert "no data" in svg.line([], [], "x", str)
    assert svg.axis("seconds", [7200.0, 9000.0])[0] == "hours" and svg.axis("seconds", [7200.0])[1](7200) == "2.0"


def test_svg_bars_label_each_value_and_draw_limits() -> None:
    from dashboard import svg

    drawn = svg.bars(["netsuite", "salesforce <prod>"], [450.0, None], "calls", lambda v: f"{v:,.0f}", [900.0, 100.0])
    assert ">450<" in drawn and "salesforce &lt;prod&gt;" in drawn
    assert drawn.count('stroke="#e53935"') == 2  # one limit tick per bar


def test_svg_waterfall_marks_failures_and_waits() -> None:
    from dashboard import svg

    drawn = svg.waterfall(waterfall_rows(journey("TE-1")))
    assert drawn.count('fill="#e53935"') >= 2  # the failed span and the failed event
    assert "+5 min 0 s" in drawn and "time_entry.post_failed" in drawn
    assert "no steps" in svg.waterfall([])


def test_pretty_json_reads_json_text_and_keeps_anything_else() -> None:
    from dashboard.format import pretty_json

    assert pretty_json('{"id": "bad", "n": 1}') == '{\n  "id": "bad",\n  "n": 1\n}'
    assert pretty_json("<xml>not json</xml>") == "<xml>not json</xml>"
    assert pretty_json({"at": NOW}) == '{\n  "at": "2026-11-20 12:00:00+00:00"\n}'


def test_a_flow_is_silent_only_when_the_breakdown_says_silent() -> None:
    # collectors before the per-flow fix marked every flow `breach`, the seconds since its last event its value
    rows = [
        {"key": "psa-to-erp-time", "value": 159.0, "status": "breach",
         "details": {"seconds_since_last": 159.0, "cadence_seconds": 3600.0, "silent": False}},
        {"key": "psa-timesheets", "value": 1.0, "status": "breach",
         "details": {"seconds_since_last": 18000.0, "cadence_seconds": 3600.0, "silent": True}},
        {"key": "crm-deals", "value": 0.0, "status": "ok", "details": {"silent": False}},
    ]  # fmt: skip
    assert silent_flows(rows) == {"psa-timesheets"}
    health = {h.hop.label: h for h in hop_health({}, silent_flows(rows))}
    assert health["approved time"].reasons == ("psa-timesheets: silent",)
    assert health["deals → projects"].status == "no_data"


def test_every_sli_meets_its_objective_only_when_every_sli_has_data() -> None:
    ok, none, partial = {"status": "ok"}, {"status": "no_data"}, {"status": "partial"}
    assert overall_finding([ok, ok]) == ("good", "Every SLI meets its objective.")
    assert overall_finding([ok, none, none]) == (
        "warn", "2 of 3 SLIs have no data yet; the other meets its objective.")  # fmt: skip
    assert overall_finding([ok, ok, none, partial]) == (
        "warn", "1 of 4 SLIs has no data yet; 1 of 4 is partial (too many records left out to judge); the 2 others "
        "meet their objectives.")  # fmt: skip
    assert overall_finding([none, {"status": None}]) == ("warn", "None of the 2 SLIs has data yet.")
    unsure = overall_finding([none, partial])
    assert unsure is not None and unsure[1].endswith("none can be said to meet its objective.")
    assert overall_finding([{"status": "breach"}, none]) == ("warn", "1 of 2 SLIs has no data yet.")
    assert overall_finding([{"status": "warning"}, ok]) is None
    assert overall_finding([]) is None


def test_money_always_carries_its_currency() -> None:
    wip = {"at_risk": {"EUR": 0.0, "USD": 0.0}, "by_currency_and_age": {"EUR": {"0-7": 5.0}}, "entries": 3}
    assert money_at_risk(wip) == "none at risk"
    assert value(0.0, "money", wip) == "none at risk"
    assert money_at_risk({"at_risk": {"EUR": 8873.2, "GBP": 377970.0}}) == "377,970 GBP · 8,873 EUR"
    assert money(0.0, "") == "0.00 (currency unknown)" and money(1234.0, None) == "1,234 (currency unknown)"
    assert money_at_risk(None) == "—"


@pytest.mark.parametrize(
    ("first", "current", "unit", "comparison", "seconds", "text", "colour", "arrow"),
    [
        # first pass fell during an outage: the tile shows the fall, in red
        (0.9632, 0.9208, "ratio", ">=", 86400, "-4.24 pp in 24 h", "red", "down"),
        (0.9208, 0.9632, "ratio", ">=", 86400, "+4.24 pp in 24 h", "green", "up"),
        # fewer silent flows or dead letters is good for a "<=" SLI
        (3.0, 1.0, "count", "<=", 86400, "-2 in 24 h", "green", "down"),
        (1.0, 3.0, "count", "<=", 86400, "+2 in 24 h", "red", "up"),
        # no change is neither good nor bad
        (0.0, 0.0, "count", "<=", 86400, "no change in 24 h", "gray", "off"),
        (0.95, 0.95000001, "ratio", ">=", 86400, "no change in 24 h", "gray", "off"),
        # the period the points cover, not a fixed "24 h", 20 s after start
        (0.5, 0.75, "ratio", ">=", 20, "+25.00 pp in 20.0 s", "green", "up"),
        (3600.0, 600.0, "seconds", "<=", 7200, "-50 min 0 s in 2 h 0 min", "green", "down"),
    ],
)
def test_change_chips_are_the_true_change_coloured_by_the_slis_direction(
    first: float, current: float, unit: str, comparison: str, seconds: float, text: str, colour: str, arrow: str
) -> None:
    assert change(first, current, unit, comparison, seconds) == Change(text, colour, arrow)


def test_change_chips_need_two_numbers_and_a_period() -> None:
    assert change(None, 1.0, "count", "<=", 60) is None and change(1.0, 2.0, "count", "<=", 0) is None


def test_an_overspent_budget_says_by_how_much_it_is_over() -> None:
    assert budget(-3.2) == "spent (320 % over)"
    assert budget(0.25) == "25 %" and budget(None) == "—"


def test_probe_errors_read_as_a_short_line() -> None:
    raw = 'erp answered 503: {"error": {"code": "UNAVAILABLE", "message": "Service is down for maintenance",' + (
        ' "details": [' + ", ".join(['{"x": 1}'] * 40) + "]}}"
    )
    assert short_error(raw) == "erp answered 503: Service is down for maintenance"
    assert short_error('{"detail": "token   expired"}') == "token expired"
    assert short_error("timeout after 30 s") == "timeout after 30 s"
    long = short_error("x" * 500)
    assert len(long) == 90 and long.endswith("…")
    assert short_error(None) == "" and short_error('{"unclosed": ') == '{"unclosed":'


def test_a_span_that_just_arrived_means_the_record_is_not_idle() -> None:
    old = NOW - timedelta(days=17, hours=6)
    story = {
        "found": True,
        "summary": {"events": 1, "spans": 1, "systems": ["psa"]},
        "items": [
            {"at": old.isoformat(), "signal": "event", "type": "timesheet.approved", "source_system": "psa",
             "target_system": "psa", "data": {}},
            {"at": (NOW - timedelta(seconds=5)).isoformat(), "signal": "span", "name": "erp post",
             "service": "netsuite", "duration_ms": 2000.0, "status": "Ok"},
        ],
    }  # fmt: skip
    result = verdict(story, NOW)
    assert result.stalled_for_seconds == pytest.approx(3.0)  # since the span ended, not since the event
    assert "(17 d 6 h ago)" in result.headline  # still waiting for the next business step since that event
    assert systems(story) == ["netsuite", "psa"]


def test_a_record_known_only_from_spans_names_its_systems_and_its_idle_time() -> None:
    story = {
        "found": True,
        "summary": {"events": 0, "spans": 1, "systems": []},
        "items": [{"at": (NOW - timedelta(seconds=30)).isoformat(), "signal": "span", "name": "timesheet.submitted",
                   "service": "kantata", "duration_ms": 250.0, "status": "Unset"}],
    }  # fmt: skip
    assert systems(story) == ["kantata"]
    assert verdict(story, NOW).stalled_for_seconds == pytest.approx(29.75)
    # a clock a little ahead of ours is not negative idleness
    ahead = {**story, "items": [{**story["items"][0], "at": (NOW + timedelta(seconds=3)).isoformat()}]}
    assert verdict(ahead, NOW).stalled_for_seconds == 0.0


def test_sub_millisecond_spans_keep_their_length_on_the_waterfall() -> None:
    t = NOW - timedelta(seconds=20)
    story = {
        "items": [
            {"at": t.isoformat(), "signal": "span", "name": "post", "service": "erp", "duration_ms": 0.4},
            {"at": (t + timedelta(microseconds=500)).isoformat(), "signal": "span", "name": "retry", "service": "erp",
             "duration_ms": 0.4},
        ]
    }  # fmt: skip
    first, second = waterfall_rows(story)
    assert first["end"] - first["start"] == timedelta(microseconds=400)
    assert second["end"] == t + timedelta(microseconds=900)  # not stretched to a millisecond


def test_completeness_says_what_a_number_could_not_see() -> None:
    from dashboard.format import completeness

    assert completeness(None) == ""  # an SLI that says nothing about it shows nothing
    assert completeness({"considered": 0, "included": 0, "left_out": {}, "complete": True}) == (
        "Complete: nothing left out."
    )
    nearly = {"considered": 1000, "included": 995, "complete": True,
              "left_out": {"no_first_attempt_known": {"count": 5, "money": {"USD": 512.5, "EUR": 1200.0}}}}  # fmt: skip
    assert completeness(nearly) == (
        "Nearly complete: measured 995 of 1,000 records; left out 5 seen only from a retry (1,200 EUR · 512 USD)."
    )
