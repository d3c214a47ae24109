"""AppTest for every page: it renders, raises nothing, shows the numbers the API returns, keeps its filters in
the URL, and turns API failures into messages."""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from dashboard.format import WORD_JOINER, budget, money, pretty_json, value
from tests.unit.dashboard.conftest import PAGE_FILES, Open, client_for
from tests.unit.dashboard.fake_api import FakeCollector, journey


def shown_as(markdown: object) -> str:
    """What the browser shows of Markdown's backslash escapes (values from the API are escaped, see format.esc)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown)).replace(WORD_JOINER, "")


def metrics(at: AppTest) -> dict[str, str]:
    return {shown_as(m.label): shown_as(m.value) for m in at.metric}


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [s.value for s in at.success] + [c.value for c in at.caption]
    return "\n".join(shown_as(p) for p in parts)


def test_overview_shows_every_sli_tile_with_the_api_numbers(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("overview")
    shown = metrics(at)
    for sli in fake.slis:
        assert shown[sli["title"]] == value(sli["value"], sli["unit"], sli["details"])
    breached = [s for s in fake.slis if s["status"] == "breach"]
    assert shown["SLIs breached"] == f"{len(breached)} of {len(fake.slis)}"
    assert shown["Alerts firing"] == "1"
    wip = next(s for s in fake.slis if s["name"] == "unbilled_wip_at_risk")
    assert (
        "EUR" in shown["Unbilled WIP at risk"]
        and money(wip["details"]["by_currency"]["EUR"], "EUR") in shown["Unbilled WIP at risk"]
    )
    assert "**Breached:**" in texts(at) and not at.error
    assert "approved time" in texts(at)  # the flow map's legend
    requested = {r.url.path for r in fake.requests}
    assert {f"/api/v1/slis/{s['name']}/series" for s in fake.slis} <= requested  # sparklines


def test_overview_change_chips_are_the_change_since_the_first_snapshot(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("overview")
    tiles = {shown_as(m.label): m.proto for m in at.metric}
    # the fake's series starts at 97 % of the value now: a rise, good for a ">=" SLI, bad for a "<=" one
    first_pass = next(s for s in fake.slis if s["name"] == "time_posting_first_pass")
    rise = f"+{first_pass['value'] * 0.03 * 100:.2f} pp in 24 h"
    tile = tiles[first_pass["title"]]
    assert (tile.delta, tile.color, tile.direction) == (rise, Metric.GREEN, Metric.UP)
    lag = next(s for s in fake.slis if s["name"] == "invoice_readiness_lag" and s["value"])
    tile = tiles[lag["title"]]
    assert tile.delta.startswith("+") and (tile.color, tile.direction) == (Metric.RED, Metric.UP)
    # about 1 then and 1 now, a count: a change that shows as 0 is no change, grey with no arrow (it was a red "0")
    tile = tiles[next(s["title"] for s in fake.slis if s["name"] == "master_data_consistency")]
    assert (tile.delta, tile.color, tile.direction) == ("no change in 24 h", Metric.GRAY, Metric.NONE)


def test_overview_without_the_metrics_stage_is_an_empty_state(open_page: Open, fake: FakeCollector) -> None:
    fake.missing = ("/api/v1/slis", "/api/v1/alerts")
    at = open_page("overview")
    assert not at.error
    assert any("not available yet" in i.value for i in at.info)
    assert metrics(at)["SLIs breached"] == "—"


@pytest.mark.parametrize("page", sorted(PAGE_FILES))
def test_collector_down_is_a_message_on_every_page(open_page: Open, page: str) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    at = open_page(page, client_for(refuse), key="TE-000000001")
    assert any("unreachable" in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.parametrize("page", sorted(PAGE_FILES))
def test_a_refused_token_is_a_message_on_every_page(open_page: Open, fake: FakeCollector, page: str) -> None:
    fake.status_override = 401
    at = open_page(page, key="TE-000000001")
    assert any("token" in e.value for e in at.error), [e.value for e in at.error]


def test_sli_detail_follows_and_writes_the_url(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("sli", sli="time_posting_first_pass", window="30d", by="tenant")
    sli = fake.slis[0]
    shown = metrics(at)
    assert shown["Current value"] == value(sli["value"], "ratio")
    assert shown["Error budget left"] == budget(sli["error_budget_remaining"])
    eur = sum(r["amount"] for r in fake.records if r["currency"] == "EUR")
    # the money at risk is one line that wraps, every amount with its currency, never a tile cut off mid-number
    assert "**500 records** · at risk: **" in texts(at) and money(eur, "EUR") in texts(at)
    assert at.query_params["sli"] == "time_posting_first_pass" and at.query_params["by"] == "tenant"
    series = next(r for r in fake.requests if r.url.path.endswith("/series"))
    assert "from" in series.url.params
    assert any(r.url.path.endswith("/breakdown") and r.url.params["by"] == "tenant" for r in fake.requests)
    assert len(at.get("image")) >= 4  # series, budget, burn rates, breakdown: server-drawn SVG
    assert not at.get("vega_lite_chart")


def test_flow_silence_by_flow_shows_how_long_each_flow_has_been_quiet(open_page: Open) -> None:
    at = open_page("sli", sli="flow_silence", window="24h", by="flow")
    drawn = [base64.b64decode(i.proto.imgs[0].url.split(",", 1)[1]).decode() for i in at.get("image")]
    breakdown = next(d for d in drawn if "quiet for" in d)
    # the silent flow in red with how long it has been quiet; the others by their age, not a bare 0
    assert ">5 h 0 min<" in breakdown and ">2 min 39 s<" in breakdown and 'fill="#e53935"' in breakdown
    assert not at.error


def test_sli_detail_ignores_a_bad_url_value(open_page: Open) -> None:
    at = open_page("sli", sli="no_such_sli", window="forever", by="nonsense")
    assert at.selectbox[0].value == "time_posting_first_pass"
    assert at.query_params["window"] == "7d"


def test_record_trace_shows_where_it_stopped_and_why(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("trace", key="TE-000000001")
    assert "TE-000000001** · Stopped after time_entry.post_failed" in texts(at)
    assert "PERIOD_CLOSED (closed_period), not retryable" in texts(at) and not at.error
    shown = metrics(at)
    assert shown["Events"] == "3" and shown["Spans"] == "3" and shown["Errors"] == "1"
    assert len(at.get("image")) == 1  # the waterfall
    assert "PRJ-0001" in texts(at) and "C000042" in texts(at)  # related records link onwards
    assert at.query_params["key"] == "TE-000000001"


def test_record_trace_of_a_healthy_record_says_what_comes_next(open_page: Open, fake: FakeCollector) -> None:
    fake.journeys["TE-000000002"] = journey("TE-000000002", failed=False)
    at = open_page("trace", key="TE-000000002")
    assert "Waiting for time_entry.posted since time_entry.post_requested" in texts(at)


def test_record_trace_unknown_key_and_empty_search(open_page: Open) -> None:
    at = open_page("trace", key="TE-404")
    assert any("no event or span mentions" in w.value for w in at.warning)
    at = open_page("trace")
    assert any("Enter a business key" in i.value for i in at.info)


def test_record_trace_search_box_writes_the_key_into_the_url(open_page: Open) -> None:
    at = open_page("trace")
    at.text_input[0].input("TE-000000001").run()
    assert at.query_params["key"] == "TE-000000001"
    assert "PERIOD_CLOSED" in texts(at)


def test_probes_page_shows_runs_budget_and_findings(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("probes")
    shown = metrics(at)
    assert shown["Probes"] == "4" and shown["Stale"] == "1"
    at_risk = money(sum(f["amount"] for f in fake.findings), "EUR")
    assert f"**{len(fake.findings):,} findings** · at risk: **{at_risk}**" in texts(at)
    assert at.query_params["probe"] == "erp-reconcile"  # the probe with findings is chosen first
    assert any("hcm-reconcile" in shown_as(w.value) for w in at.warning)
    listed = at.table[0].value
    assert [shown_as(n) for n in listed.index] == [p["name"] for p in fake.probes]
    assert listed.loc["erp\\-reconcile", "budget used (last hour)"] == "24 %"  # 240 of 1,000 calls
    assert listed.loc["erp\\-reconcile", "findings"] == 40


def test_probes_not_deployed_is_an_empty_state(open_page: Open, fake: FakeCollector) -> None:
    fake.missing = ("/api/v1/probes",)
    at = open_page("probes")
    assert not at.error and any("not available yet" in i.value for i in at.info)


def test_alerts_active_and_history(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("alerts")
    assert metrics(at)["Firing"] == "1" and metrics(at)["Pending"] == "1"
    at = open_page("alerts", tab="history")
    assert metrics(at)["Transitions shown"] == str(len(fake.history))
    assert metrics(at)["Went firing"] == str(sum(1 for h in fake.history if h["to_state"] == "firing"))
    # a grid cell cuts a long summary off: the latest is also written out in full
    assert fake.history[0]["summary"] in texts(at)


def test_active_alert_summaries_are_listed_in_full(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("alerts")
    for alert in fake.alerts:
        assert alert["annotations"]["summary"] in texts(at)


def test_creating_a_silence_needs_confirmation(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("alerts", tab="silences")
    form = {t.label: t for t in at.text_input}
    form["Value"].input("psa-to-erp-time")
    form["Created by"].input("dana")
    form["Why"].input("ERP maintenance")
    next(b for b in at.button if b.label == "Create silence").click().run()
    assert any("confirmation" in w.value for w in at.warning)
    assert fake.writes == []
    next(c for c in at.checkbox if c.label.startswith("I confirm: matching")).check()
    next(b for b in at.button if b.label == "Create silence").click().run()
    method, path, body = fake.writes[-1]
    assert (method, path) == ("POST", "/api/v1/silences")
    assert body["matchers"] == [{"name": "flow", "value": "psa-to-erp-time", "is_regex": False}]
    assert body["created_by"] == "dana" and body["ends_at"].endswith("Z")
    assert any("Silence created" in s.value for s in at.success)


def test_expiring_a_silence_needs_confirmation(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("alerts", tab="silences")
    next(c for c in at.checkbox if c.label.startswith("I confirm: its alerts")).check()
    next(b for b in at.button if b.label == "Expire silence").click().run()
    assert fake.writes[-1][:2] == ("DELETE", "/api/v1/silences/s-0")
    assert fake.silences[0]["state"] == "expired"


def test_without_an_admin_token_silences_are_read_only(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("alerts", client_for(fake.handle, admin=""), tab="silences")
    actions = [b for b in at.button if b.label in ("Create silence", "Expire silence")]
    assert len(actions) == 2 and all(b.disabled for b in actions)
    assert any("Read-only" in shown_as(c.value) and "ADMIN_TOKEN" in shown_as(c.value) for c in at.caption)


def test_ingest_health_shows_rates_queues_and_the_quarantine(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("ingest", reason="missing_field")
    shown = metrics(at)
    assert fake.ingest is not None
    assert shown["Events / min (last)"] == f"{fake.ingest['events_per_minute'][-1]['events']:,}"
    assert shown["Queued rows"] == "200" and shown["Warehouse"] == "up"
    assert at.text[0].value == pretty_json(fake.quarantine["items"][0]["payload"])
    assert any(r.url.params.get("reason") == "missing_field" for r in fake.requests)


def test_ingest_health_lists_spans_with_near_miss_key_attributes(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("ingest")
    assert "45 spans since the collector started carry a record key under a near-miss name" in texts(at)
    listed = at.table[-1].value
    # st.table cells are Markdown: escaped as every value from the API is
    assert [shown_as(v) for v in listed["service"]] == ["psa-erp-connector", "erp-invoicing"]
    assert [shown_as(v) for v in listed["should be"]] == ["business.entry_id", "business.invoice_id"]
    assert list(listed["spans"]) == [42, 3]
    assert fake.ingest is not None
    fake.ingest["since_start"]["near_miss_spans"] = {}
    assert "near-miss" not in texts(open_page("ingest"))


def test_ingest_health_warehouse_down_is_shown(open_page: Open, fake: FakeCollector) -> None:
    assert fake.ingest is not None
    fake.ingest.update(warehouse_up=False, warehouse_error="Connection refused")
    at = open_page("ingest")
    assert "Warehouse unreachable:** Connection refused" in texts(at)
    assert metrics(at)["Warehouse"] == "DOWN"


def test_a_dimension_the_sli_lacks_is_an_explanation_not_an_error(open_page: Open, fake: FakeCollector) -> None:
    real = fake.handle

    def refuse_customer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/breakdown") and request.url.params.get("by") == "customer":
            return httpx.Response(422, json={"error": "by: x breaks down by flow, tenant, not 'customer'"})
        return real(request)

    at = open_page("sli", client_for(refuse_customer), sli="time_posting_first_pass", by="customer")
    assert not at.error
    assert any("breaks down by flow, tenant" in i.value for i in at.info)


def test_probes_budget_is_per_system_and_a_refused_probes_file_is_said(open_page: Open, fake: FakeCollector) -> None:
    real = fake.handle

    def with_systems(request: httpx.Request) -> httpx.Response:
        response = real(request)
        if request.url.path == "/api/v1/probes":
            import orjson

            body = orjson.loads(response.content)
            body["systems"] = {"netsuite": {"calls_per_hour": 900, "used_last_hour": 450, "refused_calls": 3}}
            body["config_error"] = "probes.yaml: line 4: unknown field 'intervall'"
            body["skipped"] = {"workday-workers": "no credentials"}
            return httpx.Response(200, json=body)
        return response

    at = open_page("probes", client_for(with_systems))
    assert "unknown field 'intervall'" in texts(at)
    assert any("workday-workers" in shown_as(w.value) for w in at.warning)
    assert any("3 calls were refused" in c.value for c in at.caption)


def test_a_large_breakdown_lists_its_rows_on_demand(open_page: Open, fake: FakeCollector) -> None:
    fake.breakdown_rows = 3000
    at = open_page("sli", sli="time_posting_first_pass", by="project")
    assert len(at.dataframe) == 1  # the records only
    at.toggle(key="list_breakdown").set_value(True).run()
    assert len(at.dataframe) == 2 and len(at.dataframe[0].value) == 2000


def test_acknowledging_an_alert_needs_confirmation(open_page: Open, fake: FakeCollector) -> None:
    at = open_page("alerts")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert any("confirmation" in w.value for w in at.warning) and fake.writes == []
    next(c for c in at.checkbox if c.label == "I am handling this alert").check()
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert fake.writes[-1][:2] == ("POST", "/api/v1/alerts/fp-1/ack")
    assert any("Acknowledged" in s.value for s in at.success)


def test_every_sli_tile_says_whether_its_number_is_complete(open_page: Open) -> None:
    shown = texts(open_page("overview"))
    assert shown.count("Complete: all 1,000 records measured.") == 13
    assert (
        "Incomplete: measured 1,000 of 1,132 records; left out 120 on projects of unknown billing type (41,200 EUR);"
        " 12 not yet picked up (project unknown)." in shown
    )


def test_sli_detail_lists_what_the_number_left_out_and_the_projects_missing(open_page: Open) -> None:
    at = open_page("sli", sli="invoice_readiness_lag", window="30d", by="tenant")
    shown = texts(at)
    assert "**Is this number complete?** Incomplete: measured 1,000 of 1,132 records" in shown
    left = at.dataframe[0].value
    assert list(left["left out"]) == ["on projects of unknown billing type", "not yet picked up (project unknown)"]
    assert list(left["money"]) == ["41,200 EUR", "—"]
    # a project code from the events is text, escaped for Markdown, never markup
    assert "PRJ-9<b> (120 entries)" in shown and "PRJ\\-9\\<b\\>" in "".join(c.value for c in at.caption)


def test_ingest_health_lists_sources_whose_events_name_no_system(open_page: Open, fake: FakeCollector) -> None:
    assert "name no system" not in texts(open_page("ingest"))
    fake.unknown_sources = [{"source": "https://erp.example.com/*x*", "events": 42, "types": ["project.created"]}]
    at = open_page("ingest")
    assert "42 events in the last 1 h name no system" in texts(at)
    listed = at.table[-1].value
    assert [shown_as(v) for v in listed["source"]] == ["https://erp.example.com/*x*"]
    assert "\\*x\\*" in listed["source"][0]  # escaped Markdown: shown as written, never emphasis
