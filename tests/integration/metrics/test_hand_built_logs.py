"""Each SLI on a small, hand-built event log with hand-computed values: duplicates inside and across batches,
events out of order, a record stuck mid-flow, an adjustment superseding an entry, money in two currencies.

The events go through the real ingest path (CloudEvents batches into the collector), so the business state is
built by the warehouse's own views, exactly as in production.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slo import load_slos
from metrics.windows import Window
from syncwatch.settings import Settings
from syncwatch.warehouse import connect
from tests.conftest import ThreadedCollector, Tokens, auth

pytestmark = pytest.mark.integration

MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
AS_OF = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), AS_OF)
_ids = itertools.count(1)

# (source system, target system) of each canonical type's flow
_SYSTEMS = {"timesheet": ("psa", "psa"), "time_entry": ("psa", "erp"), "invoice": ("psa", "erp"),
            "worker": ("hcm", "psa"), "exception": ("middleware", "middleware"), "message": ("psa", "erp"),
            "project": ("crm", "psa")}  # fmt: skip


def ce(ctype: str, when: datetime, data: dict[str, Any], *, id: str | None = None, **ext: str) -> dict[str, Any]:
    src, tgt = _SYSTEMS[ctype.split(".")[0]]
    return {
        "specversion": "1.0",
        "id": id or f"hb-{next(_ids)}",
        "source": f"/{src}/test/acme-us",
        "type": ctype,
        "subject": "s",
        "time": when.isoformat().replace("+00:00", "Z"),
        "tenantid": "acme-us",
        "sourcesystem": src,
        "targetsystem": tgt,
        **ext,
        "data": data,
    }


def posting(ctype: str, entry: str, when: datetime, amount: float, attempt: int = 1, currency: str = "USD",
            project: str = "P-USD", **extra: Any) -> dict[str, Any]:  # fmt: skip
    data = {"entry_id": entry, "consultant_id": "C-1", "project_code": project, "work_date": "2026-10-30",
            "hours": 8.0, "amount": amount, "currency": currency, "attempt": attempt, "idempotency_key": f"ik-{entry}",
            **extra}  # fmt: skip
    if ctype == "time_entry.posted":
        data.setdefault("erp_document_id", f"JE-{entry}-{attempt}")
    if ctype == "time_entry.post_failed":
        data.update({"error_code": "X", "error_category": "PERIOD_CLOSED"})
        data.setdefault("retryable", True)
    return ce(ctype, when, data)


def project(code: str, currency: str, billing: str = "time_and_materials") -> dict[str, Any]:
    data = {"project_code": code, "customer_id": f"CU-{code}", "status": "active", "billing_type": billing,
            "currency": currency, "crm_opportunity_id": f"OP-{code}"}  # fmt: skip
    return ce("project.created", MONDAY - timedelta(days=30), data)


def approved(entries: list[str], when: datetime) -> dict[str, Any]:
    data = {"timesheet_id": f"TS-{next(_ids)}", "consultant_id": "C-1", "period_start": "2026-10-26",
            "period_end": "2026-11-01", "entry_ids": entries, "total_hours": 8.0 * len(entries)}  # fmt: skip
    return ce("timesheet.approved", when, data)


def send(collector: ThreadedCollector, tokens: Tokens, events: list[dict[str, Any]], *, deliveries: int = 1) -> None:
    """Through the real ingest path in batches; `deliveries` > 1 re-sends every event (nothing may count twice)."""
    headers = {**auth(tokens["ingest"]), "Content-Type": "application/cloudevents-batch+json"}
    for _ in range(deliveries):
        for i in range(0, len(events), 500):
            r = httpx.post(f"{collector.url}/v1/events", json=events[i : i + 500], headers=headers, timeout=60)
            assert r.status_code in (200, 207) and r.json()["rejected"] == 0, r.text


def overall(warehouse: Client, name: str, window: Window) -> Any:
    """One SLI, overall, over an explicit window."""
    return Evaluator(load_slos()).evaluate(Db(warehouse), window=window, names=[name])[name][""]


H = timedelta(hours=1)


def firm_log() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two batches: the second re-delivers part of the first (same source and id)."""
    e1_posted = posting("time_entry.posted", "E1", MONDAY + H + timedelta(seconds=10), 100.0)
    e1_requested = posting("time_entry.post_requested", "E1", MONDAY + H, 100.0)
    batch = [
        project("P-USD", "USD"),
        project("P-EUR", "EUR"),
        approved(["E1", "E2", "E3"], MONDAY),
        e1_posted,  # out of order: the outcome arrives before the request
        e1_requested,
        e1_posted,  # duplicate inside the batch
        posting("time_entry.post_requested", "E2", MONDAY + 2 * H, 200.0),
        posting("time_entry.post_failed", "E2", MONDAY + 2 * H + timedelta(seconds=5), 200.0),
        posting("time_entry.post_requested", "E2", MONDAY + 2 * H + timedelta(minutes=4), 200.0, attempt=2),
        posting("time_entry.posted", "E2", MONDAY + 2 * H + timedelta(minutes=5), 200.0, attempt=2),
        # E3 fails for good and stays stuck: blocked since Monday 12:00
        posting("time_entry.post_requested", "E3", MONDAY + 3 * H, 300.0),
        posting("time_entry.post_failed", "E3", MONDAY + 3 * H + timedelta(seconds=5), 300.0, retryable=False),
        # E4's first attempt is before the window
        posting("time_entry.post_requested", "E4", datetime(2026, 10, 30, tzinfo=UTC), 10.0),
        posting("time_entry.posted", "E4", datetime(2026, 10, 30, 0, 0, 5, tzinfo=UTC), 10.0),
        # E8 in EUR, approved a day later, posted fine; E6 is posted and then superseded by E7
        approved(["E8", "E6"], MONDAY + 24 * H),
        posting("time_entry.post_requested", "E8", MONDAY + 25 * H, 50.0, currency="EUR", project="P-EUR"),
        posting(
            "time_entry.posted", "E8", MONDAY + 25 * H + timedelta(seconds=3), 50.0, currency="EUR", project="P-EUR"
        ),  # fmt: skip
        posting("time_entry.post_requested", "E6", MONDAY + 25 * H, 70.0),
        posting("time_entry.posted", "E6", MONDAY + 25 * H + timedelta(seconds=3), 70.0),
        ce(
            "time_entry.adjusted",
            MONDAY + 48 * H,
            {
                "entry_id": "E7",
                "supersedes_entry_id": "E6",
                "work_date": "2026-10-30",
                "delta_hours": 1.0,
                "reason": "correction",
            },
        ),  # fmt: skip
        # E1 reaches a ready invoice on Wednesday 09:00 (2 business days after approval)
        ce(
            "invoice.ready",
            MONDAY + 48 * H,
            {
                "invoice_id": "INV-1",
                "project_code": "P-USD",
                "amount": 100.0,
                "currency": "USD",
                "entry_ids": ["E1"],
                "period": "2026-11",
            },
        ),  # fmt: skip
        # A hire applied in 2 h (good), a termination applied in 5 h (late: 4 h limit), a move not yet applied
        ce(
            "worker.changed",
            MONDAY,
            {
                "consultant_id": "C-1",
                "change_id": "W1",
                "change_type": "hire",
                "effective_date": "2026-11-02",
                "entered_at": "2026-11-02T09:00:00Z",
            },
        ),  # fmt: skip
        ce("worker.synced", MONDAY + 2 * H, {"consultant_id": "C-1", "change_id": "W1", "target_system": "psa"}),
        ce(
            "worker.changed",
            MONDAY,
            {
                "consultant_id": "C-2",
                "change_id": "W2",
                "change_type": "termination",
                "effective_date": "2026-11-02",
                "entered_at": "2026-11-02T09:00:00Z",
            },
        ),  # fmt: skip
        ce("worker.synced", MONDAY + 5 * H, {"consultant_id": "C-2", "change_id": "W2", "target_system": "psa"}),
        ce(
            "worker.changed",
            AS_OF - 2 * H,
            {
                "consultant_id": "C-3",
                "change_id": "W3",
                "change_type": "cost_center",
                "effective_date": "2026-11-10",
                "entered_at": "2026-11-10T07:00:00Z",
            },
        ),  # fmt: skip
        # Exceptions: P1 resolved within 4 business hours (met); P2 opened Friday evening, due Monday 20:00,
        # resolved Tuesday (missed); P3 still open
        ce(
            "exception.opened",
            MONDAY + H,
            {"exception_id": "X1", "category": "c", "severity": "P1", "object_type": "time_entry", "object_id": "E3"},
        ),  # fmt: skip
        ce(
            "exception.resolved",
            MONDAY + 3 * H,
            {
                "exception_id": "X1",
                "category": "c",
                "severity": "P1",
                "object_type": "time_entry",
                "object_id": "E3",
                "resolution": "r",
                "resolved_by": "ops",
            },
        ),  # fmt: skip
        ce(
            "exception.opened",
            datetime(2026, 11, 6, 20, tzinfo=UTC),
            {"exception_id": "X2", "category": "c", "severity": "P2", "object_type": "invoice", "object_id": "INV-1"},
        ),  # fmt: skip
        ce(
            "exception.resolved",
            datetime(2026, 11, 10, 1, tzinfo=UTC),
            {
                "exception_id": "X2",
                "category": "c",
                "severity": "P2",
                "object_type": "invoice",
                "object_id": "INV-1",
                "resolution": "r",
                "resolved_by": "ops",
            },
        ),  # fmt: skip
        ce(
            "exception.opened",
            MONDAY,
            {"exception_id": "X3", "category": "c", "severity": "P3", "object_type": "time_entry", "object_id": "E3"},
        ),  # fmt: skip
        # Dead letters: one waiting for 5 h, one replayed
        ce(
            "message.dead_lettered",
            AS_OF - 5 * H,
            {"message_id": "M1", "original_event_id": "x", "queue": "q-time", "reason": "r", "attempt_count": 3},
            flow="psa-to-erp-time",
        ),  # fmt: skip
        ce(
            "message.dead_lettered",
            AS_OF - 9 * H,
            {"message_id": "M2", "original_event_id": "y", "queue": "q-time", "reason": "r", "attempt_count": 3},
            flow="psa-to-erp-time",
        ),  # fmt: skip
        ce(
            "message.replayed",
            AS_OF - 8 * H,
            {
                "message_id": "M2",
                "original_event_id": "y",
                "queue": "q-time",
                "reason": "r",
                "attempt_count": 3,
                "new_message_id": "M2b",
            },
            flow="psa-to-erp-time",
        ),  # fmt: skip
    ]
    redelivery = [e1_posted, e1_requested, batch[6], batch[7]]
    return batch, redelivery


@pytest.fixture
def sent(collector: ThreadedCollector, tokens: Tokens) -> None:
    first, again = firm_log()
    headers = {**auth(tokens["ingest"]), "Content-Type": "application/cloudevents-batch+json"}
    for batch in (first, again):
        r = httpx.post(f"{collector.url}/v1/events", json=batch, headers=headers, timeout=30)
        assert r.status_code in (200, 207), r.text
        assert r.json()["rejected"] == 0, r.text


@pytest.fixture
def results(sent: None, warehouse: Client, settings: Settings) -> dict[str, Any]:
    # As the collector evaluates: two queries at a time, on a spare client.
    evaluated = Evaluator(load_slos()).evaluate(Db(warehouse, spares=[connect(settings)]), window=WINDOW)
    return {name: r[""] for name, r in evaluated.items()}


@pytest.mark.parametrize("by", [None, "tenant", "project", "flow"])
def test_queries_side_by_side_give_what_one_at_a_time_gives(
    sent: None, warehouse: Client, settings: Settings, by: str | None
) -> None:
    evaluator = Evaluator(load_slos())
    alone = evaluator.evaluate(Db(warehouse), window=WINDOW, by=by)
    side_by_side = evaluator.evaluate(Db(warehouse, spares=[connect(settings)]), window=WINDOW, by=by)
    assert side_by_side == alone
    assert sum(len(results) for results in alone.values()) >= 5  # something to compare


class _Counting(Db):
    queries = 0

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.queries += 1
        return super().rows(sql, parameters)


def test_by_flow_an_sli_of_one_flow_is_its_overall_result_not_measured_again(sent: None, warehouse: Client) -> None:
    # The snapshot job evaluates overall, then by flow: given the overall results, the SLIs of one flow (the
    # entry SLIs, most of the work) are not measured a second time, and the results are what measuring gives.
    evaluator = Evaluator(load_slos())
    overall = evaluator.evaluate(Db(warehouse), window=WINDOW)
    measuring, reusing = _Counting(warehouse), _Counting(warehouse)
    measured = evaluator.evaluate(measuring, window=WINDOW, by="flow")
    reused = evaluator.evaluate(reusing, window=WINDOW, by="flow", overall=overall)
    assert reused == measured
    # Coverage is an overall figure (the snapshot keeps it once, overall), so the per-flow result carries none.
    first_pass = replace(overall["time_posting_first_pass"][""], coverage=None)
    assert reused["time_posting_first_pass"] == {"psa-to-erp-time": first_pass}
    single = [name for name in measured if evaluator.registry[name].definition.flow]
    assert len(single) >= 6 and reusing.queries <= measuring.queries - len(single)


def test_queries_side_by_side_share_the_engine_threads(warehouse: Client, settings: Settings) -> None:
    def threads(db: Db, _: int) -> tuple[int, int]:
        row = db.rows("SELECT getSetting('max_threads') AS t, getSetting('max_final_threads') AS f")[0]
        return int(row["t"]), int(row["f"])

    engine = int(warehouse.command("SELECT getSetting('max_threads')"))  # type: ignore[arg-type]
    share = max(1, engine // 2)
    assert Db(warehouse, spares=[connect(settings)]).map(threads, [0, 1]) == [(share, share)] * 2
    assert Db(warehouse).map(threads, [0, 1])[0][0] == engine


def test_first_pass_counts_each_entry_once_in_any_order(results: dict[str, Any]) -> None:
    r = results["time_posting_first_pass"]
    # E1, E8, E6 ok; E2 failed then posted; E3 failed; E4 before the window. E1 was delivered three times.
    assert (r.good, r.total) == (3, 5)
    assert r.value == pytest.approx(3 / 5)
    assert r.burn_rates["3d"] is None or r.burn_rates["3d"] >= 0


def test_eventual_counts_the_stuck_entry_as_failed(results: dict[str, Any]) -> None:
    r = results["time_posting_eventual"]
    # approved Monday: E1, E2 posted within 24 h; E3 stuck. Tuesday: E8, E6 posted; E7 (adjustment) never posted.
    assert (r.good, r.total) == (4, 6)


def test_duplicate_deliveries_are_not_duplicate_submissions(results: dict[str, Any]) -> None:
    r = results["duplicate_submission_rate"]
    assert r.total == 4 and r.details["duplicated"] == 0  # E1, E2, E8, E6 in the window; E1 delivered 3 times


def test_unbilled_wip_keeps_currencies_apart_and_drops_superseded_and_invoiced(results: dict[str, Any]) -> None:
    d = results["unbilled_wip_at_risk"].details
    # E1 is on a ready invoice, E6 superseded; E2 and E3 (USD) are 8 days old, E8 (EUR) 7 days, E7 has no amount
    assert d["by_currency_and_age"]["USD"] == {"0-7": 0.0, "8-30": 500.0, "31-60": 0.0, ">60": 0.0}
    assert d["by_currency_and_age"]["EUR"]["0-7"] == 50.0
    assert d["at_risk"]["USD"] == 300.0  # E3 blocked
    assert d["blocked_over_5_days"]["USD"] == 300.0
    assert results["unbilled_wip_at_risk"].value == 1


def test_invoice_readiness_counts_open_entries_at_their_age(results: dict[str, Any]) -> None:
    r = results["invoice_readiness_lag"]
    # billable approved entries not superseded: E1 (ready after 2.0 bd), E2 and E3 (open, 6.0 bd), E8 (open,
    # 5.0 bd). E7's adjustment names no project, so it is not known to be billable; E6 is superseded.
    assert r.total == 4
    assert r.good == 1
    assert r.value == pytest.approx(6.0)
    assert r.details["p50"] == pytest.approx(5.0)
    assert r.details["not_ready"] == 3


def test_billing_latency_judges_posted_entries_when_posted_and_stuck_ones_when_approved(
    results: dict[str, Any], warehouse: Client
) -> None:
    r = results["billing_sync_latency"]
    # posted in the window: E1 (3,610 s), E2 (7,500 s), E8 and E6 (3,603 s each; E6 superseded after posting);
    # still open and past 15 min: E3 (blocked, approved Monday, 8 days old) and E7 (approved Wednesday, 6 days).
    # E4 was never approved. None was posted within 15 min.
    assert (r.good, r.total) == (0, 6)
    assert r.value == pytest.approx(8 * 86400)  # the p95 is the oldest stuck entry at its age
    assert (r.details["posted"], r.details["not_posted_yet"]) == (4, 2)
    assert r.details["completed_p95"] == pytest.approx(7500)
    assert r.details["approval_to_posted_p50"] == pytest.approx(3603)
    # From Tuesday: E8 and E6 were posted in it; E7 was approved in it and is stuck; E3 was approved before it,
    # and E1 and E2 were posted before it.
    later = overall(warehouse, "billing_sync_latency", Window(datetime(2026, 11, 3, tzinfo=UTC), AS_OF))
    assert (later.good, later.total) == (0, 3)
    assert later.value == pytest.approx(6 * 86400)
    assert later.window_counts["3d"] == {"judged": 0, "bad": 0}  # nothing posted, or approved and stuck, since Friday


def test_resource_plan_freshness_applies_the_termination_limit(results: dict[str, Any]) -> None:
    r = results["resource_plan_freshness"]
    assert (r.good, r.total) == (1, 2)  # W3 is not judged yet (2 h old)
    assert r.details["oldest_unapplied_hours"] == pytest.approx(2.0)


def test_exception_sla_uses_business_time(results: dict[str, Any]) -> None:
    r = results["exception_sla_compliance"]
    # X1 due Mon 21:00, met; X2 due Mon 9 Nov 20:00, resolved Tue 01:00, missed; X3 (P3) due Thu 5 Nov, open
    assert (r.good, r.total) == (1, 3)
    assert r.details["open"] == 1 and r.details["open_breaches"] == 1


def test_dead_letter_backlog_is_the_oldest_unreplayed(results: dict[str, Any]) -> None:
    r = results["dead_letter_backlog"]
    assert r.value == pytest.approx(5.0)
    assert r.details["queues"] == {"q-time": {"count": 1, "oldest_hours": pytest.approx(5.0)}}
    assert r.status == "breach"  # older than 4 h
