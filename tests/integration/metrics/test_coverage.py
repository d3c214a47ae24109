"""Coverage on hand-built logs: what the SLIs infer from the events (first attempts from outcomes, systems from
source prefixes) and what they have to leave out (unknown first attempt, unknown billing type, no project named),
counted with its money instead of dropped, through the real ingest path and the read API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slo import load_slos
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.metrics.test_hand_built_logs import MONDAY, WINDOW, approved, ce, posting, send

pytestmark = pytest.mark.integration

H = timedelta(hours=1)
S = timedelta(seconds=5)


def _strip_systems(event: dict[str, Any], source: str) -> dict[str, Any]:
    """The event as an integration that sets no sourcesystem/targetsystem extension sends it."""
    out = {k: v for k, v in event.items() if k not in ("sourcesystem", "targetsystem")}
    out["source"] = source
    return out


def psa_project(code: str, billing: str = "time_and_materials", *, when: Any = None) -> dict[str, Any]:
    data = {"project_code": code, "customer_id": f"CU-{code}", "status": "active", "billing_type": billing,
            "currency": "USD"}  # fmt: skip
    # No system extensions: the PSA is told by the source prefix (SYNCWATCH_SOURCE_SYSTEMS' default `//psa/`).
    return _strip_systems(ce("project.created", when or MONDAY - 30 * 24 * H, data), "//psa/kantata/acme-us")


def history(*, with_requests: bool) -> list[dict[str, Any]]:
    """Five entries on a billable project: E1 posted at attempt 1, E2 failed then posted at attempt 2, E3 refused
    for good, E5 seen only from its attempt 2 (attempt 1 lost); E6 on a project no PSA event describes; E7 approved
    but never picked up (no event names its project)."""
    events = [psa_project("P-USD"), approved(["E1", "E2", "E3", "E5", "E6", "E7"], MONDAY)]

    def attempt(entry: str, at: Any, amount: float, n: int, outcome: str, **extra: Any) -> list[dict[str, Any]]:
        sent = [posting(f"time_entry.{outcome}", entry, at + S, amount, attempt=n, **extra)]
        if with_requests:
            sent.insert(0, posting("time_entry.post_requested", entry, at, amount, attempt=n, **extra))
        return sent

    events += attempt("E1", MONDAY + H, 100.0, 1, "posted")
    events += attempt("E2", MONDAY + 2 * H, 200.0, 1, "post_failed")
    events += attempt("E2", MONDAY + 3 * H, 200.0, 2, "posted")
    events += attempt("E3", MONDAY + 4 * H, 300.0, 1, "post_failed", retryable=False)
    events += attempt("E5", MONDAY + 5 * H, 500.0, 2, "posted")
    events += attempt("E6", MONDAY + 6 * H, 600.0, 1, "posted", project="P-MISSING")
    return events


def evaluated(warehouse: Client) -> dict[str, Any]:
    results = Evaluator(load_slos()).evaluate(Db(warehouse), window=WINDOW)
    return {name: r[""] for name, r in results.items()}


@pytest.mark.parametrize("with_requests", [True, False], ids=["requests-and-outcomes", "outcomes-only"])
def test_outcome_only_integrations_are_measured_like_those_that_send_requests(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, with_requests: bool
) -> None:
    send(collector, tokens, history(with_requests=with_requests))
    r = evaluated(warehouse)
    first = r["time_posting_first_pass"]
    # Judged: E1 (good), E2 and E3 (failed at attempt 1), E6 (good); E5's attempt 1 never arrived: left out.
    assert (first.good, first.total) == (2, 4)
    assert first.coverage["left_out"] == {"no_first_attempt_known": {"count": 1, "money": {"USD": 500.0}}}
    assert first.coverage["considered"] == 5 and first.coverage["ratio"] == pytest.approx(0.8)
    assert first.status == "breach"  # a breach stays a breach however much was left out
    # Every posted entry had an approval: eventual and latency miss nothing.
    assert r["time_posting_eventual"].coverage["left_out"] == {}
    assert r["billing_sync_latency"].coverage["complete"] is True
    # Billing latency judges the same entries either way: the four posted, E3 and E7 stuck.
    assert r["billing_sync_latency"].total == 6


def test_money_on_a_project_of_unknown_billing_type_is_unclassified_not_dropped(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    send(collector, tokens, history(with_requests=True))
    r = evaluated(warehouse)
    ready = r["invoice_readiness_lag"]
    assert ready.total == 4  # E1, E2, E3, E5 on the billable project, told a PSA project by its source prefix
    assert ready.coverage["left_out"] == {
        "no_project_named": {"count": 1, "money": {}},
        "unknown_billing_type": {"count": 1, "money": {"USD": 600.0}},
    }
    assert ready.coverage["complete"] is False
    # The projects missing from the PSA's master data are named, with their money.
    assert ready.coverage["unknown_projects"] == [{"project": "P-MISSING", "entries": 1, "money": {"USD": 600.0}}]
    wip = r["unbilled_wip_at_risk"]
    # As of 8 days after approval: E6's 600 USD sits in the 8-30 day bucket, apart from the billable WIP.
    unclassified = wip.coverage["unclassified_by_currency_and_age"]
    assert unclassified == {"USD": {"0-7": 0.0, "8-30": 600.0, "31-60": 0.0, ">60": 0.0}}
    assert wip.coverage["money_ratio"] == {"USD": pytest.approx(1100.0 / 1700.0)}
    assert wip.status == "breach"  # E3 blocked for 8 days: a breach, whatever was left out
    assert wip.coverage["left_out"]["unknown_billing_type"] == {"count": 1, "money": {"USD": 600.0}}


def test_late_master_data_reclassifies_entries_already_counted(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    send(collector, tokens, history(with_requests=False))
    before = evaluated(warehouse)["invoice_readiness_lag"]
    # The PSA announces the project after its first time entries: the entry joins the SLI retroactively.
    send(collector, tokens, [psa_project("P-MISSING", when=MONDAY + 7 * H)])
    after = evaluated(warehouse)
    assert after["invoice_readiness_lag"].total == before.total + 1
    assert "unknown_billing_type" not in after["invoice_readiness_lag"].coverage["left_out"]
    assert after["unbilled_wip_at_risk"].coverage["unclassified_by_currency_and_age"] == {}
    # A project announced as internal work is classified too: known not to be billable, so left out of neither.
    send(collector, tokens, [psa_project("P-INTERNAL", "internal"), approved(["E9"], MONDAY),
                             posting("time_entry.posted", "E9", MONDAY + H, 50.0, project="P-INTERNAL")])  # fmt: skip
    again = evaluated(warehouse)["invoice_readiness_lag"]
    assert again.total == after["invoice_readiness_lag"].total
    assert again.coverage["left_out"] == after["invoice_readiness_lag"].coverage["left_out"]


def test_an_sli_with_only_unclassifiable_records_is_partial_not_no_data(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    send(collector, tokens, [approved(["E1"], MONDAY),
                             posting("time_entry.posted", "E1", MONDAY + H, 10.0, project="P-NOWHERE")])  # fmt: skip
    ready = evaluated(warehouse)["invoice_readiness_lag"]
    assert ready.value is None and ready.total == 0
    assert ready.status == "partial"
    assert ready.coverage["considered"] == 1


def test_coverage_api_lists_slis_flows_and_sources_of_unknown_systems(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    unknown = _strip_systems(
        ce("project.created", MONDAY, {"project_code": "P-X", "customer_id": "CU", "status": "active",
                                        "billing_type": "fixed_fee", "currency": "USD"}),
        "https://erp.example.com/projects",
    )  # fmt: skip
    send(collector, tokens, [*history(with_requests=True), unknown])
    params = {"from": WINDOW.start.isoformat(), "to": WINDOW.end.isoformat()}
    r = httpx.get(f"{collector.url}/api/v1/coverage", params=params, headers=auth(tokens["read"]), timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    slis = {s["name"]: s for s in body["slis"]}
    assert slis["time_posting_first_pass"]["coverage"]["left_out"]["no_first_attempt_known"]["count"] == 1
    assert slis["master_data_consistency"]["coverage"]["left_out"] == {"unknown_system": {"count": 1, "money": {}}}
    flows = {f["flow"]: f for f in body["flows"]}
    assert flows["psa-to-erp-time"]["left_out"]["unknown_billing_type"]["money"] == {"USD": 600.0}
    assert flows["psa-to-erp-time"]["complete"] is False
    unknown_source = {"source": "https://erp.example.com/projects", "events": 1, "types": ["project.created"]}
    assert body["sources"] == [unknown_source]
    # Read scope: the ingest token may not look.
    assert httpx.get(f"{collector.url}/api/v1/coverage", headers=auth(tokens["ingest"])).status_code == 403


def test_a_systems_own_project_event_without_extensions_belongs_to_its_flow(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    data = {"project_code": "P-1", "customer_id": "CU", "status": "active", "billing_type": "fixed_fee",
            "currency": "USD"}  # fmt: skip
    erp = _strip_systems(ce("project.created", MONDAY, data), "//erp/netsuite/acme-us")
    psa = _strip_systems(ce("project.created", MONDAY, data), "/psa/kantata/acme-us")
    send(collector, tokens, [erp, psa])
    flows = dict(warehouse.query("SELECT source, flow FROM events FINAL").result_rows)
    assert flows == {"//erp/netsuite/acme-us": "psa-to-erp-projects", "/psa/kantata/acme-us": "crm-to-psa-projects"}
    systems = sorted(r[0] for r in warehouse.query("SELECT system FROM project_state FINAL").result_rows)
    assert systems == ["erp", "psa"]


def test_coverage_sources_answers_over_a_short_window_for_the_ingest_page(
    collector: ThreadedCollector, tokens: Tokens
) -> None:
    recent = _strip_systems(ce("project.created", datetime.now(UTC) - timedelta(minutes=5), {
        "project_code": "P-Y", "customer_id": "CU", "status": "active", "billing_type": "fixed_fee",
        "currency": "USD"}), "https://erp.example.com/live")  # fmt: skip
    send(collector, tokens, [recent])
    url = f"{collector.url}/api/v1/coverage/sources"
    r = httpx.get(url, params={"window": "1h"}, headers=auth(tokens["read"]), timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["sources"] == [
        {"source": "https://erp.example.com/live", "events": 1, "types": ["project.created"]}
    ]
    assert httpx.get(url, params={"window": "soon"}, headers=auth(tokens["read"])).status_code == 422


_entry_shapes = st.lists(
    st.tuples(
        st.sampled_from(["P-USD", "P-MISSING", ""]),  # the project: billable, unknown to the PSA, never named
        st.sampled_from(["first", "retry_only", "none"]),  # which posting events arrived
        st.booleans(),  # approved
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=_entry_shapes)
def test_no_sli_reads_ok_or_no_data_while_it_left_out_records_above_the_threshold(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, shapes: list[tuple[str, str, bool]]
) -> None:
    # A fresh warehouse per example: empty every table the events fill (schema and tokens stay).
    tables = [r[0] for r in warehouse.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT IN ('MaterializedView')"
        " AND name NOT IN ('schema_migrations', 'tokens')").result_rows]  # fmt: skip
    for table in tables:
        warehouse.command(f"TRUNCATE TABLE `{table}`")
    events = [psa_project("P-USD")]
    for n, (code, posting_seen, was_approved) in enumerate(shapes):
        entry = f"G{n}"
        if was_approved:
            events.append(approved([entry], MONDAY))
        if code and posting_seen != "none":
            attempt = 1 if posting_seen == "first" else 2
            events.append(posting("time_entry.posted", entry, MONDAY + H + n * S, 100.0 + n, attempt=attempt,
                                  project=code))  # fmt: skip
    send(collector, tokens, events)
    partial_above = load_slos().partial_above
    for name, r in evaluated(warehouse).items():
        cov = r.coverage
        left = sum(item["count"] for item in cov["left_out"].values())
        if not cov["complete"]:
            assert r.status not in ("ok", "no_data"), (name, r.status, cov)
        if r.status == "no_data":
            assert left == 0, (name, cov)
        assert cov["considered"] == cov["included"] + left
        assert cov["complete"] == (left == 0 or left / cov["considered"] <= partial_above) or cov["money_ratio"]
