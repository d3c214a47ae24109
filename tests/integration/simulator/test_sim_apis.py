"""The simulated system APIs over loopback: auth, paging, limits, and the same state the events describe."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sim_integration_support import serve, small_sim

from simulator.apis.app import create_app
from simulator.apis.auth import Credentials
from simulator.apis.limits import SystemLimits
from syncwatch.vocabulary import canonical_type

pytestmark = pytest.mark.integration
CREDS = Credentials()
FORM = {
    "grant_type": "client_credentials",
    "client_id": CREDS.client_id,
    "client_secret": CREDS.client_secret,
}


@pytest.fixture(scope="module")
def estate():
    sim, sink = small_sim()
    limits = SystemLimits(netsuite_concurrency=2, workday_rate=2, workday_burst=3, soql_batch=50, latency_s=0.2)
    with serve(create_app(sim, limits=limits)) as base:
        yield sim, sink, base


def _token(base: str, path: str) -> str:
    r = httpx.post(base + path, data=FORM)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_oauth_is_required_and_checked(estate) -> None:
    _, _, base = estate
    q = {"q": "SELECT COUNT(*) FROM job"}
    url = base + "/services/rest/query/v1/suiteql"
    assert httpx.post(url, json=q, headers={"Prefer": "transient"}).status_code == 401
    bad = dict(FORM, client_secret="wrong")
    assert httpx.post(base + "/services/rest/auth/oauth2/v1/token", data=bad).status_code == 401
    crm = _token(base, "/services/oauth2/token")  # a token for another system is not accepted
    r = httpx.post(
        base + "/services/rest/query/v1/suiteql",
        json=q,
        headers={"Authorization": f"Bearer {crm}", "Prefer": "transient"},
    )
    assert r.status_code == 401


def test_suiteql_pages_and_matches_the_events(estate) -> None:
    sim, sink, base = estate
    headers = {
        "Authorization": f"Bearer {_token(base, '/services/rest/auth/oauth2/v1/token')}",
        "Prefer": "transient",
    }
    url = base + "/services/rest/query/v1/suiteql"
    q = {"q": "SELECT id, externalid, hours FROM timebill ORDER BY id"}
    assert httpx.post(url + "?limit=1001", json=q, headers=headers).status_code == 400
    rows, next_url = [], url + "?limit=1000&offset=0"
    while next_url:
        page = httpx.post(next_url, json=q, headers=headers, timeout=30).json()
        assert page["count"] <= 1000
        rows += page["items"]
        next_url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    posted = {e["data"]["erp_document_id"] for e in sink.events if canonical_type(e["type"]) == "time_entry.posted"}
    assert len(rows) == page["totalResults"] == len(posted) > 1000
    assert {r["id"] for r in rows} == posted


def test_netsuite_concurrency_cap_answers_429(estate) -> None:
    _, _, base = estate
    headers = {
        "Authorization": f"Bearer {_token(base, '/services/rest/auth/oauth2/v1/token')}",
        "Prefer": "transient",
    }

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await asyncio.gather(
                *[
                    client.post(
                        "/services/rest/query/v1/suiteql", json={"q": "SELECT COUNT(*) FROM job"}, headers=headers
                    )
                    for _ in range(6)
                ]
            )

    answers = asyncio.run(burst())
    limited = [r for r in answers if r.status_code == 429]
    assert limited and any(r.status_code == 200 for r in answers)
    assert limited[0].headers["Retry-After"] == "1"
    assert limited[0].json()["o:errorCode"] == "SSS_REQUEST_LIMIT_EXCEEDED"


def test_soql_next_records_url(estate) -> None:
    sim, _, base = estate
    headers = {"Authorization": f"Bearer {_token(base, '/services/oauth2/token')}"}
    r = httpx.get(base + "/services/data/v61.0/query", params={"q": "SELECT Id, Name FROM Account"}, headers=headers)
    assert r.status_code == 200
    assert "api-usage=" in r.headers["Sforce-Limit-Info"]
    body = r.json()
    assert body["totalSize"] == len(sim.firm.customers)
    r = httpx.get(
        base + "/services/data/v61.0/query",
        headers=headers,
        params={"q": "SELECT Id, Project_Code__c FROM pse__Proj__c"},
    )
    body = r.json()
    got = list(body["records"])
    while not body["done"]:
        body = httpx.get(base + body["nextRecordsUrl"], headers=headers).json()
        got += body["records"]
    assert len(got) == body["totalSize"] > 50
    assert got[0]["attributes"]["type"] == "pse__Proj__c"


def test_workday_paging_filter_and_throttle(estate) -> None:
    sim, _, base = estate
    headers = {"Authorization": f"Bearer {_token(base, '/ccx/oauth2/acme/token')}"}
    url = base + "/ccx/api/v1/acme/workers"
    assert httpx.get(url, params={"limit": 101}, headers=headers).status_code == 400
    everyone = httpx.get(url, params={"limit": 100}, headers=headers).json()
    assert everyone["total"] == len(sim.firm.consultants)
    recent = httpx.get(url, params={"limit": 100, "updatedFrom": "2025-03-10T00:00:00Z"}, headers=headers).json()
    assert 0 < recent["total"] < everyone["total"]
    answers = [httpx.get(url, params={"limit": 1}, headers=headers) for _ in range(12)]
    throttled = [r for r in answers if r.status_code == 429]
    assert throttled and int(throttled[0].headers["Retry-After"]) >= 1


def test_kantata_count_and_per_page_cap(estate) -> None:
    sim, _, base = estate
    headers = {"Authorization": f"Bearer {CREDS.api_key}"}
    url = base + "/api/v1/time_entries.json"
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    r = httpx.get(url, params={"per_page": 1, "status": "posted"}, headers=headers).json()
    posted = sum(1 for e in sim.firm.entries.values() if e.status == "POSTED")
    assert r["count"] == posted and len(r["results"]) == 1
    big = httpx.get(url, params={"per_page": 5000}, headers=headers).json()
    assert len(big["results"]) == 200


def test_dead_letter_listing(estate) -> None:
    sim, _, base = estate
    assert httpx.get(base + "/api/v1/dead-letters").status_code == 401
    headers = {"X-API-Key": CREDS.api_key}
    body = httpx.get(base + "/api/v1/dead-letters", params={"status": "all", "page_size": 500}, headers=headers).json()
    assert body["total"] == len(sim.firm.dead_letters) > 0
    assert httpx.get(base + "/api/v1/dead-letters", params={"page_size": 501}, headers=headers).status_code == 400


def test_admin_switches_faults_and_erp_goes_down(estate) -> None:
    sim, _, base = estate
    admin = {"Authorization": f"Bearer {CREDS.admin_token}"}
    assert httpx.post(base + "/admin/faults/erp_outage", json={"on": True}).status_code == 401
    r = httpx.post(base + "/admin/faults/erp_outage", json={"on": True}, headers=admin)
    assert r.json() == {"name": "erp_outage", "active": True, "changed": True}
    try:
        headers = {
            "Authorization": f"Bearer {_token(base, '/services/rest/auth/oauth2/v1/token')}",
            "Prefer": "transient",
        }
        down = httpx.post(
            base + "/services/rest/query/v1/suiteql", json={"q": "SELECT COUNT(*) FROM job"}, headers=headers
        )
        assert down.status_code == 503 and down.headers["Retry-After"]
    finally:
        httpx.post(base + "/admin/faults/erp_outage", json={"on": False}, headers=admin)
    assert not sim.faults.active("erp_outage", sim.now)
