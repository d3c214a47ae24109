"""The exception queue against its SLAs, as Prometheus series and as alerts: cases written into the real warehouse,
read by the queue's collector (each owner team at 0 from the start, causes bounded), the collector's /metrics, and
the default rules evaluated over the real signals: a P1 past due pages its owner team, a P3 past due opens a ticket,
a case that used 75% of its SLA opens an at-risk ticket, each with the count, the money and the owner."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from alerts.config import load_config
from alerts.evaluate import FIRING, PENDING, Alert, evaluate
from alerts.promexport import export_rules
from alerts.warehouse_signals import WarehouseSignals
from cases.calendar import CalendarSpec
from cases.metrics import CaseMetrics, read_open_cases, sla_standing
from cases.model import Case, case_id
from cases.store import write_cases
from tests.conftest import ThreadedCollector, Tokens, auth

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)  # a Wednesday


def case(cause: str, key: str, severity: str, owner: str, opened: datetime, due: datetime, **extra: object) -> Case:
    kind = cause.partition(":")[0]
    values: dict[str, object] = {
        "case_id": case_id(cause, key), "kind": kind, "cause": cause, "business_key": key, "severity": severity,
        "systems": ("erp",), "flow": "psa-to-erp-time", "tenant": "acme-us", "project": "P-1", "consultant": "C1",
        "money": {"USD": 300.0}, "detail": "", "occurrences": 1, "opened_at": opened, "last_seen": opened,
        "due_at": due, "owner_team": owner, "updated_at": opened,
    }  # fmt: skip
    values.update(extra)
    return Case(**values)  # type: ignore[arg-type]


def queue() -> list[Case]:
    tuesday = datetime(2026, 11, 10, tzinfo=UTC)
    return [
        # a P1 dead letter due Tuesday 14:00: past due, pages integrations
        case("dead_letter", "M1", "P1", "integrations", tuesday + timedelta(hours=10), tuesday + timedelta(hours=14)),
        # a P2 opened Tuesday 16:00, due Wednesday 16:00: 20 of 24 business hours used, at risk
        case("erp_rejection:PERIOD_CLOSED", "E1", "P2", "finance-ops", tuesday + timedelta(hours=16),
             tuesday + timedelta(hours=40), money={"EUR": 50.0}, state="acknowledged"),  # fmt: skip
        # a P2 opened this morning: a quarter used, neither
        case("erp_rejection:PERIOD_CLOSED", "E2", "P2", "finance-ops", NOW - timedelta(hours=6),
             NOW + timedelta(hours=18)),  # fmt: skip
        # a P3 due last Thursday: past due, a ticket for project-operations
        case("unknown_billing_type", "P-NEW", "P3", "project-operations", datetime(2026, 11, 2, tzinfo=UTC),
             datetime(2026, 11, 5, tzinfo=UTC), money={"USD": 400.0}),  # fmt: skip
        # closed in the last 30 days, one by its due time and one after it
        case("erp_rejection:PERIOD_CLOSED", "E3", "P2", "finance-ops", datetime(2026, 11, 2, tzinfo=UTC),
             datetime(2026, 11, 3, tzinfo=UTC), state="resolved", resolved_at=datetime(2026, 11, 2, 9, tzinfo=UTC)),
        case("erp_rejection:PERIOD_CLOSED", "E4", "P2", "finance-ops", datetime(2026, 11, 2, tzinfo=UTC),
             datetime(2026, 11, 3, tzinfo=UTC), state="auto_resolved", resolved_at=datetime(2026, 11, 4, tzinfo=UTC)),
    ]  # fmt: skip


def test_series_per_owner_with_zeros_for_known_teams(warehouse: Client) -> None:
    write_cases(warehouse, queue())
    registry = CollectorRegistry()
    registry.register(CaseMetrics(lambda fn: fn(warehouse), max_label_values=20, clock=lambda: NOW))
    get = registry.get_sample_value
    assert get("syncwatch_exception_cases_open", {"owner": "integrations", "cause": "dead_letter",
                                                  "state": "open"}) == 1  # fmt: skip
    finance = {"owner": "finance-ops", "cause": "erp_rejection:PERIOD_CLOSED"}
    assert get("syncwatch_exception_cases_open", {**finance, "state": "acknowledged"}) == 1
    assert get("syncwatch_exception_cases_open", {**finance, "state": "open"}) == 1
    # a known team with nothing waiting in a state still has its series, at 0
    assert get("syncwatch_exception_cases_open", {"owner": "integrations", "cause": "", "state": "waiting"}) == 0
    assert get("syncwatch_exception_cases_breaching", {"owner": "integrations"}) == 1
    assert get("syncwatch_exception_cases_breaching", {"owner": "project-operations"}) == 1
    assert get("syncwatch_exception_cases_breaching", {"owner": "finance-ops"}) == 0
    assert get("syncwatch_exception_cases_at_risk", {"owner": "finance-ops"}) == 1
    assert get("syncwatch_exception_cases_at_risk", {"owner": "integrations"}) == 0
    assert get("syncwatch_exception_sla_attainment_ratio", {"owner": "finance-ops"}) == 0.5
    assert get("syncwatch_exception_cases_closed_30d", {"owner": "finance-ops"}) == 2
    assert get("syncwatch_exception_cases_closed_30d", {"owner": "integrations"}) == 0
    assert get("syncwatch_exception_sla_attainment_ratio", {"owner": "integrations"}) is None  # none closed


def test_causes_are_bounded(warehouse: Client) -> None:
    opened = NOW - timedelta(hours=1)
    write_cases(warehouse, [case(f"erp_rejection:CODE_{i}", f"E{i}", "P2", "finance-ops", opened,
                                 opened + timedelta(days=1)) for i in range(5)])  # fmt: skip
    registry = CollectorRegistry()
    registry.register(CaseMetrics(lambda fn: fn(warehouse), max_label_values=2, clock=lambda: NOW))
    causes = {s.labels["cause"] for m in registry.collect() if m.name == "syncwatch_exception_cases_open"
              for s in m.samples if s.labels["owner"] == "finance-ops" and s.labels["state"] == "open"}  # fmt: skip
    assert causes == {"erp_rejection:CODE_0", "erp_rejection:CODE_1", "other"}
    assert registry.get_sample_value("syncwatch_exception_cases_open", {"owner": "finance-ops", "cause": "other",
                                                                        "state": "open"}) == 3  # fmt: skip


def test_the_collector_serves_the_series(collector: ThreadedCollector, warehouse: Client, tokens: Tokens) -> None:
    write_cases(warehouse, queue())
    r = httpx.get(f"{collector.url}/metrics", headers=auth(tokens["read"]), timeout=30)
    assert r.status_code == 200, r.text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(r.text) for s in f.samples}  # fmt: skip
    # the real clock is weeks past every due time here: each case not closed is breaching
    assert samples[("syncwatch_exception_cases_breaching", (("owner", "finance-ops"),))] == 2
    assert samples[("syncwatch_exception_cases_breaching", (("owner", "integrations"),))] == 1
    # the two closed cases closed over 30 days before the real clock: no attainment to tell
    assert samples[("syncwatch_exception_cases_closed_30d", (("owner", "finance-ops"),))] == 0
    assert ("syncwatch_exception_sla_attainment_ratio", (("owner", "finance-ops"),)) not in samples


def test_default_rules_page_ticket_and_warn_per_owner_team(warehouse: Client) -> None:
    write_cases(warehouse, queue())
    config = load_config()
    signals = WarehouseSignals(warehouse)
    alerts: dict[str, Alert] = {}
    evaluate(config, [], signals.probe_state(NOW), NOW, alerts)
    later = NOW + timedelta(minutes=6)  # past the tickets' `for: 5m`
    evaluate(config, [], signals.probe_state(later), later, alerts)
    mine = {(a.rule, a.labels.get("owner_team")): a for a in alerts.values() if a.rule.startswith("Exception")
            and a.rule != "ExceptionSlaBreached"}  # fmt: skip
    assert set(mine) == {
        ("ExceptionCaseSlaBreached", "integrations"),
        ("ExceptionCaseSlaBreachedTicket", "project-operations"),
        ("ExceptionSlaAtRisk", "finance-ops"),
    }
    page = mine[("ExceptionCaseSlaBreached", "integrations")]
    assert (page.state, page.severity, page.value) == (FIRING, "critical", 1.0)
    assert page.annotations["summary"].startswith("1 P1 exception cases of integrations are past their SLA (USD 300")
    assert case_id("dead_letter", "M1") in page.annotations["summary"]
    ticket = mine[("ExceptionCaseSlaBreachedTicket", "project-operations")]
    assert (ticket.state, ticket.severity) == (FIRING, "warning") and "USD 400" in ticket.annotations["summary"]
    risk = mine[("ExceptionSlaAtRisk", "finance-ops")]
    assert (risk.state, risk.severity) == (FIRING, "warning")
    assert risk.annotations["summary"].startswith("1 exception cases of finance-ops have used 75% of their SLA (EUR 50")

    # the at-risk case resolved: its alert stops breaching; a P1 breach is pending nowhere, it fires at once
    resolved = replace(queue()[1], state="resolved", resolved_at=later, updated_at=later)
    write_cases(warehouse, [resolved])
    after = later + timedelta(minutes=1)
    transitions = evaluate(config, [], signals.probe_state(after), after, alerts)
    assert any(t.alert.rule == "ExceptionSlaAtRisk" and t.to_state != FIRING for t in transitions)
    assert all(a.state != PENDING for a in alerts.values() if a.rule == "ExceptionCaseSlaBreached")


def test_rules_are_exported_for_prometheus() -> None:
    exported = {r["alert"]: r for g in export_rules(load_config())["groups"] for r in g["rules"]}
    for name in ("ExceptionSlaAtRisk", "ExceptionCaseSlaBreached", "ExceptionCaseSlaBreachedTicket"):
        assert exported[name]["expr"] == (
            f'max without (instance, job) (syncwatch_alert_rule_breaching{{alertname="{name}"}}) == 1'
        )
    assert exported["ExceptionCaseSlaBreached"]["labels"]["severity"] == "critical"
    assert exported["ExceptionSlaAtRisk"]["labels"]["severity"] == "warning"
    assert "owner_team" not in exported["ExceptionSlaAtRisk"]["labels"]  # the evaluator's label, not the rule's


def test_sla_used_counts_on_the_tenants_calendar(warehouse: Client) -> None:
    write_cases(warehouse, queue())
    (e1,) = [c for c in read_open_cases(warehouse) if c.business_key == "E1"]
    # on the default calendar E1 used 20 of its 24 business hours by Wednesday noon: at risk
    assert sla_standing([e1], NOW).at_risk == [e1]
    # on a 09:00-17:00 calendar opened Tuesday 16:00 and due (in the stored due time) Wednesday 16:00, it used
    # 1 + 3 of 8 working hours by Wednesday noon: not at risk
    office = CalendarSpec(hours="09:00-17:00").build()
    assert e1.sla_used(NOW, office) == pytest.approx(0.5)
    assert sla_standing([e1], NOW, lambda tenant: office).at_risk == []
