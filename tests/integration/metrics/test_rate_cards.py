"""Rate-card exposure on a hand-built log: an assignment is covered by its customer's negotiated card when the
customer has any, otherwise by its entity's standard card, and only by a card effective as of the window's end.

Events go through the real collector, so the state is built by the warehouse's own views."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slo import load_slos
from metrics.windows import Window
from tests.conftest import ThreadedCollector, Tokens, auth

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
WINDOW = Window(AS_OF - timedelta(days=30), AS_OF)
NAME = "rate_card_exposure"
_ids = itertools.count(1)


def ce(ctype: str, tenant: str, data: dict[str, Any], source: str = "psa", target: str = "psa") -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"rc-{next(_ids)}", "source": f"/{source}/test/{tenant}", "type": ctype,
            "subject": "s", "time": "2026-10-01T09:00:00Z", "tenantid": tenant, "sourcesystem": source,
            "targetsystem": target, "data": data}  # fmt: skip


def project(code: str, tenant: str, customer: str) -> dict[str, Any]:
    data = {"project_code": code, "customer_id": customer, "status": "active", "billing_type": "time_and_materials",
            "currency": "USD", "crm_opportunity_id": f"OP-{code}"}  # fmt: skip
    return ce("project.created", tenant, data, source="crm")


def card(card_id: str, tenant: str, customer: str, end: str) -> dict[str, Any]:
    data = {"rate_card_id": card_id, "role": "consultant", "bill_rate": 150.0, "currency": "USD",
            "start_date": "2026-01-01", "end_date": end, "customer_id": customer}  # fmt: skip
    return ce("rate_card.changed", tenant, data)


def assignment(assignment_id: str, tenant: str, code: str) -> dict[str, Any]:
    # 160 planned hours over the four weeks from 1 November: 40 a week, all 14 days ahead of AS_OF inside it.
    data = {"assignment_id": assignment_id, "consultant_id": f"C-{assignment_id}", "project_code": code,
            "role": "consultant", "start_date": "2026-11-01", "end_date": "2026-11-29", "planned_hours": 160.0,
            "booking_type": "hard", "status": "CONFIRMED"}  # fmt: skip
    return ce("assignment.changed", tenant, data, target="erp")


@pytest.fixture
def exposure(collector: ThreadedCollector, tokens: Tokens, warehouse: Client) -> Any:
    events = [
        project("P-A", "acme-us", "CU-A"), card("RC-A", "acme-us", "CU-A", "2027-12-31"),  # its own card: covered
        project("P-B", "acme-us", "CU-B"), card("RC-B", "acme-us", "CU-B", "2026-11-01"),  # own card lapsed
        project("P-C", "acme-us", "CU-C"), card("RC-US", "acme-us", "", "2027-12-31"),  # no card: the standard
        project("P-D", "acme-uk", "CU-D"), card("RC-UK", "acme-uk", "", "2026-11-05"),  # standard lapsed last week
        card("RC-E", "acme-us", "CU-E", "2026-12-05"),  # a customer with no assignment, expiring within 30 days
        assignment("A1", "acme-us", "P-A"), assignment("A2", "acme-us", "P-B"),
        assignment("A3", "acme-us", "P-C"), assignment("A4", "acme-uk", "P-D"),
    ]  # fmt: skip
    headers = {**auth(tokens["ingest"]), "Content-Type": "application/cloudevents-batch+json"}
    r = httpx.post(f"{collector.url}/v1/events", json=events, headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["rejected"] == 0, r.text
    return Evaluator(load_slos()).registry[NAME]


def test_a_customer_card_wins_over_the_standard_and_only_effective_cards_cover(
    exposure: Any, warehouse: Client
) -> None:
    evaluated = Evaluator(load_slos()).evaluate(Db(warehouse), window=WINDOW, names=[NAME])[NAME]
    r = evaluated[""]
    # A2 (its customer's card lapsed; the standard card does not stand in) and A4 (no effective standard card):
    # 40 hours a week for the next 14 days each.
    assert r.value == pytest.approx(160.0)
    assert r.details["assignments_without_card"] == 2
    assert r.details["cards_expiring_30d"] == ["RC-E"]
    assert {t["project"] for t in r.details["top_projects"]} == {"P-B", "P-D"}
    by_customer = Evaluator(load_slos()).evaluate(Db(warehouse), window=WINDOW, names=[NAME], by="customer")[NAME]
    assert {k: v.value for k, v in by_customer.items() if v.value} == {"CU-B": 80.0, "CU-D": 80.0}
    records = exposure.records(Db(warehouse), WINDOW, 10)
    assert sorted(x["key"] for x in records) == ["A2", "A4"]
