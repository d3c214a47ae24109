"""The SLI read API: auth and scopes, every SLI listed even on an empty warehouse, explicit windows, breakdowns,
records behind a number, stored series, and specific errors for bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.metrics.test_hand_built_logs import AS_OF, MONDAY, firm_log

pytestmark = pytest.mark.integration
NAMES = {
    "time_posting_first_pass", "time_posting_eventual", "invoice_readiness_lag", "resource_plan_freshness",
    "master_data_consistency", "duplicate_submission_rate", "unbilled_wip_at_risk", "exception_sla_compliance",
    "billing_sync_latency", "rate_card_exposure", "dead_letter_backlog", "flow_silence", "time_posting_pickup",
    "time_posting_rejections",
}  # fmt: skip
WINDOW = {"from": "2026-11-01T00:00:00Z", "to": AS_OF.isoformat().replace("+00:00", "Z")}


def test_scopes_are_enforced(collector: ThreadedCollector, tokens: Tokens) -> None:
    url = f"{collector.url}/api/v1/slis"
    assert httpx.get(url, timeout=30).status_code == 401
    assert httpx.get(url, headers=auth(tokens["ingest"]), timeout=30).status_code == 403
    assert httpx.get(url, headers=auth(tokens["revoked"]), timeout=30).status_code == 401


def test_an_empty_warehouse_lists_every_sli_without_data(collector: ThreadedCollector, tokens: Tokens) -> None:
    body = httpx.get(f"{collector.url}/api/v1/slis", headers=auth(tokens["read"]), timeout=60).json()
    got = {s["name"]: s for s in body["slis"]}
    assert set(got) == NAMES
    assert got["time_posting_first_pass"]["status"] == "no_data"
    assert got["time_posting_first_pass"]["objective"] == {"target": 0.97, "comparison": ">=", "window": "30d"}
    assert got["dead_letter_backlog"]["value"] == 0 and got["dead_letter_backlog"]["status"] == "ok"
    assert got["time_posting_pickup"]["value"] == 0 and got["time_posting_pickup"]["status"] == "ok"


@pytest.fixture
def seeded(collector: ThreadedCollector, tokens: Tokens) -> ThreadedCollector:
    batch, _ = firm_log()
    headers = {**auth(tokens["ingest"]), "Content-Type": "application/cloudevents-batch+json"}
    assert httpx.post(f"{collector.url}/v1/events", json=batch, headers=headers, timeout=30).status_code == 200
    return collector


def test_explicit_windows_breakdowns_and_records(seeded: ThreadedCollector, tokens: Tokens) -> None:
    base, headers = f"{seeded.url}/api/v1/slis", auth(tokens["read"])
    body = httpx.get(base, params=WINDOW, headers=headers, timeout=60).json()
    first = {s["name"]: s for s in body["slis"]}["time_posting_first_pass"]
    assert (first["good"], first["total"]) == (3, 5)
    assert body["from"] == "2026-11-01T00:00:00Z"

    by_tenant = httpx.get(f"{base}/time_posting_first_pass/breakdown", params={**WINDOW, "by": "tenant"},
                          headers=headers, timeout=60).json()  # fmt: skip
    assert by_tenant["rows"] == [
        {"key": "acme-us", "value": pytest.approx(0.6), "good": 3, "total": 5, "status": "breach", "details": {}}
    ]
    one_flow = httpx.get(f"{base}/time_posting_first_pass/breakdown", params={**WINDOW, "by": "flow"},
                         headers=headers, timeout=60).json()  # fmt: skip
    assert [(r["key"], r["good"], r["total"]) for r in one_flow["rows"]] == [("psa-to-erp-time", 3, 5)]
    by_flow = httpx.get(f"{base}/dead_letter_backlog/breakdown", params={**WINDOW, "by": "flow"}, headers=headers,
                        timeout=60).json()  # fmt: skip
    assert [r["key"] for r in by_flow["rows"]] == ["psa-to-erp-time"]

    stuck = httpx.get(f"{base}/time_posting_eventual/records", params={**WINDOW, "limit": 10}, headers=headers,
                      timeout=60).json()["records"]  # fmt: skip
    keys = {r["key"]: r for r in stuck}
    assert "E3" in keys and keys["E3"]["amount"] == 300.0 and keys["E3"]["currency"] == "USD"
    assert keys["E3"]["status"].startswith("blocked")
    assert keys["E3"]["age_seconds"] == pytest.approx((AS_OF - MONDAY).total_seconds(), abs=1)  # approved Monday
    wip = httpx.get(f"{base}/unbilled_wip_at_risk/records", params=WINDOW, headers=headers, timeout=60).json()
    assert [r["key"] for r in wip["records"]] == ["E3"]


def test_bad_input_gets_a_specific_error(seeded: ThreadedCollector, tokens: Tokens) -> None:
    base, headers = f"{seeded.url}/api/v1/slis", auth(tokens["read"])
    unknown = httpx.get(f"{base}/nope/records", headers=headers, timeout=30)
    assert unknown.status_code == 404 and "time_posting_first_pass" in unknown.json()["error"]
    bad_by = httpx.get(f"{base}/flow_silence/breakdown", params={"by": "customer"}, headers=headers, timeout=30)
    assert bad_by.status_code == 422 and "by:" in bad_by.json()["error"]
    bad_window = httpx.get(base, params={"window": "a fortnight"}, headers=headers, timeout=30)
    assert bad_window.status_code == 422 and "window" in bad_window.json()["error"]
    backwards = httpx.get(base, params={"from": "2026-11-10T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
                          headers=headers, timeout=30)  # fmt: skip
    assert backwards.status_code == 422 and "not after its start" in backwards.json()["error"]


def test_snapshots_form_a_series(seeded: ThreadedCollector, tokens: Tokens) -> None:
    job = seeded.service.components[0].job
    job.run()
    job.run()
    body = httpx.get(f"{seeded.url}/api/v1/slis/dead_letter_backlog/series", headers=auth(tokens["read"]),
                     params={"from": "2026-11-01T00:00:00Z"}, timeout=30).json()  # fmt: skip
    assert body["unit"] == "hours"
    assert body["points"] and all(p["value"] is not None for p in body["points"])
