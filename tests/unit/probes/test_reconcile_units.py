"""Built-in probes' slicing and arithmetic on fixed answers (MockTransport), independent of the simulator."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from probes.interfaces import ProbeContext
from probes.reconcile.duplicates import check_duplicate_postings
from probes.reconcile.time_posting import check_time_posting, month_slices
from probes.transport import CallScope

from .support import FakeTime, make_client, scope

NOW = datetime(2025, 4, 2, 12, tzinfo=UTC).timestamp()


def test_month_slices_cover_the_range_exactly() -> None:
    got = month_slices(date(2025, 1, 15), date(2025, 3, 2))
    assert got == [
        (date(2025, 1, 15), date(2025, 1, 31)),
        (date(2025, 2, 1), date(2025, 2, 28)),
        (date(2025, 3, 1), date(2025, 3, 2)),
    ]


def test_time_posting_reads_months_ahead_and_skips_agreeing_ones() -> None:
    ranges: list[str] = []

    def psa(request: httpx.Request) -> httpx.Response:
        ranges.append(request.url.params["date_performed_between"])
        return httpx.Response(200, json={"count": 0, "results": [], "time_entries": {}})

    def erp(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [{"count": 0}], "hasMore": False, "totalResults": 1})

    fake = FakeTime()
    p, _ = make_client(psa, fake=fake, system="psa")
    e, _ = make_client(erp, fake=fake, system="erp")
    s = scope(fake)
    found = check_time_posting(ProbeContext({"psa": p, "erp": e}, s, NOW, {"lookback_days": 10}))
    assert found == []
    assert ranges[0].startswith("2025-03-23:") and ranges[-1].endswith(":2025-05-03")  # 31 days ahead of today
    assert s.calls == {"psa": 9, "erp": 3}  # 3 months x (approved, post_failed, posted) and one ERP count each


def test_duplicates_are_verified_and_priced() -> None:
    journals = [
        {"id": "J1", "externalid": "TE-1", "employee": "C1", "job": "P1", "amount": 100.0, "currency": "EUR",
         "subsidiary": "acme-de", "createddate": "2025-04-01T10:00:00.000Z"},
        {"id": "J2", "externalid": "TE-1", "employee": "C1", "job": "P1", "amount": 100.0, "currency": "EUR",
         "subsidiary": "acme-de", "createddate": "2025-04-01T10:05:00.000Z"},
        {"id": "J3", "externalid": "TE-2", "employee": "C2", "job": "P1", "amount": 50.0, "currency": "EUR",
         "subsidiary": "acme-de", "createddate": "2025-04-01T11:00:00.000Z"},
    ]  # fmt: skip
    queries: list[str] = []

    def erp(request: httpx.Request) -> httpx.Response:
        q = json.loads(request.content)["q"]
        queries.append(q)
        if "COUNT(*)" in q:
            return httpx.Response(200, json={"items": [{"count": 3}], "hasMore": False, "totalResults": 1})
        rows: list[dict[str, Any]] = journals
        if "IN (" in q:
            rows = [j for j in journals if f"'{j['externalid']}'" in q]
        return httpx.Response(200, json={"items": rows, "hasMore": False, "totalResults": len(rows)})

    fake = FakeTime()
    e, _ = make_client(erp, fake=fake)
    state: dict[str, Any] = {}
    ctx = ProbeContext({"erp": e}, CallScope(scope(fake).deadline), NOW, {"lookback_days": 5}, state)
    found = check_duplicate_postings(ctx)
    assert [f.object_id for f in found] == ["TE-1"]
    assert float(found[0].amount or 0) == 100.0 and found[0].detail["documents"] == ["J1", "J2"]
    assert state["watermark"] == "2025-04-01T11:00:00.000Z" and state["known"] == ["TE-1"]
    assert any("IN ('TE-1')" in q for q in queries)  # suspects are re-read, never trusted from the scan


def test_integration_runtime_reports_stopped_processes_and_lets_a_deployment_finish() -> None:
    from probes.errors import BadResponse
    from probes.reconcile.integrations import check_integrations

    def iso(seconds_ago: float) -> str:
        return datetime.fromtimestamp(NOW - seconds_ago, UTC).isoformat().replace("+00:00", "Z")

    listing = [
        {"name": "psa-to-erp-time", "status": "running", "status_since": iso(86400)},
        {"name": "hcm-to-psa-workers", "status": "stopped", "status_since": iso(95), "status_reason": "disabled",
         "source_system": "hcm", "target_system": "psa", "last_execution_at": iso(400)},
        {"name": "crm-to-psa-projects", "status": "deploying", "status_since": iso(60)},  # a release: not yet
        {"name": "psa-to-erp-invoices", "status": "restarting", "status_since": iso(900)},  # stuck restarting
        {"name": "legacy-export", "status": "stopped", "status_since": iso(9e6)},  # ignored: retired on purpose
    ]  # fmt: skip
    body: dict[str, Any] = {"integrations": listing}

    def mw(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/integrations"
        return httpx.Response(200, json=body)

    fake = FakeTime()
    client, _ = make_client(mw, fake=fake, system="middleware")
    ctx = ProbeContext({"middleware": client}, scope(fake), NOW, {"ignore": ["legacy-export"]})
    found = {f.object_id: f for f in check_integrations(ctx)}
    assert sorted(found) == ["hcm-to-psa-workers", "psa-to-erp-invoices"]
    hcm = found["hcm-to-psa-workers"]
    assert hcm.kind == "integration_stopped" and hcm.age_seconds == 95 and hcm.detail["status_reason"] == "disabled"
    assert hcm.detail["flow"] == "hcm-to-psa-workers" and hcm.detail["source_system"] == "hcm"
    assert found["psa-to-erp-invoices"].detail["status"] == "restarting"
    body["integrations"] = [{"name": "x", "status_since": iso(1)}]
    with pytest.raises(BadResponse, match="integration x has no status"):
        check_integrations(ProbeContext({"middleware": client}, scope(fake), NOW, {}))
